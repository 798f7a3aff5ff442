"""Background jobs of the care app. Jobs take ids, never ORM objects."""

from __future__ import annotations

from django_tasks import task

from hubbub.care import outbound


@task()
def send_message(message_id: int) -> None:
    """Send one reply or private message; retries are new jobs scheduled by the outcome."""
    outbound.deliver(message_id=message_id)
