"""Chat widgets and webhook endpoints, as an admin sets them up in Settings.

A widget's key is public (it is in the brand's script tag); its identity
secret is for the brand's server only. A webhook endpoint's key names its
URL; its signing secret is for the sender. Both secrets are stored
encrypted and can be replaced (rotated) at any time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Team, User
from hubbub.connectors import webhooks
from hubbub.connectors.models import ChatWidget, WebhookEndpoint
from hubbub.connectors.selectors import access_endpoint, access_widget
from hubbub.core.errors import ValidationFailed

MAX_ORIGINS = 20


def _new_key() -> str:
    return secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


def _team(actor: User, team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = accounts.visible_teams(user=actor).filter(pk=team_id).first()
    if team is None:
        raise ValidationFailed("Choose a team of this workspace.", field="team")
    return team


def _name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("Give it a name.", field="name")
    return name[:80]


# ---- chat widgets ----


@dataclass(frozen=True, slots=True)
class WidgetInput:
    name: str
    allowed_origins: str  # one per line, as typed
    team_id: int | None
    greeting: str


def clean_origins(typed: str) -> list[str]:
    """Origins as browsers send them: scheme://host[:port], https unless it is this machine."""
    origins: list[str] = []
    for line in typed.replace(",", "\n").splitlines():
        value = line.strip().rstrip("/")
        if not value:
            continue
        parts = urlsplit(value)
        local = parts.hostname in ("localhost", "127.0.0.1")
        if (
            parts.scheme not in ("https", "http")
            or (parts.scheme == "http" and not local)
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.username
        ):
            raise ValidationFailed(
                f"{value!r} is not a site address like https://www.acme.example (https, no path).",
                field="allowed_origins",
            )
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        if origin not in origins:
            origins.append(origin)
    if not origins:
        raise ValidationFailed(
            "Name at least one site that may show the chat.", field="allowed_origins"
        )
    if len(origins) > MAX_ORIGINS:
        raise ValidationFailed(f"At most {MAX_ORIGINS} sites.", field="allowed_origins")
    return origins


@transaction.atomic
def save_widget(*, actor: User, given: WidgetInput, widget_id: int | None = None) -> ChatWidget:
    permissions.check_can_manage_sources(actor)
    widget = (
        access_widget(user=actor, widget_id=widget_id)
        if widget_id
        else ChatWidget(
            workspace_id=accounts.workspace_id_of(actor),
            key=_new_key(),
            identity_secret=secrets.token_hex(32),
        )
    )
    widget.name = _name(given.name)
    widget.allowed_origins = clean_origins(given.allowed_origins)
    widget.team = _team(actor, given.team_id)
    widget.greeting = given.greeting.strip()[:200]
    widget.save()
    return widget


@transaction.atomic
def rotate_widget_secret(*, actor: User, widget_id: int) -> ChatWidget:
    permissions.check_can_manage_sources(actor)
    widget = access_widget(user=actor, widget_id=widget_id)
    widget.identity_secret = secrets.token_hex(32)
    widget.save(update_fields=["identity_secret"])
    return widget


@transaction.atomic
def set_widget_enabled(*, actor: User, widget_id: int, enabled: bool) -> ChatWidget:
    permissions.check_can_manage_sources(actor)
    widget = access_widget(user=actor, widget_id=widget_id)
    widget.enabled = enabled
    widget.save(update_fields=["enabled"])
    return widget


# ---- webhook endpoints ----


@dataclass(frozen=True, slots=True)
class EndpointInput:
    name: str
    team_id: int | None


@transaction.atomic
def save_endpoint(
    *, actor: User, given: EndpointInput, endpoint_id: int | None = None
) -> WebhookEndpoint:
    permissions.check_can_manage_sources(actor)
    endpoint = (
        access_endpoint(user=actor, endpoint_id=endpoint_id)
        if endpoint_id
        else WebhookEndpoint(
            workspace_id=accounts.workspace_id_of(actor),
            key=_new_key(),
            secret=webhooks.new_secret(),
        )
    )
    endpoint.name = _name(given.name)
    endpoint.team = _team(actor, given.team_id)
    endpoint.save()
    return endpoint


@transaction.atomic
def rotate_endpoint_secret(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    permissions.check_can_manage_sources(actor)
    endpoint = access_endpoint(user=actor, endpoint_id=endpoint_id)
    endpoint.secret = webhooks.new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


@transaction.atomic
def set_endpoint_enabled(*, actor: User, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    permissions.check_can_manage_sources(actor)
    endpoint = access_endpoint(user=actor, endpoint_id=endpoint_id)
    endpoint.enabled = enabled
    endpoint.save(update_fields=["enabled"])
    return endpoint
