"""A stranger's HTML mail as markup that is safe to show and quiet until allowed.

Sanitising with nh3 removes what could run or change the page. That is not
enough for mail: an image that loads from the sender's server (a tracking
pixel is the smallest kind) tells the sender the mail was read, when, and
from where. So every remote image keeps its address in `data-remote-src`
and loads nothing until an agent allows it with `html_with_remote`; images
sent inside the mail (`cid:` URLs) point at their attachment by content id.

This lives apart from `mime` because it is a different kind of reading:
`mime` walks the message structure, this module rewrites markup, and its
regular expressions are exact only on nh3's output.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import nh3

from hubbub.connectors.text import plain_text

_ALLOWED_TAGS: Final = frozenset(
    "p br div span b i u strong em a ul ol li blockquote pre code table thead tbody tr td th"  # noqa: SIM905
    " img h1 h2 h3 h4 h5 h6 hr".split()
)
_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "img": {"src", "alt", "width", "height"},
}
_URL_SCHEMES: Final = frozenset({"http", "https", "mailto", "cid"})
_LINK_REL: Final = "noopener noreferrer nofollow"

# Reads a stranger's HTML. No data-* attributes get through, so the only
# data-remote-src and data-cid in the output are the ones written below.
_INBOUND_CLEANER: Final = nh3.Cleaner(
    tags=set(_ALLOWED_TAGS),
    attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
    url_schemes=set(_URL_SCHEMES),
    link_rel=_LINK_REL,
    # Relative and scheme-relative URLs ("//tracker.example/p.gif") would
    # load from somewhere: they are removed, not guessed at.
    url_relative="deny",
)
# Reads HTML that sanitise_html produced (and sanitises anything else given to it).
_STORED_CLEANER: Final = nh3.Cleaner(
    tags=set(_ALLOWED_TAGS),
    attributes={
        **{tag: set(names) for tag, names in _ATTRIBUTES.items()},
        "img": {"src", "alt", "width", "height", "data-remote-src", "data-cid"},
    },
    url_schemes=set(_URL_SCHEMES),
    link_rel=_LINK_REL,
    url_relative="deny",
)

# nh3 writes canonical HTML: lowercase names, double-quoted values in which
# '"', '<' and '>' are always escaped. That makes these patterns exact on its
# output; they are never applied to anything else.
_IMG_TAG = re.compile(r"<img((?:\s+[a-z0-9_:.-]+(?:=\"[^\"]*\")?)*)\s*/?>")
_ATTRIBUTE = re.compile(r"\s+([a-z0-9_:.-]+)(?:=\"([^\"]*)\")?")
_TRACKING_SIZES: Final = frozenset({"0", "1", "0px", "1px"})


@dataclass(frozen=True, slots=True)
class QuietHtml:
    """Sanitised markup in which no remote image loads, and what was done to it."""

    markup: str
    remote_images: int
    remote_hosts: tuple[str, ...]
    problems: tuple[str, ...]


def sanitise_html(html: str, *, max_chars: int, content_id: Callable[[str], str]) -> QuietHtml:
    """`html` sanitised, with remote images blocked and cid: images pointed at
    their attachment, at most `max_chars` long and still well formed.

    `content_id` reads the text after "cid:" the way the caller reads a
    Content-ID header, so a `data-cid` matches its attachment's content id
    character for character.
    """
    if not html.strip():
        return QuietHtml(markup="", remote_images=0, remote_hosts=(), problems=())
    problems: list[str] = []
    if len(html) > max_chars:
        problems.append(f"the HTML was cut at {max_chars:,} characters")
        html = html[:max_chars]
    cleaned = _INBOUND_CLEANER.clean(html)
    hosts: list[str] = []
    counts = {"remote": 0, "tracking": 0}

    def quiet(match: re.Match[str]) -> str:
        tag, remote, tracking = _quiet_image(match.group(1), hosts, content_id)
        counts["remote"] += remote
        counts["tracking"] += tracking
        return tag

    markup = _IMG_TAG.sub(quiet, cleaned)
    if len(markup) > max_chars:
        # Cut before the last tag that would be split, then let nh3 close what was open.
        markup = _STORED_CLEANER.clean(markup[: markup.rfind("<", 0, max_chars)])
    if counts["remote"]:
        pixels = f" ({counts['tracking']} of them tracking pixels)" if counts["tracking"] else ""
        images = "1 remote image" if counts["remote"] == 1 else f"{counts['remote']} remote images"
        problems.append(f"{images} blocked{pixels}")
    return QuietHtml(
        markup=markup.strip(),
        remote_images=counts["remote"],
        remote_hosts=tuple(dict.fromkeys(hosts)),
        problems=tuple(problems),
    )


def html_with_remote(html: str) -> str:
    """`html` (as `parse_email` made it) with its remote images allowed to load.

    Only http and https addresses become `src` again; the HTML is sanitised
    once more first, so this is safe on any input, not only Hubbub's own.
    """
    return _IMG_TAG.sub(_restore_remote_image, _STORED_CLEANER.clean(html))


def text_of_html(markup: str) -> str:
    """What a reader sees in markup that `sanitise_html` produced, as plain text."""
    # plain_text breaks lines at both ends of a list item; one break per item
    # reads better. The markup is nh3's, so "</li>" is always spelled so.
    return plain_text(markup.replace("</li>", ""))


def _quiet_image(
    attributes: str, hosts: list[str], content_id: Callable[[str], str]
) -> tuple[str, int, int]:
    """An <img> with its remote src moved to data-remote-src and its cid: src to
    data-cid: (the tag, 1 if it was remote, 1 if it looks like a tracking pixel)."""
    kept: list[str] = []
    remote = False
    sizes: set[str] = set()
    for name, value in _ATTRIBUTE.findall(attributes):
        if name != "src":
            kept.append(f' {name}="{value}"')
            if name in ("width", "height"):
                sizes.add(value.strip().lower())
            continue
        url = htmllib.unescape(value).strip()
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme in ("http", "https"):
            remote = True
            kept.append(f' data-remote-src="{value}"')
            host = _host(url)
            if host:
                hosts.append(host)
        elif scheme == "cid":
            kept.append(f' data-cid="{htmllib.escape(content_id(url[4:]), quote=True)}"')
    is_pixel = remote and bool(sizes) and sizes <= _TRACKING_SIZES
    if not any(" data-" in attribute for attribute in kept):
        return "", 0, 0  # nothing left to show
    return "<img" + "".join(kept) + ">", int(remote), int(is_pixel)


def _restore_remote_image(match: re.Match[str]) -> str:
    kept: list[str] = []
    for name, value in _ATTRIBUTE.findall(match.group(1)):
        url = htmllib.unescape(value).strip()
        if name == "data-remote-src":
            if url.split(":", 1)[0].lower() in ("http", "https"):
                kept.append(f' src="{value}"')
        elif name != "src":
            kept.append(f' {name}="{value}"')
    return "<img" + "".join(kept) + ">"


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
