"""Secure links to a customer's case: what a customer follows to see progress and write privately.

A link carries the conversation's id signed with the installation's secret
key (a salt of its own), so it cannot be guessed or altered; it works
without an account, for as long as the case exists.
"""

from __future__ import annotations

from django.urls import reverse

from hubbub.care.models import Conversation
from hubbub.core.links import absolute_url, sign_ids, signed_ids

SALT = "hubbub.care.case-link"


def token_for(conversation: Conversation) -> str:
    """The same token every time for a conversation (no timestamp): one link per case."""
    return sign_ids({"c": conversation.pk, "w": conversation.workspace_id}, salt=SALT)


def link_for(conversation: Conversation) -> str:
    return absolute_url(reverse("care:case", args=[token_for(conversation)]))


def conversation_for(token: str) -> Conversation | None:
    """The conversation a token names, or None for a forged, altered or stale one."""
    ids = signed_ids(token, salt=SALT, keys=("c", "w"))
    if ids is None:
        return None
    return (
        Conversation.objects.select_related("workspace", "assignee__profile")
        .filter(pk=ids["c"], workspace_id=ids["w"])
        .first()
    )
