"""Rich-text facets for what Hubbub posts: links, @mentions and #tags, with UTF-8 byte offsets.

Bluesky does not parse a post's text: the writer attaches facets, each a
byte range (`byteStart` inclusive, `byteEnd` exclusive, counted in the
UTF-8 encoding, not in characters) with a feature. An emoji is four bytes
and "é" two, so offsets counted in characters would link the wrong words.
A mention facet needs the account's DID, so handles are resolved; a handle
that does not resolve stays plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"

# After the start of the text, white space or "(", as Bluesky's own apps detect them.
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@(?P<handle>[a-zA-Z0-9.-]+)")
_LINK = re.compile(r"(?:^|(?<=[\s(]))(?P<url>https?://\S+)", re.IGNORECASE)
_TAG = re.compile(r"(?:^|(?<=\s))[#＃](?P<tag>[^\s#＃]+)")
# A handle is a domain name: labels joined by dots, ending in a letter-led TLD.
_HANDLE = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_TRAILING = ".,;:!?\"'"
MAX_TAG_CHARS = 64

Resolve = Callable[[str], str | None]
Found = tuple[int, int, dict[str, Any]]  # start and end (characters), feature


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of the character at `index`."""
    return len(text[:index].encode("utf-8"))


def facets_for(text: str, resolve: Resolve) -> list[dict[str, Any]]:
    """The facets for `text`, in order of position. `resolve(handle)` gives a DID or None.

    Where two would overlap, the first found wins, links first: "@x" inside a
    URL is part of the link.
    """
    kept: list[Found] = []
    for start, end, feature in [*_links(text), *_mentions(text, resolve), *_tags(text)]:
        if any(start < other_end and other_start < end for other_start, other_end, _ in kept):
            continue
        kept.append((start, end, feature))
    return [
        {
            "index": {"byteStart": byte_offset(text, start), "byteEnd": byte_offset(text, end)},
            "features": [feature],
        }
        for start, end, feature in sorted(kept, key=lambda found: found[0])
    ]


def _links(text: str) -> list[Found]:
    found: list[Found] = []
    for match in _LINK.finditer(text):
        url = _trim(match.group("url"))
        start = match.start("url")
        found.append((start, start + len(url), {"$type": LINK, "uri": url}))
    return found


def _trim(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it."""
    url = url.rstrip(_TRAILING)
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(_TRAILING)
    return url


def _mentions(text: str, resolve: Resolve) -> list[Found]:
    found: list[Found] = []
    dids: dict[str, str | None] = {}
    for match in _MENTION.finditer(text):
        handle = match.group("handle").rstrip(".-")
        if not _HANDLE.match(handle):
            continue
        key = handle.lower()
        if key not in dids:  # one lookup per handle, however often it is named
            dids[key] = resolve(key)
        did = dids[key]
        if did:
            start = match.start()
            found.append((start, start + 1 + len(handle), {"$type": MENTION, "did": did}))
    return found


def _tags(text: str) -> list[Found]:
    found: list[Found] = []
    for match in _TAG.finditer(text):
        tag = match.group("tag").rstrip(_TRAILING)
        # A tag is not only digits ("#1"), and Bluesky caps it at 64 characters.
        if not tag or tag.isdigit() or len(tag) > MAX_TAG_CHARS:
            continue
        start = match.start()
        found.append((start, start + 1 + len(tag), {"$type": TAG, "tag": tag}))
    return found
