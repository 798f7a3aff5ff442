"""Sending to a platform: the one interface care uses, whatever the platform.

Care hands over plain data (an `Account` and an `Outgoing` message) and gets
back `Delivered` or a `SendError` that says whether trying again can help.
Each platform's sender is its connector's `send` (see registry.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.utils.module_loading import import_string

from hubbub.connectors.base import ConnectorError
from hubbub.connectors.registry import capabilities_of, connector_for


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
    # The credential: an access token, or a JSON object where the platform needs
    # several values (Bluesky's handle and app password, Reddit's four).
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


class SendError(ConnectorError):
    """The platform did not take the message. `transient`: trying later may work."""


SANDBOX_SENDER = "hubbub.connectors.sandbox.send"

# Characters a public post may have, as each platform counts them.
LIMITS: dict[str, int] = {
    "bluesky": 300,
    "mastodon": 500,
    "x": 280,
    "twitter": 280,
    "reddit": 10_000,
}
# Platforms where a link counts as a fixed number of characters, whatever its length.
LINK_LENGTH: dict[str, int] = {"mastodon": 23, "x": 23, "twitter": 23}

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
    return transport == "sandbox" or capabilities_of(platform).reply


def can_message_privately(platform: str) -> bool:
    """Whether the brand can start a private message there (the sandbox does as its platform)."""
    return capabilities_of(platform).private_message


def answer_on_platform_label(platform: str) -> str:
    """For a platform without a write API: what the link to answer there says, else ""."""
    return capabilities_of(platform).answer_on_platform_label


def send(account: Account, outgoing: Outgoing) -> Delivered:
    """Send through the account's platform, or the sandbox; raises SendError."""
    if account.transport == "sandbox":
        sender: Callable[[Account, Outgoing], Delivered] = import_string(SANDBOX_SENDER)
    elif capabilities_of(account.platform).reply:
        sender = connector_for(account.platform).send
    else:
        raise SendError(f"Hubbub cannot send to {account.platform} yet.", transient=False)
    try:
        return sender(account, outgoing)
    except SendError:
        raise
    except ConnectorError as error:
        raise SendError(
            error.message,
            transient=error.transient,
            retry_after_seconds=error.retry_after_seconds,
            code=error.code,
        ) from error
