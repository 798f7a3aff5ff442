"""Secure links to a customer's case: what a customer follows to see progress and write privately.

A link carries the conversation's id signed with the installation's secret
key (a salt of its own), so it cannot be guessed or altered; it works
without an account, for as long as the case exists.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from hubbub.care.models import Conversation

SALT = "hubbub.care.case-link"


def token_for(conversation: Conversation) -> str:
    """The same token every time for a conversation (no timestamp): one link per case."""
    return signing.Signer(salt=SALT).sign_object(
        {"c": conversation.pk, "w": conversation.workspace_id}
    )


def link_for(conversation: Conversation) -> str:
    path = reverse("care:case", args=[token_for(conversation)])
    return f"{settings.HUBBUB_BASE_URL.rstrip('/')}{path}"


def conversation_for(token: str) -> Conversation | None:
    """The conversation a token names, or None for a forged, altered or stale one."""
    try:
        data = signing.Signer(salt=SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    conversation_id, workspace_id = data.get("c"), data.get("w")
    if not isinstance(conversation_id, int) or not isinstance(workspace_id, int):
        return None
    return (
        Conversation.objects.select_related("workspace", "assignee__profile")
        .filter(pk=conversation_id, workspace_id=workspace_id)
        .first()
    )
