"""Queue a Celery task so that the request which queued it returns at once.

With a broker (``REDIS_URL``) this is ``task.delay``: a worker runs the task. Without
one the tasks are eager (``CELERY_TASK_ALWAYS_EAGER``, the embedded default), and
``delay`` would run the task inside the request; a long job (a billing run) then blocks
the page for its whole length. So an eager task queued here runs in a thread of its own
instead, with its own database connection, while the page that started it polls the
job's row for progress. ``BACKGROUND_TASKS_IN_THREAD = False`` runs it inline as before
(the test suite does, so a test sees the finished job).

Queue after commit (``transaction.on_commit``): the thread reads the rows the request
wrote. A thread is not a worker: when the process stops, a job still running stops with
it and stays "running"; jobs queued here must be safe to run again (Celery tasks are).
"""

import logging
import threading

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

_threads: list[threading.Thread] = []
_lock = threading.Lock()


def _in_thread(task) -> bool:
    return bool(task.app.conf.task_always_eager) and getattr(settings, "BACKGROUND_TASKS_IN_THREAD", True)


def task_queue(task, *args) -> None:
    """Run ``task(*args)`` on a worker, or, without a broker, in a background thread."""
    if not _in_thread(task):
        task.delay(*args)
        return
    thread = threading.Thread(target=_run, args=(task, args), name=f"task {task.name}", daemon=True)
    with _lock:
        _threads[:] = [alive for alive in _threads if alive.is_alive()]
        _threads.append(thread)
    thread.start()


def _run(task, args) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:  # the job's own row records the failure; this is the thread's last word
        logger.exception("Background task %s%r failed", task.name, args)
    finally:
        connections.close_all()  # this thread's connections only


def background_tasks_wait(timeout: float | None = None) -> bool:
    """Wait for the background threads started so far; answers whether all finished.
    For tests and for a process that wants to stop cleanly."""
    with _lock:
        threads = list(_threads)
    for thread in threads:
        thread.join(timeout)
    return not any(thread.is_alive() for thread in threads)
