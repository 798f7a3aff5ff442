"""Which function follows a source of each kind, imported only when needed."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.utils.module_loading import import_string

# kind → dotted path of `follow(source_id, stop)`: read the source until stopped.
FOLLOWERS = {
    "replay": "hubbub.connectors.replay.source.follow",
}

Follower = Callable[[int, threading.Event], None]


def follower_for(kind: str) -> Follower | None:
    path = FOLLOWERS.get(kind)
    return None if path is None else import_string(path)
