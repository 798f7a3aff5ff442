"""Subscribers of accounts events; registered in hubbub.core.subscribers."""

from __future__ import annotations

from hubbub.accounts.events import MemberJoined
from hubbub.accounts.tasks import send_member_joined_email
from hubbub.core.events import Published


def tell_inviter_member_joined(published: Published) -> None:
    event = published.event
    assert isinstance(event, MemberJoined)
    if event.invited_by_id is not None:
        send_member_joined_email.enqueue(event.invited_by_id, event.display_name)
