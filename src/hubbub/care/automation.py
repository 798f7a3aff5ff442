"""Careful automation: an automatic acknowledgement, opt-in, honest and rare.

A team that turns it on has every negative post or complaint of a customer
acknowledged at once with its template, signed as the team and marked as
automated (in the text the customer reads and on the timeline), at most once
per customer per day. It never pretends to be a person and never answers
twice: a post already answered, a customer acknowledged in the last day, or
a channel that cannot send, and it stays quiet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hubbub.care import audit, case_links, macros
from hubbub.care.models import (
    ActivityKind,
    Conversation,
    DeliveryState,
    Message,
    MessageKind,
    TeamSettings,
)
from hubbub.connectors import outbound as connector
from hubbub.core import clock
from hubbub.core.errors import ValidationFailed
from hubbub.listening.models import Mention

DEFAULT_TEMPLATE = (
    "Hi {customer_name}, thanks for telling us. Someone from our team will look into this shortly."
)
ONCE_PER = dt.timedelta(days=1)
VARIABLES = ("customer_name", "case_link")


def needs_acknowledging(mention: Mention) -> bool:
    return mention.sentiment == "negative" or mention.intent == "complaint"


def signature_of(settings: TeamSettings) -> str:
    return f"– {settings.team.name} (automated reply)"


def acknowledgement(settings: TeamSettings, conversation: Conversation) -> str:
    customer = conversation.greeting_name
    values = {"customer_name": customer, "case_link": case_links.link_for(conversation)}
    body = macros.fill(settings.acknowledge_template.strip() or DEFAULT_TEMPLATE, values)
    return f"{body}\n{signature_of(settings)}"


def acknowledge(pairs: Sequence[tuple[Conversation, Mention]]) -> list[Message]:
    """Queue acknowledgements for customers' latest posts that need one (caller's transaction)."""
    from hubbub.care.outbound import account_for, check_public_length, enqueue, sends

    wanted = [(c, m) for c, m in pairs if c.team_id is not None and needs_acknowledging(m)]
    if not wanted:
        return []
    teams = {
        settings.team_id: settings
        for settings in TeamSettings.objects.select_related("team").filter(
            team_id__in={c.team_id for c, _ in wanted}, auto_acknowledge=True
        )
    }
    sent = []
    for conversation, mention in wanted:
        settings = teams.get(conversation.team_id or 0)
        if settings is None or _acknowledged_lately(conversation):
            continue
        account = account_for(conversation)
        if account is None or not sends(account):
            continue
        text = connector.addressed(
            conversation.platform,
            acknowledgement(settings, conversation),
            conversation.customer_handle,
        )
        try:
            check_public_length(text, platform=conversation.platform)
        except ValidationFailed:
            audit.record(
                conversation,
                actor=None,
                kind=ActivityKind.AUTOMATED,
                summary="Automatic acknowledgement skipped: the template is too long here",
            )
            continue
        message = Message.objects.create(
            conversation=conversation,
            kind=MessageKind.REPLY,
            body=text,
            sender_name=f"{settings.team.name} (automated)",
            signature=signature_of(settings),
            platform=conversation.platform,
            in_reply_to=mention,
            state=DeliveryState.QUEUED,
            sandbox=account.transport == "sandbox",
            automated=True,
        )
        enqueue(message)
        audit.record(
            conversation,
            actor=None,
            kind=ActivityKind.AUTOMATED,
            summary=f"Acknowledged automatically with {settings.team.name}'s template",
            detail={"message_id": message.pk, "mention_id": mention.pk},
        )
        sent.append(message)
    return sent


def _acknowledged_lately(conversation: Conversation) -> bool:
    """Any automated message to this customer (any conversation) in the last day."""
    return Message.objects.filter(
        automated=True,
        conversation__workspace_id=conversation.workspace_id,
        conversation__platform=conversation.platform,
        conversation__customer_handle=conversation.customer_handle,
        created_at__gte=clock.now() - ONCE_PER,
    ).exists()
