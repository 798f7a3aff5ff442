"""Algolia HN Search hits and user records → Hubbub's types. Pure functions, no I/O.

A hit (`/api/v1/search_by_date`) is a story or a comment, as the HN Search
index stores it (algolia/hn-search: app/models/item.rb):

    {"objectID": "40222222", "created_at": "2024-05-01T12:00:00.000Z",
     "created_at_i": 1714564800, "author": "pg_fan", "title": null, "url": null,
     "story_text": null, "comment_text": "Acme&#x27;s API keeps timing out<p>…",
     "story_id": 40211111, "parent_id": 40211111, "story_title": "…",
     "points": null, "num_comments": null,
     "_tags": ["comment", "author_pg_fan", "story_40211111"], "_highlightResult": {…}}

`story_text` and `comment_text` are HTML (HN's own subset: <p>, <a>, <i>,
<pre><code>, entities); every other field is plain text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import nh3

from hubbub.connectors.base import Profile, excerpt
from hubbub.connectors.text import plain_name, plain_text
from hubbub.listening.types import RawPost, Rejection

PLATFORM = "hackernews"
ITEM_URL = "https://news.ycombinator.com/item?id={}"
USER_URL = "https://news.ycombinator.com/user?id={}"
# HN Search validates item text at 32,768 characters (app/models/item.rb);
# anything much longer did not come from Hacker News.
MAX_TEXT_CHARS = 40_000
# Hits are kept as the platform's payload, without Algolia's highlighting
# (a second copy of every text field, with <em> marks).
_DROPPED_FIELDS = ("_highlightResult", "_snippetResult", "_rankingInfo")
# Seconds since the epoch that a datetime can hold (up to the year 9999).
_LAST_EPOCH = 253_402_300_799


@dataclass(frozen=True, slots=True)
class Parsed:
    """One hit: the post, or why it is not one. `created_at_i` is None when unknown.

    `key` tells hits apart for the cursor: the objectID, or for a hit without
    one a digest of its JSON (so that a re-read does not reject it again).
    """

    key: str
    created_at_i: int | None
    post: RawPost | None = None
    rejection: Rejection | None = None


def parse_hit(hit: object, *, workspace_id: int, source_id: int) -> Parsed:
    """A hit as a RawPost, or a Rejection that says what is wrong with it."""
    if not isinstance(hit, dict):
        return Parsed(
            _digest(hit),
            None,
            rejection=Rejection("The hit is not a JSON object.", "", excerpt(hit)),
        )
    object_id = _object_id(hit.get("objectID"))
    created = _created_at_i(hit)
    if not object_id:
        shown = {key: value for key, value in hit.items() if key not in _DROPPED_FIELDS}
        reason = "The hit has no objectID."
        return Parsed(_digest(hit), created, rejection=Rejection(reason, "", excerpt(shown)))
    if created is None:
        return _rejected(hit, object_id, None, "The hit has no valid creation time (created_at_i).")
    problem, text, html = _text_of(hit)
    if problem:
        return _rejected(hit, object_id, created, problem)
    if len(text) > MAX_TEXT_CHARS:
        return _rejected(
            hit,
            object_id,
            created,
            f"The item is {len(text):,} characters long, more than Hacker News allows.",
        )
    comment = _is_comment(hit)
    author = hit.get("author")
    handle = plain_name(author) if isinstance(author, str) else ""
    story_url = _string(hit.get("url"))
    post = RawPost(
        workspace_id=workspace_id,
        source_id=source_id,
        platform=PLATFORM,
        external_id=object_id,
        text=text,
        html=html,
        posted_at=dt.datetime.fromtimestamp(created, tz=dt.UTC),
        url=ITEM_URL.format(object_id),
        author_handle=handle,
        author_name=handle,
        author_external_id=handle,
        reply_to_external_id=_item_id(hit.get("parent_id")) if comment else "",
        thread_root_external_id=_item_id(hit.get("story_id")) if comment else "",
        expanded_urls=(story_url,) if _is_web_url(story_url) else (),
        payload={key: value for key, value in hit.items() if key not in _DROPPED_FIELDS},
    )
    return Parsed(object_id, created, post=post)


def parse_user(record: object, handle: str) -> Profile | None:
    """A `/api/v1/users/<username>` record ({"username", "about", "karma", "created_at"…})
    as a Profile; None when it is not one. HN has no followers: karma is the figure."""
    if not isinstance(record, dict):
        return None
    username = _string(record.get("username")) or handle
    karma = record.get("karma")
    about = _string(record.get("about"))
    return Profile(
        handle=username,
        name=username,
        external_id=username,
        url=USER_URL.format(username),
        description=plain_text(about),
        created_at=_created(record),
        extra={"karma": karma} if isinstance(karma, int) and not isinstance(karma, bool) else {},
    )


def _text_of(hit: dict[str, Any]) -> tuple[str, str, str]:
    """(problem, plain text, sanitised HTML): a comment's text, or a story's title,
    text and link."""
    for name in ("title", "story_text", "comment_text", "url"):
        value = hit.get(name)
        if value is not None and not isinstance(value, str):
            return (f"The hit's {name} is not text.", "", "")
    if _is_comment(hit):
        body = hit.get("comment_text") or ""
        text = plain_text(body)
        if not text:
            return ("The comment has no text (deleted?).", "", "")
        return ("", text, nh3.clean(body))
    title = plain_name(hit.get("title") or "")
    story_html = hit.get("story_text") or ""
    parts = [title, plain_text(story_html), (hit.get("url") or "").strip()]
    text = "\n\n".join(part for part in parts if part)
    if not text:
        return ("The story has neither a title nor text.", "", "")
    return ("", text, nh3.clean(story_html) if story_html else "")


def _rejected(hit: dict[str, Any], object_id: str, created: int | None, reason: str) -> Parsed:
    shown = {key: value for key, value in hit.items() if key not in _DROPPED_FIELDS}
    return Parsed(object_id, created, rejection=Rejection(reason, object_id, excerpt(shown)))


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, default=str).encode()
    return "#" + hashlib.blake2b(encoded, digest_size=8).hexdigest()


def _is_comment(hit: dict[str, Any]) -> bool:
    tags = hit.get("_tags")
    if isinstance(tags, list) and tags:
        return "comment" in tags
    return hit.get("comment_text") is not None


def _object_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return ""


def _item_id(value: object) -> str:
    return _object_id(value)


def _created_at_i(hit: dict[str, Any]) -> int | None:
    """Seconds since the epoch: `created_at_i`, else the ISO `created_at`."""
    seconds = _epoch(hit.get("created_at_i"))
    if seconds is not None:
        return seconds
    created = _created(hit)
    return int(created.timestamp()) if created else None


def _created(record: dict[str, Any]) -> dt.datetime | None:
    value = record.get("created_at")
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    seconds = _epoch(record.get("created_at_i"))
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _epoch(value: object) -> int | None:
    """Seconds since the epoch, if `value` is a whole number a datetime can hold."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _LAST_EPOCH:
        return value
    return None


def _string(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_web_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))
