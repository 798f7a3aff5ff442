"""Bluesky's JSON → Hubbub's types: post views and notifications → RawPost, profiles → Profile.

Everything here is hostile input from the AppView: fields go missing, have
the wrong type, or lie (facet byte ranges outside the text). `post_of`
raises `Unusable` only when a post cannot be stored at all (no at:// URI,
no author, no text, no time, absurd size); anything merely odd (a bad facet,
a follower count that is not a number) is left out and the post is kept.

Texts stay plain text: Bluesky has no HTML, and a display name such as
"<b>Jane</b>" is a name, escaped wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from hubbub.connectors.base import Profile
from hubbub.listening.types import RawPost

PLATFORM = "bluesky"
# Bluesky caps a post at 300 graphemes (3000 bytes), but records are only
# checked by the apps that write them; past this a record is not a post.
MAX_TEXT_CHARS = 10_000
LINK_FEATURE = "app.bsky.richtext.facet#link"
WEB_LINK = re.compile(r"https?://[^\s]+", re.IGNORECASE)
# at://<did or handle>/<collection>/<record key>
AT_URI = re.compile(r"^at://(?P<repo>[^/\s]+)/(?P<collection>[^/\s]+)/(?P<rkey>[^/\s?#]+)$")


class Unusable(ValueError):
    """A post that cannot be stored; the message says why, for the source's page."""


@dataclass(frozen=True, slots=True)
class StrongRef:
    uri: str
    cid: str

    def to_json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def parse_time(value: object) -> dt.datetime | None:
    """An AT Protocol datetime ("2025-03-01T12:00:00.000Z") as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # The lexicon requires a timezone; a naive time could be anything.
    return parsed.astimezone(dt.UTC)


def format_time(value: dt.datetime) -> str:
    """The datetime format Bluesky writes: UTC, milliseconds, "Z"."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rkey_of(uri: str) -> str:
    match = AT_URI.match(uri)
    return match.group("rkey") if match else ""


def post_url(author: str, uri: str) -> str:
    """The post on bsky.app; `author` is the handle (or the DID when there is none)."""
    rkey = rkey_of(uri)
    if not author or not rkey:
        return ""
    return f"https://bsky.app/profile/{author}/post/{rkey}"


def strong_ref(value: object) -> StrongRef | None:
    """A com.atproto.repo.strongRef ({uri, cid}) if it is one."""
    if not isinstance(value, dict):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    if isinstance(uri, str) and AT_URI.match(uri) and isinstance(cid, str) and cid:
        return StrongRef(uri=uri, cid=cid)
    return None


def sort_time(item: dict[str, Any]) -> dt.datetime | None:
    """When Bluesky files a post for `since`/`until`: the earlier of createdAt and
    indexedAt (its "sortAt"), so a post dated in the future sorts when it arrived."""
    record = item.get("record")
    created = parse_time(record.get("createdAt")) if isinstance(record, dict) else None
    indexed = parse_time(item.get("indexedAt"))
    times = [time for time in (created, indexed) if time is not None]
    return min(times) if times else None


def post_of(item: object, *, workspace_id: int, source_id: int | None) -> RawPost:
    """A post view (searchPosts, getPosts) or a notification (listNotifications) as a RawPost.

    Both carry uri, cid, author, record and indexedAt. Raises Unusable.
    """
    if not isinstance(item, dict):
        raise Unusable("the post is not a JSON object")
    uri = item.get("uri")
    if not isinstance(uri, str) or not AT_URI.match(uri):
        raise Unusable("the post has no at:// URI")
    author = item.get("author")
    if not isinstance(author, dict):
        raise Unusable("the post has no author")
    did = _text(author.get("did"))
    handle = _text(author.get("handle"))
    if not did.startswith("did:") and not handle:
        raise Unusable("the post's author has neither a DID nor a handle")
    record = item.get("record")
    if not isinstance(record, dict):
        raise Unusable("the post has no record")
    text = record.get("text")
    if not isinstance(text, str):
        raise Unusable("the post's record has no text")
    if len(text) > MAX_TEXT_CHARS:
        raise Unusable(
            f"the post's text is {len(text):,} characters long (at most {MAX_TEXT_CHARS:,})"
        )
    posted_at = parse_time(record.get("createdAt")) or parse_time(item.get("indexedAt"))
    if posted_at is None:
        raise Unusable("the post has neither a createdAt nor an indexedAt time")
    reply = record.get("reply")
    parent = strong_ref(reply.get("parent")) if isinstance(reply, dict) else None
    root = strong_ref(reply.get("root")) if isinstance(reply, dict) else None
    name = _text(author.get("displayName"))
    return RawPost(
        workspace_id=workspace_id,
        source_id=source_id,
        platform=PLATFORM,
        external_id=uri,
        text=text,
        posted_at=posted_at,
        url=post_url(handle or did, uri),
        lang=_first_lang(record.get("langs")),
        author_handle=handle,
        author_name=name,
        author_external_id=did,
        author_followers=_count(author.get("followersCount")),
        author_following=_count(author.get("followsCount")),
        reply_to_external_id=parent.uri if parent else "",
        thread_root_external_id=root.uri if root else "",
        expanded_urls=links_of(record),
        payload=item,
    )


def links_of(record: dict[str, Any]) -> tuple[str, ...]:
    """The web links a post carries: its link facets (whose text may be shortened,
    "example.com/pa…") and an external embed's card, in order, each once.

    A facet whose byte range is not a whole run of characters in the text is
    ignored: the uri it claims could be attached to any words.
    """
    text = record.get("text")
    encoded = text.encode("utf-8") if isinstance(text, str) else b""
    links: list[str] = []
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else []:
        if not isinstance(facet, dict) or facet_text(encoded, facet.get("index")) is None:
            continue
        features = facet.get("features")
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, dict) and feature.get("$type") == LINK_FEATURE:
                links.append(_web_link(feature.get("uri")))
    embed = record.get("embed")
    if isinstance(embed, dict) and isinstance(embed.get("external"), dict):
        links.append(_web_link(embed["external"].get("uri")))
    return tuple(dict.fromkeys(link for link in links if link))


def facet_text(encoded: bytes, index: object) -> str | None:
    """The text a facet's byteStart/byteEnd covers, or None if that is not a valid range
    of whole UTF-8 characters in the text."""
    if not isinstance(index, dict):
        return None
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not (_is_int(start) and _is_int(end) and 0 <= start < end <= len(encoded)):
        return None
    try:
        return encoded[start:end].decode("utf-8")
    except UnicodeDecodeError:  # A range that starts or ends inside a character.
        return None


def profile_of(view: object) -> Profile:
    """An app.bsky.actor.defs#profileViewDetailed as a Profile. Raises Unusable."""
    if not isinstance(view, dict):
        raise Unusable("the profile is not a JSON object")
    handle = _text(view.get("handle"))
    did = _text(view.get("did"))
    if not handle and not did:
        raise Unusable("the profile has neither a handle nor a DID")
    extra: dict[str, Any] = {}
    if isinstance(view.get("labels"), list):
        extra["labels"] = [
            label["val"] for label in view["labels"] if isinstance(label, dict) and "val" in label
        ]
    return Profile(
        handle=handle or did,
        name=_text(view.get("displayName")),
        external_id=did,
        url=f"https://bsky.app/profile/{handle or did}",
        avatar_url=_web_link(view.get("avatar")),
        description=_text(view.get("description")),
        followers=_count(view.get("followersCount")),
        following=_count(view.get("followsCount")),
        posts=_count(view.get("postsCount")),
        verified=_verified(view.get("verification")),
        created_at=parse_time(view.get("createdAt")),
        extra=extra,
    )


def _verified(value: object) -> bool:
    """app.bsky.actor.defs#verificationState: verified by a trusted verifier, or one itself."""
    if not isinstance(value, dict):
        return False
    return "valid" in (value.get("verifiedStatus"), value.get("trustedVerifierStatus"))


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: object) -> int | None:
    return value if _is_int(value) and value >= 0 else None


def _first_lang(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0][:20]
    return ""


def _web_link(value: object) -> str:
    """An http(s) URL, or "" (a facet may claim javascript: or at:// URIs)."""
    if isinstance(value, str) and WEB_LINK.fullmatch(value.strip()):
        return value.strip()
    return ""
