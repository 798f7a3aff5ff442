"""Reads of the connectors app."""

from __future__ import annotations

from django.db.models import QuerySet

from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import User
from hubbub.connectors.models import ChannelAccount
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
