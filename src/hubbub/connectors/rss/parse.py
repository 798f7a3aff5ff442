"""RSS and Atom documents → Hubbub's types, with feedparser. Pure functions, no I/O.

feedparser is given the body as a stream and never a URL or a string: given
a string it tries it as a URL (and fetches it, past the SSRF guard) and then
as a local file name (and reads that file).

Entries become posts: `text` is the title and the summary (or content) as
plain text, `html` the summary/content sanitised with nh3, the link is
unwrapped from known redirectors (Google Alerts' google.com/url?url=…,
FeedBurner's origLink, Bing News, Facebook, YouTube). Apple's customer
review feeds (Atom with the `im:` namespace) give the rating and app version
in the payload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser  # type: ignore[import-untyped]
import nh3

from hubbub.connectors.base import excerpt
from hubbub.connectors.text import plain_name, plain_text
from hubbub.listening.types import RawPost, Rejection

PLATFORM = "rss"
# Characters of an entry kept: the pipeline keeps 40,000 of a post's text.
MAX_TEXT_CHARS = 40_000
MAX_HTML_CHARS = 160_000
# InboundPost.external_id holds 255 characters; longer ids are kept as a digest.
MAX_ID_CHARS = 200
_GOOGLE = re.compile(r"(?:^|\.)google(?:\.com?)?\.[a-z]{2,3}$")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class Feed:
    """A parsed document. `usable`: it is a feed (possibly empty). `problem`: what
    was wrong with the XML, when something was (entries may have been read anyway)."""

    title: str
    lang: str
    entries: list[Any]
    usable: bool
    problem: str


@dataclass(frozen=True, slots=True)
class Parsed:
    """One entry: the post or why it is not one; `key` is its identity in the feed."""

    key: str
    post: RawPost | None = None
    rejection: Rejection | None = None


def read_feed(body: bytes, *, content_type: str) -> Feed:
    """Parse a fetched document (links stay as written; see entry_link)."""
    # No content-location: feedparser would resolve ids against it too, turning
    # Apple's review number "11440274534" into a URL under the feed's address.
    # Links are resolved in entry_link instead.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-type": content_type})
    entries = list(parsed.get("entries") or [])
    channel = parsed.get("feed") or {}
    title = _text_value(channel.get("title_detail"), channel.get("title", ""))
    lang = str(channel.get("language") or "").strip()
    problem = ""
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    benign = isinstance(error, feedparser.ThingsNobodyCaresAboutButMe)
    if error is not None and not benign:
        problem = f"the XML is not well-formed ({_describe(error)})"
    version = str(parsed.get("version") or "")
    usable = bool(entries) or (bool(version) and not problem)
    if not usable and not problem:
        problem = "it is not an RSS or Atom feed"
    return Feed(title=title, lang=lang, entries=entries, usable=usable, problem=problem)


def parse_entry(
    entry: Any,
    *,
    feed: Feed,
    feed_url: str,
    workspace_id: int,
    source_id: int,
    fetched_at: dt.datetime,
    final_url: str = "",
) -> Parsed:
    """An entry as a RawPost, or a Rejection saying what is missing.

    `feed_url` is the configured address (ids are namespaced by its host);
    `final_url` the one the feed was read from after redirects (relative
    links are resolved against it).
    """
    link = entry_link(entry, final_url or feed_url)
    title = _text_value(entry.get("title_detail"), entry.get("title", ""))
    body_text, body_html = _body(entry)
    posted = _posted_at(entry)
    key = external_id(entry, link=link, title=title, posted=posted, feed_url=feed_url)
    if not title and not body_text:
        return Parsed(
            key,
            rejection=Rejection(
                "The entry has neither a title nor any text.", key, excerpt(_summary(entry))
            ),
        )
    text = title if not body_text or body_text == title else f"{title}\n\n{body_text}".strip()
    author = entry.get("author_detail") or {}
    name = plain_name(str(author.get("name") or entry.get("author") or ""))
    payload = _summary(entry)
    payload.update(feed_url=feed_url, feed_title=feed.title)
    post = RawPost(
        workspace_id=workspace_id,
        source_id=source_id,
        platform=PLATFORM,
        external_id=key,
        text=text[:MAX_TEXT_CHARS],
        html=nh3.clean(body_html[:MAX_HTML_CHARS]) if body_html else "",
        posted_at=posted or fetched_at,
        url=link,
        lang=_language(entry, feed),
        author_handle=name,
        author_name=name,
        author_external_id=_web_url(str(author.get("href") or "")),
        expanded_urls=(link,) if link else (),
        payload=payload,
    )
    return Parsed(key, post=post)


def external_id(
    entry: Any, *, link: str, title: str, posted: dt.datetime | None, feed_url: str
) -> str:
    """The entry's id (guid / atom:id), else its link, else a digest of title and date.

    An id that is not a URI (an RSS guid "1234", an App Store review number)
    is only unique within its site, so it is prefixed with the feed's host.
    """
    raw = str(entry.get("id") or "").strip()
    host = urlsplit(feed_url).hostname or "feed"
    if raw and ":" not in raw:
        raw = f"{host}:{raw}"
    if not raw:
        raw = link
    if not raw:
        stamp = posted.isoformat() if posted else str(dict.get(entry, "published", ""))
        raw = f"{host}:{_digest(title + '|' + stamp)}"
    if len(raw) > MAX_ID_CHARS:
        raw = f"{host[:80]}:{_digest(raw)}"
    return raw


def entry_link(entry: Any, base: str = "") -> str:
    """The entry's web page: FeedBurner's original link, the alternate link, the first
    other web link, resolved against `base` (the feed's final URL) and unwrapped
    from redirectors; "" when it has none."""
    candidates = [str(entry.get("feedburner_origlink") or "")]
    links = [item for item in entry.get("links") or [] if isinstance(item, dict)]
    candidates += [str(i.get("href") or "") for i in links if i.get("rel") == "alternate"]
    link = str(entry.get("link") or "")
    # feedparser copies a guid into `link` when there is no link (an App Store
    # review's number): that is not a page.
    if link != entry.get("id") or _web_url(link):
        candidates.append(link)
    candidates += [str(i.get("href") or "") for i in links if i.get("rel") != "enclosure"]
    for candidate in candidates:
        web = _web_url(urljoin(base, candidate.strip()) if base and candidate else candidate)
        if web:
            return unwrap_link(web)
    return ""


def unwrap_link(url: str) -> str:
    """The target of a known redirector's link (only when that is an http(s) URL).

    google.<tld>/url?url=… or ?q=… (Google Alerts, Google search),
    bing.com/news/apiclick.aspx?url=… (Bing News RSS),
    l.facebook.com/l.php?u=…, youtube.com/redirect?q=…
    """
    for _ in range(3):  # a wrapped link may itself be wrapped
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        names: tuple[str, ...] = ()
        if _GOOGLE.search(host) and parts.path in ("/url", "/news/url"):
            names = ("url", "q")
        elif host.endswith("bing.com") and parts.path.lower() == "/news/apiclick.aspx":
            names = ("url",)
        elif host in ("l.facebook.com", "lm.facebook.com") and parts.path == "/l.php":
            names = ("u",)
        elif host.endswith("youtube.com") and parts.path == "/redirect":
            names = ("q",)
        query = parse_qs(parts.query)
        target = next((_web_url(query[n][0]) for n in names if query.get(n)), "")
        if not target:
            return url
        url = target
    return url


def digest(value: str) -> str:
    """A short fixed-size stand-in for an id, for the cursor's list of seen entries."""
    return _digest(value)


def _digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=10).hexdigest()


def _body(entry: Any) -> tuple[str, str]:
    """(plain text, HTML) of the entry's content, else its summary.

    Apple's review feeds give the review twice: as text and as an HTML table;
    the text is the review, so a plain-text content wins over HTML.
    """
    contents = [c for c in entry.get("content") or [] if isinstance(c, dict) and c.get("value")]
    plain = next((c for c in contents if c.get("type") == "text/plain"), None)
    if plain is not None:
        return str(plain["value"]).strip(), ""
    marked = next((c for c in contents if c.get("type") in _HTML_TYPES), None)
    if marked is not None:
        value = str(marked["value"])
        return plain_text(value), value
    summary = str(entry.get("summary") or "")
    detail = entry.get("summary_detail") or {}
    if detail.get("type") in _HTML_TYPES:
        return plain_text(summary), summary
    return summary.strip(), ""


def _text_value(detail: Any, value: object) -> str:
    """A text construct (title) as plain text, whatever type the feed gave it."""
    text = str(value or "")
    if isinstance(detail, dict) and detail.get("type") in _HTML_TYPES:
        return plain_text(text)
    return " ".join(text.split())


def _posted_at(entry: Any) -> dt.datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict.get("published…") falls back to "updated…" with a warning.
        value = dict.get(entry, name)
        if isinstance(value, time.struct_time):
            try:
                return dt.datetime(*value[:6], tzinfo=dt.UTC)
            except ValueError:
                continue
    return None


def _language(entry: Any, feed: Feed) -> str:
    for name in ("content", "summary_detail", "title_detail"):
        value = entry.get(name)
        detail = value[0] if isinstance(value, list) and value else value
        if isinstance(detail, dict) and detail.get("language"):
            return str(detail["language"]).strip()[:35]
    return feed.lang[:35]


def _summary(entry: Any) -> dict[str, Any]:
    """The entry's own fields worth keeping (not its whole content) as JSON-safe data."""
    kept: dict[str, Any] = {}
    for name in ("id", "link", "title", "author", "published", "updated"):
        value = dict.get(entry, name)
        if isinstance(value, str) and value:
            kept[name] = value[:2000]
    tags = [str(t.get("term")) for t in entry.get("tags") or [] if isinstance(t, dict)]
    if tags:
        kept["tags"] = tags[:50]
    # Apple's customer reviews: im:rating (1-5), im:version, im:voteSum, im:voteCount.
    for name, key in (
        ("im_rating", "rating"),
        ("im_version", "app_version"),
        ("im_votesum", "vote_sum"),
        ("im_votecount", "vote_count"),
    ):
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            number = value.strip()
            kept[key] = int(number) if number.lstrip("-").isdigit() else number[:50]
    return kept


def _web_url(value: str) -> str:
    """`value` if it is an http(s) URL with a host, else ""."""
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[not-an-address]/"
        return ""
    return value if parts.scheme in ("http", "https") and parts.hostname else ""


def _describe(error: BaseException) -> str:
    return (str(error) or type(error).__name__)[:300]
