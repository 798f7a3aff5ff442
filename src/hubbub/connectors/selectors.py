"""Reads of the connectors app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser

from django.db.models import QuerySet

from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import User
from hubbub.connectors.models import (
    ChannelAccount,
    ChatWidget,
    InboundEmail,
    InboundEmailState,
    Mailbox,
    WebhookEndpoint,
)
from hubbub.core.errors import NotFound


def channel_accounts(*, user: User) -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.filter(workspace_id=accounts.workspace_id_of(user)).order_by(
        "platform", "name"
    )


def access_channel_account(*, user: User, account_id: int) -> ChannelAccount:
    try:
        return channel_accounts(user=user).get(pk=account_id)
    except ChannelAccount.DoesNotExist as error:
        raise NotFound("No such account.", code="channel_not_found") from error


def mailboxes(*, user: User) -> QuerySet[Mailbox]:
    return Mailbox.objects.filter(workspace_id=accounts.workspace_id_of(user)).select_related(
        "team"
    )


def access_mailbox(*, user: User, mailbox_id: int) -> Mailbox:
    mailbox = mailboxes(user=user).filter(pk=mailbox_id).first()
    if mailbox is None:
        raise NotFound("No such mailbox.", code="mailbox_not_found")
    return mailbox


def widgets(*, user: User) -> QuerySet[ChatWidget]:
    return ChatWidget.objects.filter(workspace_id=accounts.workspace_id_of(user)).select_related(
        "team"
    )


def access_widget(*, user: User, widget_id: int) -> ChatWidget:
    widget = widgets(user=user).filter(pk=widget_id).first()
    if widget is None:
        raise NotFound("No such chat widget.", code="widget_not_found")
    return widget


def endpoints(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(
        workspace_id=accounts.workspace_id_of(user)
    ).select_related("team")


def access_endpoint(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = endpoints(user=user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook.", code="webhook_not_found")
    return endpoint


@dataclass(frozen=True, slots=True)
class UnfiledMail:
    """A mail kept but not filed (an auto-reply, a bounce, a copy) or whose filing failed."""

    received_at: dt.datetime
    sender: str
    subject: str
    state: str
    note: str
    size: int


def unfiled_mails(mailbox: Mailbox, *, limit: int = 20) -> list[UnfiledMail]:
    """The mailbox's latest mails that are not in a conversation, with the reason."""
    rows = (
        InboundEmail.objects.filter(mailbox=mailbox)
        .exclude(state=InboundEmailState.DELIVERED)
        .order_by("-id")[:limit]
    )
    found = []
    for row in rows:
        # The headers only, from the first bytes: enough to say what it was.
        headers = BytesHeaderParser(policy=policy.default).parsebytes(bytes(row.raw[:16384]))
        found.append(
            UnfiledMail(
                received_at=row.accepted_at,
                sender=str(headers.get("From", ""))[:200],
                subject=str(headers.get("Subject", ""))[:200],
                state=row.get_state_display(),
                note=row.note,
                size=row.size,
            )
        )
    return found
