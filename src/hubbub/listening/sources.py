"""Writes for the sources page: add, change, test, pause, resume and delete a source.

A service module of its own (listening/services.py holds the pipeline's
writes) because sources carry the brand's credentials: every function
here checks that the actor may manage sources, and credentials go in and
are never handed back out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import User
from hubbub.connectors import polling
from hubbub.connectors.base import ConnectorError, SourceConfig
from hubbub.connectors.registry import CONNECTORS, connector_for
from hubbub.connectors.services import require_credentials_retyped
from hubbub.connectors.source_fields import FieldKind, SourceField, SourceSchema, schema_for
from hubbub.core import safe_http
from hubbub.core.errors import Conflict, HubbubError, NotFound, ValidationFailed
from hubbub.listening.models import InboundPost, Source, SourceStatus

# Settings that say where and what to read: changing one starts the source afresh.
_PACE_ONLY = frozenset({"poll_seconds"})


class SourceCheckFailed(HubbubError):
    status = 422
    default_code = "source_check_failed"


@dataclass(frozen=True, slots=True)
class SourceInput:
    name: str
    kind: str
    settings: Mapping[str, str]  # as typed: lists one per line, numbers as text
    credentials: Mapping[str, str]  # empty values keep what is stored


def schema_of(kind: str) -> SourceSchema:
    schema = schema_for(kind)
    if schema is None or kind not in CONNECTORS:
        raise ValidationFailed(f"Hubbub cannot listen to {kind!r} sources.", code="unknown_kind")
    return schema


def clean_settings(schema: SourceSchema, typed: Mapping[str, str]) -> dict[str, object]:
    """The settings as connectors read them; raises ValidationFailed naming the field."""
    mode = (typed.get("mode") or "").strip()
    cleaned: dict[str, object] = {}
    for spec in schema.settings:
        if spec.modes and mode not in spec.modes:
            continue
        value = (typed.get(spec.name) or "").strip() or spec.default
        cleaned[spec.name] = _clean_value(spec, value)
    return cleaned


def _clean_value(spec: SourceField, value: str) -> object:
    if spec.required and not value:
        raise ValidationFailed(f"{spec.label} is needed.", field=spec.name)
    if spec.kind == FieldKind.CHOICE and value and value not in dict(spec.choices):
        raise ValidationFailed(f"{spec.label}: choose one of the list.", field=spec.name)
    if spec.kind == FieldKind.SECONDS:
        try:
            seconds = int(value or spec.default or polling.POLL_SECONDS)
        except ValueError as error:
            raise ValidationFailed(
                f"{spec.label} is a number of seconds.", field=spec.name
            ) from error
        if seconds < polling.MIN_POLL_SECONDS:
            raise ValidationFailed(
                f"{spec.label}: at least {polling.MIN_POLL_SECONDS:g} seconds.", field=spec.name
            )
        return seconds
    if spec.kind == FieldKind.WORDS:
        words = [word.strip() for line in value.splitlines() for word in line.split(",")]
        return [word for word in words if word][:200]
    if spec.kind == FieldKind.URL and value:
        _check_address(spec, value)
    return value[:2000]


def _check_address(spec: SourceField, url: str) -> None:
    """Refuse at once an address Hubbub would refuse to fetch (every fetch checks again)."""
    web = url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    try:
        safe_http.check_url(web)
    except safe_http.UnsafeUrl as error:
        raise ValidationFailed(f"{spec.label}: {error.message}", field=spec.name) from error
    except safe_http.FetchFailed:
        pass  # a name that does not resolve today may tomorrow; the source will say so


def _credentials(schema: SourceSchema, typed: Mapping[str, str], stored: str) -> str:
    """The stored credentials with every newly typed value put over them, as JSON."""
    kept = polling.credentials_of(stored)
    names = {spec.name for spec in schema.credentials}
    for name in names:
        value = (typed.get(name) or "").strip()
        if value:
            kept[name] = value
    return json.dumps({name: value for name, value in kept.items() if name in names})


def _check_credentials_go_where_they_went(
    schema: SourceSchema,
    *,
    before: Mapping[str, object],
    after: Mapping[str, object],
    typed: Mapping[str, str],
    stored: str,
) -> None:
    """A changed address needs the stored credentials typed again (see
    connectors.services.require_credentials_retyped)."""
    moved = [
        spec.label
        for spec in schema.settings
        if spec.kind == FieldKind.URL and before.get(spec.name) != after.get(spec.name)
    ]
    require_credentials_retyped(
        moved=moved[0] if moved else "",
        credentials=schema.credentials,
        stored=polling.credentials_of(stored),
        typed=typed,
    )


def _managed(actor: User, source_id: int) -> Source:
    permissions.check_can_manage_sources(actor)
    try:
        return Source.objects.select_for_update().get(
            pk=source_id, workspace_id=accounts.workspace_id_of(actor)
        )
    except Source.DoesNotExist as error:
        raise NotFound("No such source.", code="source_not_found") from error


@transaction.atomic
def save_source(*, actor: User, given: SourceInput, source_id: int | None = None) -> Source:
    """Add a source, or change one. A change of what it reads starts it afresh (a new
    cursor); a source that was failing is tried again."""
    name = given.name.strip()[:120]
    if not name:
        raise ValidationFailed("Give the source a name.", field="name")
    if source_id is None:
        permissions.check_can_manage_sources(actor)
        schema = schema_of(given.kind)
        return Source.objects.create(
            workspace_id=accounts.workspace_id_of(actor),
            name=name,
            kind=given.kind,
            settings=clean_settings(schema, given.settings),
            credentials=_credentials(schema, given.credentials, ""),
        )
    source = _managed(actor, source_id)
    schema = schema_of(source.kind)
    settings = clean_settings(schema, given.settings)
    _check_credentials_go_where_they_went(
        schema,
        before=source.settings or {},
        after=settings,
        typed=given.credentials,
        stored=source.credentials,
    )
    reading = {k: v for k, v in settings.items() if k not in _PACE_ONLY}
    was_reading = {k: v for k, v in (source.settings or {}).items() if k not in _PACE_ONLY}
    if reading != was_reading:
        source.cursor = ""
    source.name, source.settings = name, settings
    source.credentials = _credentials(schema, given.credentials, source.credentials)
    if source.status == SourceStatus.FAILING:
        source.status = SourceStatus.ACTIVE
    source.rate_limited_until = None
    source.save()
    return source


def check_source(*, actor: User, given: SourceInput, source_id: int | None = None) -> str:
    """Try the settings and credentials as typed (stored credentials fill the blanks);
    returns what the platform said, or raises SourceCheckFailed with the reason."""
    permissions.check_can_manage_sources(actor)
    stored = ""
    kind = given.kind
    before: Mapping[str, object] = {}
    if source_id is not None:
        with transaction.atomic():
            source = _managed(actor, source_id)
        stored, kind, before = source.credentials, source.kind, source.settings or {}
    schema = schema_of(kind)
    settings = clean_settings(schema, given.settings)
    if source_id is not None:
        _check_credentials_go_where_they_went(
            schema, before=before, after=settings, typed=given.credentials, stored=stored
        )
    config = SourceConfig(
        source_id=source_id or 0,
        workspace_id=accounts.workspace_id_of(actor),
        kind=kind,
        settings=settings,
        credentials=polling.credentials_of(_credentials(schema, given.credentials, stored)),
        cursor="",
    )
    try:
        said: str = connector_for(kind).check(config)
    except ConnectorError as error:
        raise SourceCheckFailed(error.message) from error
    return said


@transaction.atomic
def pause_source(*, actor: User, source_id: int) -> Source:
    source = _managed(actor, source_id)
    source.status = SourceStatus.PAUSED
    source.save(update_fields=["status", "updated_at"])
    return source


@transaction.atomic
def resume_source(*, actor: User, source_id: int) -> Source:
    """Back to listening, from where it stopped; a failing source is tried again at once."""
    source = _managed(actor, source_id)
    source.status = SourceStatus.ACTIVE
    source.rate_limited_until = None
    source.save(update_fields=["status", "rate_limited_until", "updated_at"])
    return source


@transaction.atomic
def delete_source(*, actor: User, source_id: int) -> None:
    """The source goes; the mentions it brought stay (their source becomes empty).

    Refused while posts it accepted wait for the pipeline (or were set aside):
    they would go with it, and an accepted post is never lost.
    """
    source = _managed(actor, source_id)
    if InboundPost.objects.filter(source=source, processed_at__isnull=True).exists():
        raise Conflict(
            "Posts from this source are still waiting for the pipeline (or were set aside "
            "under Listening pipeline). Pause it, and delete it once they are through.",
            code="source_has_waiting_posts",
        )
    source.delete()
