"""Writes of the connectors app: the brand's accounts that answer on each platform.

Only admins connect accounts (they hold the brand's credentials). A
credential goes in and never comes back out: an empty field keeps what is
stored. One account per platform is enabled at a time: it is the one
replies go out from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import User
from hubbub.connectors.base import ConnectorError, SourceConfig
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.connectors.registry import capabilities_of, connector_for
from hubbub.connectors.source_fields import CHANNEL_SCHEMAS, ChannelSchema, SourceField
from hubbub.core import safe_http
from hubbub.core.errors import Conflict, HubbubError, NotFound, ValidationFailed


class ChannelCheckFailed(HubbubError):
    status = 422
    default_code = "channel_check_failed"


@dataclass(frozen=True, slots=True)
class ChannelInput:
    platform: str
    name: str
    handle: str
    base_url: str
    credentials: Mapping[str, str]  # empty values keep what is stored
    transport: str = Transport.LIVE


def channel_schema(platform: str) -> ChannelSchema:
    schema = CHANNEL_SCHEMAS.get(platform)
    if schema is None or not capabilities_of(platform).reply:
        raise ValidationFailed(f"Hubbub cannot answer on {platform!r}.", code="unknown_platform")
    return schema


def _base_url(schema: ChannelSchema, typed: str) -> str:
    url = typed.strip() or schema.base_url.default
    if not url:
        raise ValidationFailed(f"{schema.base_url.label} is needed.", field="base_url")
    try:
        safe_http.check_url(url)
    except safe_http.UnsafeUrl as error:
        message = f"{schema.base_url.label}: {error.message}"
        raise ValidationFailed(message, field="base_url") from error
    except safe_http.FetchFailed:
        pass  # a name that does not resolve today may tomorrow; sending will say so
    return url[:500]


def _secret(schema: ChannelSchema, typed: Mapping[str, str], stored: str) -> str:
    values = schema.credentials_of(stored)
    for spec in schema.credentials:
        value = (typed.get(spec.name) or "").strip()
        if value:
            values[spec.name] = value
    return schema.secret_of(values)


def require_credentials_retyped(
    *,
    moved: str,
    credentials: Sequence[SourceField],
    stored: Mapping[str, str],
    typed: Mapping[str, str],
    field: str | None = None,
) -> None:
    """Stored credentials are never sent to an address they were not saved for.

    `moved` names the address that changed ("" when none did). Then every
    stored credential must be typed again: otherwise whoever changes the address
    could have the saved secret sent wherever they like, by testing or saving.
    """
    missing = [
        spec
        for spec in credentials
        if stored.get(spec.name) and not (typed.get(spec.name) or "").strip()
    ]
    if moved and missing:
        raise ValidationFailed(
            f"{moved} changed: type the credentials again ({missing[0].label} first), "
            "so that they are only sent where you mean them to go.",
            field=field or missing[0].name,
        )


def _check_credentials_go_where_they_went(
    schema: ChannelSchema, account: ChannelAccount, base_url: str, typed: Mapping[str, str]
) -> None:
    require_credentials_retyped(
        moved=schema.base_url.label if account.base_url != base_url else "",
        credentials=schema.credentials,
        stored=schema.credentials_of(account.secret),
        typed=typed,
        field="base_url",
    )


def _managed(actor: User, account_id: int) -> ChannelAccount:
    permissions.check_can_manage_sources(actor)
    try:
        return ChannelAccount.objects.select_for_update().get(
            pk=account_id, workspace_id=accounts.workspace_id_of(actor)
        )
    except ChannelAccount.DoesNotExist as error:
        raise NotFound("No such account.", code="channel_not_found") from error


@transaction.atomic
def save_channel_account(
    *, actor: User, given: ChannelInput, account_id: int | None = None
) -> ChannelAccount:
    """Connect an account, or change one; raises Conflict if another enabled account of
    the platform exists (disable it first)."""
    permissions.check_can_manage_sources(actor)
    if given.transport not in Transport.values:
        raise ValidationFailed("Choose live or sandbox.", field="transport")
    name = given.name.strip()[:80]
    if not name:
        raise ValidationFailed("Give the account a name.", field="name")
    if account_id is None:
        schema = channel_schema(given.platform)
        account = ChannelAccount(
            workspace_id=accounts.workspace_id_of(actor), platform=given.platform
        )
    else:
        account = _managed(actor, account_id)
        schema = channel_schema(account.platform)
    base_url = _base_url(schema, given.base_url)
    _check_credentials_go_where_they_went(schema, account, base_url, given.credentials)
    account.name = name
    account.handle = given.handle.strip().lstrip("@")[:255]
    account.base_url = base_url
    account.secret = _secret(schema, given.credentials, account.secret)
    account.transport = given.transport
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as error:
        raise Conflict(
            f"Another {schema.title} account is already the one replies go out from. "
            "Disable it first.",
            code="channel_already_enabled",
        ) from error
    return account


def check_channel_account(
    *, actor: User, given: ChannelInput, account_id: int | None = None
) -> str:
    """Sign in with what the form holds (stored credentials fill the blanks)."""
    permissions.check_can_manage_sources(actor)
    stored, platform = "", given.platform
    account: ChannelAccount | None = None
    if account_id is not None:
        with transaction.atomic():
            account = _managed(actor, account_id)
        stored, platform = account.secret, account.platform
    schema = channel_schema(platform)
    if account is not None:
        _check_credentials_go_where_they_went(
            schema, account, _base_url(schema, given.base_url), given.credentials
        )
    config = SourceConfig(
        source_id=0,
        workspace_id=accounts.workspace_id_of(actor),
        kind=platform,
        settings={
            **schema.check_settings,
            schema.base_url_setting: _base_url(schema, given.base_url),
        },
        credentials=schema.credentials_of(_secret(schema, given.credentials, stored)),
        cursor="",
    )
    try:
        said: str = connector_for(platform).check(config)
    except ConnectorError as error:
        raise ChannelCheckFailed(error.message) from error
    return said


@transaction.atomic
def set_channel_enabled(*, actor: User, account_id: int, enabled: bool) -> ChannelAccount:
    account = _managed(actor, account_id)
    account.enabled = enabled
    try:
        with transaction.atomic():
            account.save(update_fields=["enabled"])
    except IntegrityError as error:
        raise Conflict(
            "Another account of this platform is enabled: disable it first.",
            code="channel_already_enabled",
        ) from error
    return account


@transaction.atomic
def delete_channel_account(*, actor: User, account_id: int) -> None:
    """Replies already sent keep their record; new ones need another account."""
    _managed(actor, account_id).delete()
