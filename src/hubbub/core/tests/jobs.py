"""Running background jobs in a test, the way the worker does."""

from __future__ import annotations

from django_tasks_db.models import DBTaskResult


def run_jobs() -> None:
    """Run the queued jobs inside the test's transaction.

    (The worker command itself is exercised against a committed database in
    test_worker.py; it closes connections, which a transactional test cannot.)
    """
    for job in DBTaskResult.objects.ready():
        job.task.call(*job.args_kwargs["args"], **job.args_kwargs["kwargs"])
        job.delete()
