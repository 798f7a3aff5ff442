"""Platform sessions that outlive one call: load, save and forget them by key.

Connectors call these from the thread that follows a source or from a send
job; a session is small JSON, read and written by primary key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from hubbub.connectors.models import ConnectorSession


def session_key(platform: str, server: str, identifier: str, *, secret: str) -> str:
    """The key of one account's session on one server, for one credential.

    The credential is part of the key (as a keyed hash, never in clear): a
    handle is public, so a key without it would hand the brand's session to
    anyone who typed the brand's handle with any password.
    """
    proof = hmac.new(settings.SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{platform}|{proof}|{server.rstrip('/')}|{identifier.lower()}"[:255]


def load_session(key: str) -> dict[str, Any] | None:
    row = ConnectorSession.objects.filter(key=key).only("data").first()
    if row is None:
        return None
    try:
        value = json.loads(row.data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def save_session(key: str, data: dict[str, Any]) -> None:
    ConnectorSession.objects.update_or_create(key=key, defaults={"data": json.dumps(data)})


def forget_session(key: str) -> None:
    ConnectorSession.objects.filter(key=key).delete()


def update_session(key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Read, change and write one session under a row lock: two workers updating the same
    account's session (a log of sends, say) never lose each other's writes."""
    with transaction.atomic():
        ConnectorSession.objects.get_or_create(key=key, defaults={"data": "{}"})
        row = ConnectorSession.objects.select_for_update().get(key=key)
        try:
            current = json.loads(row.data)
        except ValueError:
            current = {}
        row.data = json.dumps(change(current if isinstance(current, dict) else {}))
        row.save(update_fields=["data", "updated_at"])
