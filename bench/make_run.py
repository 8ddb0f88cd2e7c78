"""Benchmark of ``make run`` on a fresh clone: seconds from ``git clone`` to a served page.

    python3 bench/make_run.py                    # clones this repository's HEAD
    python3 bench/make_run.py --source /path/to/repo --keep

Clones ``--source`` (default: the repository this script is in) into a temporary
directory, runs ``make run`` there with a free port, timestamps every line of its output
and polls ``/staff/login/`` until it answers 200. It prints the time of each phase

- clone:    ``git clone`` (local, so close to nothing);
- install:  ``python -m venv`` and ``pip install`` (the Makefile's install target);
- migrate:  ``manage.py migrate`` on a new SQLite database;
- seed:     ``manage.py seed --env dev``;
- serve:    ``runserver`` starting until the first page answers 200;

the total, the CPU time (user + system) of the processes ``make run`` finished (the
install, migrate and seed; the server's own is left out), the load average, and how many
lines ``make run`` printed. Wall time on a shared machine follows its load; CPU time
much less. Then it stops the server (the process group it started) and removes the
clone unless ``--keep``. Standard library only, so it runs before any virtualenv
exists. See bench/README.md.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 120.0  # seconds from clone to a served page (issue 12)

# The first line make prints for each phase (make echoes each recipe line it runs).
PHASE_MARKERS = (
    ("install", re.compile(r"Creating \.venv|pip install")),
    ("migrate", re.compile(r"manage\.py migrate")),
    ("seed", re.compile(r"manage\.py seed")),
    ("serve", re.compile(r"manage\.py runserver")),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(ROOT), help="repository to clone (default: this one)")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    parser.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    parser.add_argument("--show-output", action="store_true", help="echo make's output as it comes")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="make-run-"))
    clone = workdir / "academy"
    port = free_port()
    url = f"http://127.0.0.1:{port}/staff/login/"
    marks: dict[str, float] = {}
    lines: list[tuple[float, str]] = []

    started = time.monotonic()
    subprocess.run(["git", "clone", "--quiet", args.source, str(clone)], check=True)
    marks["clone"] = started
    marks["install"] = time.monotonic()
    env = {**os.environ, "PORT": str(port)}
    env.pop("DATABASE_URL", None)  # the newcomer's default: SQLite in var/
    env.pop("VIRTUAL_ENV", None)
    make = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, stopped as one below
    )

    def read_output():
        for line in make.stdout:
            now = time.monotonic()
            lines.append((now, line.rstrip("\n")))
            if args.show_output:
                print(f"{now - started:7.1f}  {line}", end="", flush=True)
            for phase, pattern in PHASE_MARKERS:
                if phase not in marks and pattern.search(line):
                    marks[phase] = now
                    break

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    served_at = None
    try:
        while time.monotonic() - started < args.timeout:
            if make.poll() is not None:
                break
            if "serve" in marks and page_served(url):
                served_at = time.monotonic()
                break
            time.sleep(0.2)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            try:
                make.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
        reader.join(timeout=5)

    if served_at is None:
        print(f"no page served (make exited {make.returncode}); last lines:", file=sys.stderr)
        for _when, line in lines[-30:]:
            print(f"  {line}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        return 1

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    order = ["clone", "install", "migrate", "seed", "serve"]
    boundaries = [marks.get(phase) for phase in order] + [served_at]
    print(f"make run on a fresh clone of {args.source}")
    for index, phase in enumerate(order):
        begin = boundaries[index]
        end = next((mark for mark in boundaries[index + 1 :] if mark is not None), served_at)
        print(f"  {phase:<8} {end - begin:7.1f} s" if begin is not None else f"  {phase:<8}       -")
    total = served_at - started
    verdict = "within" if total <= TARGET else "over"
    print(f"  {'total':<8} {total:7.1f} s  ({verdict} the {TARGET:.0f} s target)")
    print(f"  cpu      {usage.ru_utime + usage.ru_stime:7.1f} s  (user + system, install to seed)")
    print(f"  load     {' '.join(f'{figure:.1f}' for figure in os.getloadavg())}  (1, 5, 15 min)")
    print(f"  output   {len(lines)} lines from make run")
    if args.keep:
        print(f"  clone kept in {clone}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
