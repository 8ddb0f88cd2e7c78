"""Celery tasks of the academy app. Tasks take ids, call one service or selector,
and are safe to run twice."""

from celery import shared_task
from django.db import connection

from academy.models import Location


@shared_task(name="academy.health_check")
def health_check() -> dict:
    """Prove a worker reaches the database: answers the engine and the location count.

    ``verify_install`` and the operations runbook use it to check a deployment's
    worker end to end (broker -> worker -> database -> result backend).
    """
    return {"database": connection.vendor, "locations": Location.objects.count()}
