"""The connector protocol: what every platform's connector offers, as plain data.

A connector is one folder under `connectors/` whose `connector` module
defines, at module level:

- `CAPABILITIES`: a `Capabilities`, read by the composer and "move to private";
- `poll(config: SourceConfig) -> Batch` for sources read by polling, and/or
  `follow(source_id: int, stop: threading.Event) -> None` for sources read
  from a stream (it may hand polling modes to `polling.run`);
- `check(config: SourceConfig) -> str`: try the settings and credentials,
  return what a person should read ("Signed in as @brand"), or raise
  ConnectorError;
- `send(account: Account, outgoing: Outgoing) -> Delivered` where it can write
  (see `outbound.py`);
- `fetch_profile(config: SourceConfig, handle: str) -> Profile` where it can
  read profiles.

`registry.py` names the modules; nothing imports a connector until it is used.
Connectors never import each other, `care` or `listening` services: they turn
wire formats into these types, and the shared loops store them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from hubbub.listening.types import RawPost, Rejection


@dataclass(frozen=True, slots=True)
class Capabilities:
    listen: bool = True
    reply: bool = False  # a public reply threaded under the customer's post
    private_message: bool = False  # a private message the brand can start
    profile: bool = False  # followers, following, posts, verified, created
    # Where there is no write API: the composer offers a link to answer on the platform.
    answer_on_platform_label: str = ""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A listening source as a connector sees it: no ORM object, credentials decrypted."""

    source_id: int
    workspace_id: int
    kind: str
    settings: dict[str, Any]
    credentials: dict[str, str]
    cursor: str

    def setting(self, name: str, default: str = "") -> str:
        value = self.settings.get(name, default)
        return default if value is None else str(value)


@dataclass(frozen=True, slots=True)
class RateBudget:
    """What the platform's rate-limit headers said about the requests left."""

    remaining: int | None = None
    limit: int | None = None
    reset_at: dt.datetime | None = None

    def spread_seconds(self, now: dt.datetime) -> float:
        """How long to wait before the next request so the budget lasts until the reset."""
        if self.reset_at is None or self.remaining is None:
            return 0.0
        until_reset = max(0.0, (self.reset_at - now).total_seconds())
        if self.remaining <= 0:
            return until_reset
        return until_reset / self.remaining


@dataclass(frozen=True, slots=True)
class Batch:
    """One read from a source: posts to accept and the cursor that covers them.

    The cursor is stored in the transaction that stores the posts, so it
    must never point past an item that is neither in `posts` nor in
    `rejected`. `more`: the platform has more right now (poll again at once).
    """

    posts: list[RawPost]
    cursor: str
    rejected: list[Rejection] = field(default_factory=list)
    more: bool = False
    budget: RateBudget | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    handle: str
    name: str = ""
    external_id: str = ""
    url: str = ""
    avatar_url: str = ""
    description: str = ""
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    verified: bool = False
    created_at: dt.datetime | None = None
    # Platform figures that speak to influence or trust (Reddit karma, say).
    extra: dict[str, Any] = field(default_factory=dict)


class ConnectorError(Exception):
    """A platform did not do what was asked.

    `transient`: trying again later may work (timeouts, 5xx, 429); otherwise a
    person must act (wrong credentials, a deleted post). `retry_after_seconds`:
    when the platform said when to come back.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after_seconds: float | None = None,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after_seconds = retry_after_seconds
        self.code = code


class AuthenticationFailed(ConnectorError):
    """The credentials were refused: a person must enter new ones."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False, code="authentication_failed")


def read_cursor(cursor: str) -> dict[str, Any]:
    """A cursor stored as JSON, or {} for a new source or one a person reset."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def write_cursor(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def excerpt(value: object, length: int = 300) -> str:
    """The start of a payload as text, for showing a rejected item."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:length]
