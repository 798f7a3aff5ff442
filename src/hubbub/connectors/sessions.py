"""Platform sessions that outlive one call: load, save and forget them by key.

Connectors call these from the thread that follows a source or from a send
job; a session is small JSON, read and written by primary key.
"""

from __future__ import annotations

import json
from typing import Any

from hubbub.connectors.models import ConnectorSession


def session_key(platform: str, server: str, identifier: str) -> str:
    return f"{platform}|{server.rstrip('/')}|{identifier.lower()}"[:255]


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
