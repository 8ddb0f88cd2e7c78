# The project's commands. `make run` and `make test` are all a newcomer needs.
# Everything runs from .venv, created with Python 3.11 on first use and refreshed
# whenever pyproject.toml changes. `make run` and the other serving targets install
# the project's dependencies only; `make install`, `test` and `lint` add the dev tools.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
RUN_INSTALLED := $(VENV)/.installed-run
PIP_INSTALL := $(BIN)/pip install --quiet
PORT ?= 8000
BIND_ADDRESS ?= 127.0.0.1
WEB_CONCURRENCY ?= 2
WORKER_CONCURRENCY ?= 2
# both cores: each pytest-xdist worker has its own test database; a module's tests (a class's
# with classes) stay on one worker
PYTEST_ARGS ?= -q -n 2 --dist loadscope

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run migrate seed test lint schema serve worker beat start clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(RUN_INSTALLED): pyproject.toml
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PIP_INSTALL) -e .
	@touch $@

$(INSTALLED): $(RUN_INSTALLED)
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@

install: $(INSTALLED) ## create .venv and install the project with its dev tools

run: $(RUN_INSTALLED) ## the demo academy on http://127.0.0.1:$PORT (migrate, seed, serve with DEBUG=1)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed --env dev
	@echo
	@echo "Staff portal:  http://127.0.0.1:$(PORT)/staff/    Parent portal: http://127.0.0.1:$(PORT)/portal/"
	@echo "Admin:         http://127.0.0.1:$(PORT)/admin/    API docs:      http://127.0.0.1:$(PORT)/api/docs/"
	@echo
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

migrate: $(RUN_INSTALLED) ## apply migrations to the configured database
	$(BIN)/python manage.py migrate --noinput

seed: $(RUN_INSTALLED) ## load the dev demo data again (idempotent)
	DEBUG=1 $(BIN)/python manage.py seed --env dev

test: $(INSTALLED) ## the whole suite (SQLite, or DATABASE_URL / REDIS_URL when set)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff, import layers, missing migrations, OpenAPI schema
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

serve: $(RUN_INSTALLED) ## production web: collectstatic, then gunicorn on $BIND_ADDRESS:$PORT
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	exec $(BIN)/gunicorn academy.config.wsgi --bind $(BIND_ADDRESS):$(PORT) --workers $(WEB_CONCURRENCY) \
		--access-logfile - --forwarded-allow-ips "$${FORWARDED_ALLOW_IPS:-127.0.0.1}"

worker: $(RUN_INSTALLED) ## production Celery worker (needs REDIS_URL)
	exec $(BIN)/celery -A academy worker --loglevel INFO --concurrency $(WORKER_CONCURRENCY)

beat: $(RUN_INSTALLED) ## production Celery beat, the one scheduler (needs REDIS_URL)
	exec $(BIN)/celery -A academy beat --loglevel INFO --schedule var/celerybeat-schedule

start: $(INSTALLED) ## production shape on one machine: migrate, collectstatic, then web + worker + beat (honcho)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start --port $(PORT)

clean: ## remove the virtualenv, collected static files and caches (keeps var/ data)
	rm -rf $(VENV) var/staticfiles .ruff_cache .import_linter_cache academy.egg-info
