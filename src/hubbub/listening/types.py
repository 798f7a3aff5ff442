"""What the pipeline stages hand each other: frozen, slotted, no ORM objects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class RawPost:
    """A post as a connector (or the replay source) hands it over, already parsed
    from the platform's wire format into common fields. `payload` is the
    platform's own JSON, kept for audit and re-processing."""

    workspace_id: int
    source_id: int | None
    platform: str
    external_id: str
    text: str
    posted_at: dt.datetime
    url: str = ""
    html: str = ""
    lang: str = ""
    author_handle: str = ""
    author_name: str = ""
    author_external_id: str = ""
    author_followers: int | None = None
    author_following: int | None = None
    reply_to_external_id: str = ""
    thread_root_external_id: str = ""
    # Links as the platform expanded them (t.co → its target, Bluesky facets…).
    expanded_urls: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An item a source received that could not become a post, and why."""

    reason: str
    external_id: str = ""
    excerpt: str = ""  # the start of what was received, for the person reading the source


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalizedPost:
    raw: RawPost
    text: str  # cleaned: NFC, no control characters, collapsed white space
    html: str  # sanitised with nh3, or ""
    urls: tuple[str, ...]
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    cashtags: tuple[str, ...]
    normalized_text: str  # what copies share: no RT prefix, links or mentions; folded
    content_hash: str
    simhash: int  # 64-bit, unsigned
    tokens: tuple[str, ...] = ()  # text.tokenize(text), kept for the matcher
    # The post's language: detected from the text when the model is sure, else the
    # platform's declared one (often an account default), else "".
    lang: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupedPost:
    post: NormalizedPost
    # The first post this one copies (same normalised text) or nearly copies
    # (SimHash within a few bits, within the time window); kept, but grouped.
    duplicate_of: str | None = None
    near_duplicate: bool = False


def raw_post_to_json(post: RawPost) -> dict[str, Any]:
    """A RawPost as JSON-safe data (stored in InboundPost.post, sent over Redis)."""
    data = {name: getattr(post, name) for name in RawPost.__dataclass_fields__}
    data["posted_at"] = post.posted_at.isoformat()
    data["expanded_urls"] = list(post.expanded_urls)
    return data


def raw_post_from_json(data: dict[str, Any]) -> RawPost:
    values = dict(data)
    values["posted_at"] = dt.datetime.fromisoformat(values["posted_at"])
    values["expanded_urls"] = tuple(values.get("expanded_urls") or ())
    return RawPost(**{k: v for k, v in values.items() if k in RawPost.__dataclass_fields__})
