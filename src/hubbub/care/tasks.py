"""Background jobs of the care app. Jobs take ids, never ORM objects."""

from __future__ import annotations

from django_tasks import task

from hubbub.care import outbound


@task()
def send_message(message_id: int) -> None:
    """Send one reply or private message; retries are new jobs scheduled by the outcome."""
    outbound.deliver(message_id=message_id)


@task()
def send_handoff_email(handoff_id: int, sealed_link: str) -> None:
    """Email a handoff's brief and its link to the person outside Hubbub who works it."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    from hubbub.care.models import Handoff, HandoffState
    from hubbub.core import crypto

    handoff = (
        Handoff.objects.select_related("conversation__workspace", "owner__profile")
        .filter(pk=handoff_id, state__in=HandoffState.active())
        .exclude(external_email="")
        .first()
    )
    if handoff is None:
        return  # withdrawn or done before the job ran: nothing to send
    context = {"handoff": handoff, "link": crypto.decrypt(sealed_link)}
    send_mail(
        # One line: names come from people, and a header must not be split.
        subject=" ".join(
            f"[{handoff.conversation.workspace.name}] A customer's problem for "
            f"{handoff.department_name} (case #{handoff.conversation_id})".split()
        ),
        message=render_to_string("care/email/handoff.txt", context),
        from_email=None,
        recipient_list=[handoff.external_email],
    )
