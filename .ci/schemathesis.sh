#!/usr/bin/env bash
# The REST API against its own OpenAPI schema, with schemathesis, on a live server:
# a throw-away PostgreSQL database, migrated and seeded with the dev demo, served by
# gunicorn on a free port of 127.0.0.1, then `schemathesis run` with each role's API token
# (parent, instructor, finance, office, admin: the least privileged first, so the others
# still find the demo's data before the admin's writes change it), two requests at a time
# (both of gunicorn's workers busy; four at a time found a deadlock that answered 500,
# since fixed and tested in tests/enrollment/test_concurrency.py). Every operation runs,
# writes included, against that database only. Any server error, undocumented status
# code or content type, or answer that does not match the schema fails the run.
#
# Usage: .ci/schemathesis.sh            (from .ci/run, or by hand; needs PostgreSQL)
#   SCHEMATHESIS_MAX_EXAMPLES=N         cases per operation and role in the fuzzing phase
#   SCHEMATHESIS_PHASES=...             schemathesis phases (examples,coverage,fuzzing)
#   SCHEMATHESIS_ROLES="admin parent"   only these roles
#   SCHEMATHESIS_WORKERS=N              concurrent requests per role (default 2)
# Reports (JUnit XML and the console output per role) go to var/schemathesis/.
set -euo pipefail

cd "$(dirname "$0")/.."

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
# CI's budget: about 3 minutes of requests on 2 cores. The coverage phase (every boundary
# case the schema defines, ~10,000 requests for the admin alone) takes 5 minutes a role:
# run it by hand with SCHEMATHESIS_PHASES=examples,coverage,fuzzing.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-6}
PHASES=${SCHEMATHESIS_PHASES:-examples,fuzzing}
ROLES=${SCHEMATHESIS_ROLES:-"parent instructor finance office admin"}
WORKERS=${SCHEMATHESIS_WORKERS:-2}
FUZZ_DB="academy_schemathesis_$(date +%s)_$$"
OUT=var/schemathesis
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# The caller's token must keep working for the whole run: rotating or revoking it is
# tested by tests/api/test_auth.py, not here.
EXCLUDE_PATHS='^/api/v1/auth/token/(rotate|revoke)/$'

SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -qc "DROP DATABASE IF EXISTS ${FUZZ_DB} WITH (FORCE)" \
        >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$OUT"
mkdir -p "$OUT"
PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:${PORT}"

# Production shape (DEBUG off) over plain http; no Redis: caches in memory, jobs in a
# background thread of the server. Throttles and login delays out of the way: the fuzzer
# sends thousands of requests a minute from one token and many wrong passwords.
unset REDIS_URL DJANGO_SETTINGS_MODULE DEBUG
export DATABASE_URL="postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${FUZZ_DB}"
export HTTPS=0 ALLOWED_HOSTS=127.0.0.1 LOG_LEVEL=WARNING
SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')
export SECRET_KEY
export API_THROTTLE_USER=1000000/min API_THROTTLE_CLIENT=1000000/min API_THROTTLE_ANON=1000000/min
export LOGIN_FREE_FAILURES=1000000 LOGIN_CLIENT_FREE_FAILURES=1000000 LOGIN_ACCOUNT_FREE_FAILURES=1000000

echo "database ${FUZZ_DB}: migrate and seed the dev demo"
psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -qc "CREATE DATABASE ${FUZZ_DB}"
DEBUG=1 .venv/bin/python manage.py migrate --noinput >"$OUT/migrate.log" 2>&1
DEBUG=1 .venv/bin/python manage.py seed --env dev >"$OUT/seed.log" 2>&1

.venv/bin/gunicorn academy.config.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --timeout 120 \
    --error-logfile "$OUT/server.log" --log-level warning >>"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do
    if curl -fsS -o /dev/null "${BASE}/api/schema/" 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
    sleep 1
done
curl -fsS -o "$OUT/schema.yaml" "${BASE}/api/schema/"
echo "server on ${BASE} (pid ${SERVER_PID})"

# One API token per role: the demo's users (README, Demo logins).
.venv/bin/python manage.py shell --no-imports -c '
from django.contrib.auth import get_user_model
from academy.services import api_token_current
for username in ("admin", "office", "finance", "instructor", "parent"):
    user = get_user_model().objects.get(username=username)
    print(username, api_token_current(user=user).key)
' >"$OUT/tokens"

failed=()
for role in $ROLES; do
    token=$(awk -v role="$role" '$1 == role {print $2}' "$OUT/tokens")
    [ -n "$token" ] || { echo "no token for ${role}" >&2; exit 1; }
    started=$(date +%s)
    status=0
    .venv/bin/schemathesis --no-color run "${BASE}/api/schema/" \
        --header "Authorization: Token ${token}" \
        --checks "$CHECKS" \
        --phases "$PHASES" \
        --max-examples "$MAX_EXAMPLES" \
        --workers "$WORKERS" \
        --seed 1 \
        --generation-database none \
        --no-shrink \
        --request-timeout 60 \
        --exclude-path-regex "$EXCLUDE_PATHS" \
        --report junit --report-junit-path "$OUT/${role}.xml" \
        >"$OUT/${role}.txt" 2>&1 || status=$?
    summary=$(grep -E '^=+ .* in [0-9.]+s =+$' "$OUT/${role}.txt" | tail -1 | tr -d '=' | xargs || true)
    echo "${role}: ${summary:-no summary} ($(($(date +%s) - started)) s)"
    if [ "$status" -ne 0 ]; then
        failed+=("$role")
        sed -n '/^=* FAILURES =*$/,/^=* SUMMARY =*$/p' "$OUT/${role}.txt" | head -200
    fi
done

if grep -q "Traceback" "$OUT/server.log"; then
    echo "the server logged tracebacks (${OUT}/server.log):"
    grep -B2 -A30 "Traceback" "$OUT/server.log" | head -100
    failed+=("server-log")
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "schemathesis: failures for ${failed[*]} (details in ${OUT}/<role>.txt)" >&2
    exit 1
fi
echo "schemathesis: no failure for ${ROLES}"
