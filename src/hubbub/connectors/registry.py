"""Which module serves each platform, imported only when needed.

`CONNECTORS` names each platform's `connector` module (the protocol is in
base.py). A source is followed by its connector's own `follow` where it has
one (streams), else by the shared polling loop over its `poll`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from types import ModuleType

from django.utils.module_loading import import_string

from hubbub.connectors.base import Capabilities

CONNECTORS: dict[str, str] = {
    "bluesky": "hubbub.connectors.bluesky.connector",
    "mastodon": "hubbub.connectors.mastodon.connector",
    "reddit": "hubbub.connectors.reddit.connector",
    "hackernews": "hubbub.connectors.hackernews.connector",
    "rss": "hubbub.connectors.rss.connector",
}

# Sources that are not platforms: kind → dotted path of `follow(source_id, stop)`.
FOLLOWERS = {
    "replay": "hubbub.connectors.replay.source.follow",
}

Follower = Callable[[int, threading.Event], None]
NO_CAPABILITIES = Capabilities(listen=False)


def connector_for(kind: str) -> ModuleType:
    """The platform's connector module; raises KeyError for a kind without one."""
    return import_module(CONNECTORS[kind])


def follower_for(kind: str) -> Follower | None:
    if kind in FOLLOWERS:
        named: Follower = import_string(FOLLOWERS[kind])
        return named
    if kind not in CONNECTORS:
        return None
    module = connector_for(kind)
    own: Follower | None = getattr(module, "follow", None)
    if own is not None:
        return own
    from hubbub.connectors.polling import follow

    return follow


def capabilities_of(platform: str) -> Capabilities:
    """What Hubbub can do on a platform; nothing for a platform it has no connector for."""
    if platform not in CONNECTORS:
        return NO_CAPABILITIES
    capabilities: Capabilities = connector_for(platform).CAPABILITIES
    return capabilities
