"""Sending to a platform: the one interface care uses, whatever the platform.

Care hands over plain data (an `Account` and an `Outgoing` message) and gets
back `Delivered` or a `SendError` that says whether trying again can help.
Each platform's sender lives in its own folder; `SENDERS` names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.utils.module_loading import import_string


class Visibility(StrEnum):
    PUBLIC = "public"  # a reply under the customer's post, for everyone to see
    DIRECT = "direct"  # a private message to the customer


@dataclass(frozen=True, slots=True)
class Account:
    """The brand's account to send from (connectors.ChannelAccount, as plain data)."""

    platform: str
    transport: str  # "live" or "sandbox"
    handle: str
    base_url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str
    visibility: Visibility
    recipient_handle: str  # the customer, as the platform names them
    in_reply_to: str = ""  # the platform's id of the customer's post
    # The same key on every attempt: a platform that honours it (Mastodon's
    # Idempotency-Key) posts a retried message once.
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class Delivered:
    external_id: str
    url: str = ""


class SendError(Exception):
    """The platform did not take the message. `transient`: trying later may work."""

    def __init__(
        self, message: str, *, transient: bool, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after_seconds = retry_after_seconds


# platform → dotted path of `send(account, outgoing) -> Delivered`.
SENDERS: dict[str, str] = {
    "mastodon": "hubbub.connectors.mastodon.outbound.send",
}
SANDBOX_SENDER = "hubbub.connectors.sandbox.send"

# Characters a public post may have, as each platform counts them.
LIMITS: dict[str, int] = {"bluesky": 300, "mastodon": 500, "x": 280, "twitter": 280}
# Platforms where a link counts as a fixed number of characters, whatever its length.
LINK_LENGTH: dict[str, int] = {"mastodon": 23, "x": 23, "twitter": 23}
# Platforms with private messages the brand can start (Mastodon: a "direct" post).
PRIVATE_MESSAGES: frozenset[str] = frozenset({"mastodon"})

LINK = re.compile(r"https?://\S+")


def limit_of(platform: str) -> int | None:
    return LIMITS.get(platform)


def text_length(platform: str, text: str) -> int:
    """The length a platform counts: characters, with links at their fixed length.

    Code points, not graphemes: never less than what Bluesky counts, so a
    post this accepts is never refused for its length.
    """
    fixed = LINK_LENGTH.get(platform)
    if fixed is None:
        return len(text)
    links = LINK.findall(text)
    return len(LINK.sub("", text)) + fixed * len(links)


# Platforms where a reply or a direct message must @mention the customer to reach them.
MENTION_TO_REACH: frozenset[str] = frozenset({"mastodon"})


def addressed(platform: str, text: str, recipient_handle: str) -> str:
    """The text as it will be posted: on Mastodon it starts with the customer's @handle."""
    if platform not in MENTION_TO_REACH or not recipient_handle:
        return text
    mention = "@" + recipient_handle.lstrip("@")
    if mention.lower() in text.lower():
        return text
    return f"{mention} {text}"


def can_send(platform: str, transport: str) -> bool:
    return transport == "sandbox" or platform in SENDERS


def send(account: Account, outgoing: Outgoing) -> Delivered:
    """Send through the account's platform, or the sandbox; raises SendError."""
    if account.transport == "sandbox":
        path = SANDBOX_SENDER
    elif account.platform in SENDERS:
        path = SENDERS[account.platform]
    else:
        raise SendError(f"Hubbub cannot send to {account.platform} yet.", transient=False)
    sender: Callable[[Account, Outgoing], Delivered] = import_string(path)
    return sender(account, outgoing)
