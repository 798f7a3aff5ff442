"""Following a Mastodon source live: the streaming API (server-sent events), with REST
back-fill after every (re)connect.

Mastodon's stream has no resume cursor: what is posted while the
connection is down never comes down it. So each connection goes:

1. open the stream (events from now on wait in the connection);
2. back-fill over REST from the source's cursor until the timeline is read
   up to now (`reader.read_batch`, page after page);
3. read events, storing each status as it comes, with the cursor moved to
   its id in the same transaction.

A status that comes both from the back-fill and down the stream is stored
once (posts are unique on the status uri). Heartbeats (`:thump` comment
lines) keep the connection alive and let the loop notice `stop`.

The REST host may answer /api/v1/streaming with a 301 to a separate
streaming host (Mastodon's `StreamingController`); the redirect is followed,
with the token, because the instance the token belongs to named the host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import httpx

from hubbub.connectors import http, polling
from hubbub.connectors.base import (
    AuthenticationFailed,
    Batch,
    ConnectorError,
    SourceConfig,
    excerpt,
    read_cursor,
)
from hubbub.connectors.mastodon import client, parse, reader
from hubbub.core import clock, safe_http
from hubbub.listening.types import Rejection

logger = logging.getLogger(__name__)

# Mastodon sends a heartbeat every 15 seconds; a stream silent for this long is dead.
READ_TIMEOUT_SECONDS = 60.0
# After a connection that worked ends, connect again soon (then back off if that fails).
RECONNECT_SECONDS = 1.0
# How often a live stream looks whether the source was paused or its settings changed.
RECHECK_SECONDS = 30.0
# The most one event may hold: a status is a few kilobytes, a flood is dropped.
MAX_EVENT_CHARS = 1_000_000
MAX_REDIRECTS = 2
STOP_CHECK_SECONDS = 0.25
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_STREAM_PATHS = {
    "hashtag": "/api/v1/streaming/hashtag",
    "public": "/api/v1/streaming/public",
    "user": "/api/v1/streaming/user",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event; `comment` for a heartbeat line, `too_large` when its data
    passed MAX_EVENT_CHARS (and was dropped)."""

    name: str
    data: str = ""
    comment: bool = False
    too_large: bool = False


def events_of(lines: Iterable[str]) -> Iterator[Event]:
    """Server-sent events from the stream's lines (the HTML Living Standard's rules).

    `data:` lines accumulate (joined with newlines) until a blank line ends
    the event; `:` lines are comments (heartbeats) and come out as such, so
    the reader can look up between events; `id:` and `retry:` are ignored.
    """
    name = ""
    data: list[str] = []
    size = 0
    for line in lines:
        if not line:
            if size > MAX_EVENT_CHARS:
                yield Event(name or "message", too_large=True)
            elif data:
                yield Event(name or "message", "\n".join(data))
            name, data, size = "", [], 0
            continue
        if line.startswith(":"):
            yield Event("", line[1:].strip(), comment=True)
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            size += len(value) + 1
            if size <= MAX_EVENT_CHARS:
                data.append(value)


def stream_url(config: SourceConfig, base: str) -> str:
    kind = config.setting("stream", "hashtag") or "hashtag"
    path = _STREAM_PATHS.get(kind)
    if path is None:
        raise ConnectorError(f"Mastodon has no {kind!r} stream Hubbub reads.", transient=False)
    params = {"tag": client.hashtag_of(config)} if kind == "hashtag" else None
    return http.url_with(base, path, params)


def follow_stream(source_id: int, stop: threading.Event) -> None:
    """Follow a stream-mode source until `stop` is set, it is paused, or it fails for good."""
    polling.wait_for_rate_limit(source_id, stop)
    failures = 0
    while not stop.is_set():
        config = polling.source_config(source_id)
        if config is None:
            return
        try:
            worked = stream_once(config, stop)
        except ConnectorError as error:
            failures += 1
            logger.warning("source %s: %s", source_id, error.message)
            wait = polling.record_failure(config, error, failures)
            if wait is None:
                return
            stop.wait(wait)
            continue
        # A stream that ends at once, again and again, must not be reconnected in a tight loop.
        failures = 0 if worked else failures + 1
        stop.wait(RECONNECT_SECONDS if worked else http.backoff_seconds(failures))


def stream_once(config: SourceConfig, stop: threading.Event) -> bool:
    """One connection: open, back-fill, read until it ends or `stop`.

    True if the stream sent anything after the back-fill (it worked and then
    ended); raises ConnectorError when connecting or back-filling fails.
    """
    client.feeds_of(config)  # settings that cannot work fail before connecting
    base = client.instance_of(config)
    token = client.token_of(config)
    with opened(stream_url(config, base), token) as response:
        config = backfill(config, stop)
        return read_events(config, response, stop)


@contextmanager
def opened(url: str, token: str) -> Iterator[httpx.Response]:
    """The stream's response, once it answered 200; raises ConnectorError otherwise."""
    for _ in range(MAX_REDIRECTS + 1):
        with _connected(url, token) as response:
            location = response.headers.get("location", "")
            if response.status_code not in _REDIRECTS or not location:
                if response.status_code != 200:
                    raise _refusal(response, token)
                yield response
                return
        target = urljoin(url, location)
        if token and not may_carry_token(url, target):
            raise ConnectorError(
                f"Mastodon's stream redirected to {urlsplit(target).hostname}: Hubbub does not "
                "send the access token to another site or over plain http.",
                transient=False,
                code="unsafe_redirect",
            )
        url = target
    raise ConnectorError("Mastodon's stream redirected too many times.", transient=False)


def may_carry_token(origin: str, target: str) -> bool:
    """Whether the token may follow a redirect: never from https to http, and only to the
    same host or one under it (mastodon.social → streaming.mastodon.social)."""
    before, after = urlsplit(origin), urlsplit(target)
    if before.scheme == "https" and after.scheme != "https":
        return False
    host, new_host = (before.hostname or "").lower(), (after.hostname or "").lower()
    return bool(host) and (new_host == host or new_host.endswith("." + host))


@contextmanager
def _connected(url: str, token: str) -> Iterator[httpx.Response]:
    headers = {**client.auth_headers(token), "Accept": "text/event-stream"}
    with (
        http.fetch_errors("Mastodon's stream"),
        safe_http.stream(
            "GET", url, headers=headers, read_timeout=READ_TIMEOUT_SECONDS
        ) as response,
    ):
        yield response


def _refusal(response: httpx.Response, token: str) -> ConnectorError:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > 65_536:
            break
    answer = safe_http.SafeResponse(
        status_code=response.status_code,
        headers=response.headers,
        content=bytes(body),
        url=str(response.url),
    )
    error = http.error_for(answer, platform=client.PLATFORM)
    if isinstance(error, AuthenticationFailed) and not token:
        return AuthenticationFailed(
            "Mastodon's streaming API needs the brand account's access token (since "
            "Mastodon 4.2, even for a public hashtag). Enter one, or poll the hashtag instead."
        )
    return error


def backfill(config: SourceConfig, stop: threading.Event) -> SourceConfig:
    """Read the REST timeline from the cursor up to now, storing each page; the config
    with the cursor it reached."""
    while not stop.is_set():
        batch = reader.read_batch(config)
        polling.store_batch(config, batch)
        config = dataclasses.replace(config, cursor=batch.cursor)
        if not batch.more:
            break
        if batch.budget is not None and (batch.budget.remaining or 0) <= 1:
            stop.wait(batch.budget.spread_seconds(clock.now()))
    return config


def read_events(config: SourceConfig, response: httpx.Response, stop: threading.Event) -> bool:
    """Store what the stream sends until it ends, breaks or `stop`; whether it sent anything."""
    sent = False
    checked = time.monotonic()
    done = threading.Event()
    threading.Thread(target=_cut_on_stop, args=(response, stop, done), daemon=True).start()
    try:
        for event in events_of(response.iter_lines()):
            sent = True
            if stop.is_set():
                break
            if event.comment:
                if time.monotonic() - checked > RECHECK_SECONDS:
                    checked = time.monotonic()
                    if _changed(config):
                        break
                continue
            batch = batch_of_event(config, event)
            if batch is not None:
                polling.store_batch(config, batch)
                config = dataclasses.replace(config, cursor=batch.cursor)
    except httpx.HTTPError as error:
        # A dropped connection: the next one back-fills whatever this one missed.
        if not stop.is_set():
            logger.info("source %s: the stream broke: %s", config.source_id, error)
    finally:
        done.set()
    return sent


def _cut_on_stop(response: httpx.Response, stop: threading.Event, done: threading.Event) -> None:
    """Shut the stream's socket when `stop` is set, so a reader blocked between heartbeats
    (15 seconds on Mastodon) returns at once instead of at the next one."""
    while not done.is_set():
        if stop.wait(STOP_CHECK_SECONDS):
            network = response.extensions.get("network_stream")
            connection = network.get_extra_info("socket") if network is not None else None
            if isinstance(connection, socket.socket):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            return


def _changed(config: SourceConfig) -> bool:
    """Whether the source was paused or its settings changed since the stream opened."""
    fresh = polling.source_config(config.source_id)
    return fresh is None or fresh.settings != config.settings


def batch_of_event(config: SourceConfig, event: Event) -> Batch | None:
    """The Batch an event stands for, or None for events a source does not take
    (deletions, edits, filter changes, announcements)."""
    stream = config.setting("stream", "hashtag") or "hashtag"
    if event.name == "update":
        key, kind = ("home" if stream == "user" else client.feeds_of(config)[0].key), "statuses"
    elif event.name == "notification" and stream == "user":
        key, kind = "mentions", "notifications"
    else:
        return None
    if event.too_large:
        problem = f"The stream sent an {event.name} of more than {MAX_EVENT_CHARS:,} characters."
        return Batch(posts=[], cursor=config.cursor, rejected=[Rejection(reason=problem)])
    try:
        item = json.loads(event.data)
    except ValueError:
        problem = f"The stream sent an {event.name} that is not JSON."
        rejected = Rejection(reason=problem, excerpt=excerpt(event.data))
        return Batch(posts=[], cursor=config.cursor, rejected=[rejected])
    collected = reader.Collected()
    base = client.instance_of(config)
    domain = client.local_domain(base, token=client.token_of(config))
    reader.take_items(config, key, kind, [item], collected, domain)
    if not collected.posts and not collected.rejected:
        return None
    return Batch(
        posts=parse.link_replies(collected.posts),
        cursor=reader.cursor_after(read_cursor(config.cursor), collected.newest),
        rejected=collected.rejected,
    )
