"""A local web server with RSS 2.0 and Atom feeds, for the feed connector's tests.

Feeds are rendered the way the real ones are written: a forum's RSS 2.0
(guid, pubDate, dc:creator, HTML-escaped description), a blog's Atom, a
Google Alerts Atom feed (html titles with <b>, links wrapped as
https://www.google.com/url?rct=j&sa=t&url=<target>&ct=ga&cd=…&usg=…), and
Apple's customer-review feed (Atom with im:rating, im:version, a text and an
HTML content). It answers conditional GETs (ETag / If-None-Match,
Last-Modified / If-Modified-Since → 304), redirects, and scripted failures.

Entry texts are real customer posts from the TWCS sample in ../shared/data
(read at run time, never copied here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from hubbub.datasets import twcs_customer_posts

PUBLISHED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


@cache
def customer_texts() -> tuple[str, ...]:
    """TWCS customer tweets with some substance, in file order."""
    return tuple(text for _, text in twcs_customer_posts() if len(text.split()) >= 8)


@dataclass
class Entry:
    title: str
    text: str
    id: str | None = None
    link: str | None = None
    author: str = ""
    published: dt.datetime | None = PUBLISHED
    rating: int | None = None


@dataclass
class Feed:
    kind: str  # rss | atom | alerts | appstore
    title: str
    entries: list[Entry] = field(default_factory=list)
    lang: str = "en-us"
    changed: dt.datetime = PUBLISHED
    # Served instead of the rendered feed (broken XML, not a feed at all).
    raw: bytes | None = None
    content_type: str = ""
    # Whether the server sends validators and honours conditional requests.
    validators: bool = True

    def publish(self, entry: Entry, at: dt.datetime | None = None) -> Entry:
        """Add an entry at the top, as a site does when it posts."""
        self.entries.insert(0, entry)
        self.changed = at or (self.changed + dt.timedelta(minutes=5))
        return entry


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class FakeFeeds:
    url: str = ""
    feeds: dict[str, Feed] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    scripted: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> str:
        return self.url + path

    def fail_next(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.scripted.append((status, body, headers or {}))

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]


# --- feeds made of customer posts ---


def forum_entries(count: int, start: int = 0) -> list[Entry]:
    """Forum threads: a title from the post's first words, the post as the body."""
    entries = []
    for n, text in enumerate(customer_texts()[start : start + count]):
        number = 9000 + start + n
        entries.append(
            Entry(
                title=" ".join(text.split()[:7]) + " …",
                text=text,
                id=f"https://forum.brightwave.test/t/{number}",
                link=f"https://forum.brightwave.test/t/{number}",
                author=f"member{number}",
                published=PUBLISHED + dt.timedelta(minutes=start + n),
            )
        )
    return entries


def alert_entries(count: int, start: int = 0) -> list[Entry]:
    """Google Alerts results: news pages whose snippet quotes a customer."""
    entries = []
    for n, text in enumerate(customer_texts()[start : start + count]):
        number = 12_501_224_780_620_368_192 + start + n
        target = f"https://news.example.org/2026/11/{20 + n % 5}/brightwave-story-{start + n}/"
        entries.append(
            Entry(
                title=f"Customers say <b>Brightwave</b> support: {' '.join(text.split()[:5])}",
                text=text,
                id=f"tag:google.com,2013:googlealerts/feed:{number}",
                link=(
                    f"https://www.google.com/url?rct=j&sa=t&url={target}&ct=ga"
                    "&cd=CAIyGjUwMjhiYWRmMWQ5M2MzMGE6Y29tOmVuOlVT&usg=AFQjCNGc3F9NBj810v400CL5"
                ),
                published=PUBLISHED + dt.timedelta(hours=n),
            )
        )
    return entries


def review_entries(count: int, start: int = 0) -> list[Entry]:
    """App Store reviews: the review number as id, a star rating."""
    entries = []
    for n, text in enumerate(customer_texts()[start : start + count]):
        entries.append(
            Entry(
                title=" ".join(text.split()[:4]),
                text=text,
                id=str(11_440_274_534 + start + n),
                author=f"reviewer_{start + n}",
                published=PUBLISHED + dt.timedelta(minutes=n),
                rating=1 + (start + n) % 5,
            )
        )
    return entries


# --- rendering ---


def _rfc822(moment: dt.datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _html_paragraph(text: str) -> str:
    return "<p>" + escape(text) + "</p>"


def render(feed: Feed, base: str) -> bytes:
    if feed.raw is not None:
        return feed.raw
    render_kind = {"rss": _rss, "atom": _atom, "alerts": _alerts, "appstore": _appstore}
    return render_kind[feed.kind](feed, base).encode()


def _rss(feed: Feed, base: str) -> str:
    items = []
    for entry in feed.entries:
        parts = [f"<title>{escape(entry.title)}</title>"]
        if entry.link:
            parts.append(f"<link>{escape(entry.link)}</link>")
        if entry.id:
            parts.append(f'<guid isPermaLink="false">{escape(entry.id)}</guid>')
        if entry.published:
            parts.append(f"<pubDate>{_rfc822(entry.published)}</pubDate>")
        if entry.author:
            parts.append(f"<dc:creator>{escape(entry.author)}</dc:creator>")
        if entry.text:
            parts.append(f"<description>{escape(_html_paragraph(entry.text))}</description>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{escape(feed.title)}</title><link>https://forum.brightwave.test/</link>"
        f"<description>Latest topics</description><language>{feed.lang}</language>"
        f"<lastBuildDate>{_rfc822(feed.changed)}</lastBuildDate>"
        f'<atom:link href={quoteattr(base)} rel="self" type="application/rss+xml"/>'
        + "".join(items)
        + "</channel></rss>\n"
    )


def _atom_entry(entry: Entry, *, html_title: bool = False, extra: str = "") -> str:
    parts = []
    if entry.id:
        parts.append(f"<id>{escape(entry.id)}</id>")
    title_type = ' type="html"' if html_title else ""
    parts.append(f"<title{title_type}>{escape(entry.title)}</title>")
    if entry.link:
        parts.append(f"<link href={quoteattr(entry.link)}/>")
    if entry.published:
        parts.append(f"<published>{_iso(entry.published)}</published>")
        parts.append(f"<updated>{_iso(entry.published)}</updated>")
    if entry.text:
        parts.append(f'<content type="html">{escape(_html_paragraph(entry.text))}</content>')
    parts.append(f"<author><name>{escape(entry.author)}</name></author>")
    return "<entry>" + "".join(parts) + extra + "</entry>"


def _atom(feed: Feed, base: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.lang}">'
        f"<id>{escape(base)}</id><title>{escape(feed.title)}</title>"
        f'<link href={quoteattr(base)} rel="self"/><updated>{_iso(feed.changed)}</updated>'
        + "".join(_atom_entry(entry) for entry in feed.entries)
        + "</feed>\n"
    )


def _alerts(feed: Feed, base: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">'
        "<id>tag:google.com,2005:reader/user/17849810695950872924/state/com.google/alerts/"
        "15842463258895766468</id>"
        f"<title>{escape(feed.title)}</title>"
        f'<link href={quoteattr(base)} rel="self"></link><updated>{_iso(feed.changed)}</updated>'
        + "".join(_atom_entry(entry, html_title=True) for entry in feed.entries)
        + "</feed>\n"
    )


def _appstore(feed: Feed, base: str) -> str:
    entries = []
    for entry in feed.entries:
        uri = f"https://itunes.apple.com/us/reviews/id{1_060_694_637 + len(entries)}"
        entries.append(
            "<entry>"
            f"<updated>{(entry.published or PUBLISHED).isoformat()}</updated>"
            f"<id>{escape(entry.id or '')}</id><title>{escape(entry.title)}</title>"
            f'<content type="text">{escape(entry.text)}</content>'
            '<im:contentType term="Application" label="Application"/>'
            "<im:voteSum>0</im:voteSum><im:voteCount>0</im:voteCount>"
            f"<im:rating>{entry.rating}</im:rating><im:version>458.0</im:version>"
            f"<author><name>{escape(entry.author)}</name><uri>{uri}</uri></author>"
            '<link rel="related" href="https://itunes.apple.com/us/review?'
            'id=284882215&amp;type=Purple%20Software"/>'
            '<content type="html">'
            + escape(
                '<table border="0" width="100%"><tr><td><b>'
                + escape(entry.title)
                + '</b><br/><font size="2">'
                + escape(entry.text)
                + "</font></td></tr></table>"
            )
            + "</content></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns:im="http://itunes.apple.com/rss" xmlns="http://www.w3.org/2005/Atom" '
        f'xml:lang="en"><id>{escape(base)}</id><title>{escape(feed.title)}</title>'
        f"<updated>{_iso(feed.changed)}</updated>"
        "<author><name>iTunes Store</name><uri>http://www.apple.com/itunes/</uri></author>"
        + "".join(entries)
        + "</feed>\n"
    )


_CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "alerts": "text/xml; charset=UTF-8",
    "appstore": "text/xml; charset=UTF-8",
}


def _handler(fake: FakeFeeds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            with fake.lock:
                fake.seen.append(Seen(self.path, dict(self.headers.items()), status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with fake.lock:
                scripted = fake.scripted.pop(0) if fake.scripted else None
            if scripted is not None:
                self._reply(*scripted)
                return
            if self.path in fake.redirects:
                status, location = fake.redirects[self.path]
                self._reply(status, b"", {"Location": location})
                return
            feed = fake.feeds.get(self.path)
            if feed is None:
                self._reply(404, b"<html><body>Not Found</body></html>", {})
                return
            body = render(feed, fake.url + quote(self.path, safe="/=?&"))
            headers = {"Content-Type": feed.content_type or _CONTENT_TYPES[feed.kind]}
            if feed.validators:
                etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:16] + '"'
                headers["ETag"] = etag
                headers["Last-Modified"] = _rfc822(feed.changed)
                if self._unchanged(etag, feed.changed):
                    self._reply(304, b"", {"ETag": etag})
                    return
            self._reply(200, body, headers)

        def _unchanged(self, etag: str, changed: dt.datetime) -> bool:
            """RFC 9110: If-None-Match decides when sent; else If-Modified-Since."""
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None:
                return etag in [tag.strip() for tag in if_none_match.split(",")]
            since = self.headers.get("If-Modified-Since")
            if since:
                try:
                    return changed <= parsedate_to_datetime(since)
                except (TypeError, ValueError):
                    return False
            return False

    return Handler


@contextmanager
def running_feeds() -> Iterator[FakeFeeds]:
    fake = FakeFeeds()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
