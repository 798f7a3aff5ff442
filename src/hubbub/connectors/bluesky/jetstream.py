"""Follow Bluesky's public posts live through Jetstream, and accept them in batches.

Jetstream (bluesky-social/jetstream) turns the AT Protocol firehose into
JSON over a WebSocket: `GET /subscribe?wantedCollections=app.bsky.feed.post`
sends one text frame per event, `{"did", "time_us", "kind", "commit": {...}}`.
Its cursor is time: `cursor=<time_us>` replays from that microsecond, and
no cursor means the live tail. There is no keyword filter on the server, so
the source's keywords are matched here, on the post text, before anything
is stored.

Guarantees:

- Accepted means committed: events are gathered for at most `batch_events`
  events or `batch_seconds`, then the posts, the rejected items and the
  cursor (the `time_us` of the batch's last event) are written in one
  transaction. Nothing is acknowledged to Jetstream, so an event read but not
  yet stored is read again after a restart.
- No gap: every (re)connection asks for the stored cursor minus `REWIND_US`,
  so a drop, a restart or a switch to another Jetstream instance (cursors are
  wall-clock times, the same on every instance) never skips an event. The
  events read twice are the same posts, and InboundPost's unique key stores
  them once.
- Bad input never stops the stream: malformed JSON, missing or mistyped
  fields, oversize texts and broken facets become `Rejection`s with a reason.
- The connection is made over `core.safe_http.open_connection`: the URL is
  configuration, so it is checked against SSRF and pinned like any fetch.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx
from django.db import transaction
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.sync.client import ClientConnection, connect

from hubbub import __version__
from hubbub.connectors import polling
from hubbub.connectors.base import (
    Batch,
    ConnectorError,
    SourceConfig,
    excerpt,
    read_cursor,
    write_cursor,
)
from hubbub.connectors.http import backoff_seconds, url_with
from hubbub.core import safe_http
from hubbub.listening.types import RawPost, Rejection

logger = logging.getLogger(__name__)

PLATFORM = "bluesky"
COLLECTION = "app.bsky.feed.post"
DEFAULT_URL = "wss://jetstream2.us-east.bsky.network/subscribe"

# Replay this much before the stored cursor on every connection: Jetstream's
# README advises a few seconds of rewind for gapless playback.
REWIND_US = 5_000_000
BATCH_EVENTS = 500
BATCH_SECONDS = 0.5
# How often the reader looks at `stop` when the stream is quiet.
RECV_TIMEOUT_SECONDS = 0.5
# A post is at most 300 graphemes (3,000 bytes); anything this long is not a post.
MAX_TEXT_CHARS = 10_000
# Asked of Jetstream (maxMessageSizeBytes) so it leaves out giant records;
# the client accepts more, because a frame over its limit closes the
# connection, and the same frame would close it again after every rewind.
MAX_EVENT_BYTES = 1_000_000
MAX_FRAME_BYTES = 4 * MAX_EVENT_BYTES
# How far ahead of this machine's clock an event's time may be and still become the cursor.
FUTURE_SECONDS = 600
# InboundPost.external_id and the URI columns hold at most this much.
MAX_ID_CHARS = 255
# Jetstream accepts at most 10,000 wantedDids; more than URL_DIDS go in a message.
MAX_WANTED_DIDS = 10_000
URL_DIDS = 100

# DID and record-key syntax (atproto specs): they become URIs and URLs.
_DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._-]")
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
# What PostgreSQL's jsonb cannot store: NUL and unpaired surrogates (json.loads
# lets both through from \u escapes). One such post would fail its whole batch.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_LINK = "app.bsky.richtext.facet#link"
_MENTION = "app.bsky.richtext.facet#mention"
_TAG = "app.bsky.richtext.facet#tag"
_EXTERNAL_EMBED = "app.bsky.embed.external"

Backoff = Callable[[int, float | None], float]


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """A Jetstream source's settings, checked."""

    url: str
    keywords: tuple[str, ...] = ()  # lower-cased; empty = every post
    wanted_dids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one Jetstream frame became: a post, a rejection, or neither (skipped).

    `time_us` is None only when the frame did not say when it happened.
    """

    time_us: int | None
    post: RawPost | None = None
    rejection: Rejection | None = None


def follow_jetstream(source_id: int, stop: threading.Event) -> None:
    """Follow a Jetstream source until `stop` is set, it is paused, or it fails for good."""
    JetstreamFollower(source_id).run(stop)


class JetstreamFollower:
    """The reader of one source's Jetstream; `run` is the follower's loop.

    The counters are read by other threads (the bench, tests): `received`
    counts frames read, `stored` frames covered by a committed batch,
    `accepted` new InboundPost rows, `rejected` rejected frames.
    """

    def __init__(
        self,
        source_id: int,
        *,
        batch_events: int = BATCH_EVENTS,
        batch_seconds: float = BATCH_SECONDS,
        backoff: Backoff = backoff_seconds,
    ) -> None:
        self.source_id = source_id
        self.batch_events = batch_events
        self.batch_seconds = batch_seconds
        self.backoff = backoff
        self.received = 0
        self.stored = 0
        self.accepted = 0
        self.rejected = 0
        self.connections = 0

    def run(self, stop: threading.Event) -> None:
        """Connect, read, reconnect after drops with backoff; a permanent error stops it.

        The consecutive-failure count starts again once a connection has
        delivered events, so a stream that drops now and then reconnects
        after the first backoff step, and one that keeps failing waits longer
        and longer.
        """
        failures = 0
        while not stop.is_set():
            config = polling.source_config(self.source_id)
            if config is None:
                return
            received_before = self.received
            try:
                self._read(config, options_of(config), stop)
            except ConnectorError as error:
                failures = 1 if self.received > received_before else failures + 1
                logger.warning("source %s: %s", self.source_id, error.message)
                wait = polling.record_failure(config, error, failures, backoff=self.backoff)
                if wait is None:
                    return
                stop.wait(wait)

    def _read(self, config: SourceConfig, options: StreamOptions, stop: threading.Event) -> None:
        """One connection: read and store until `stop` (returns) or a drop (raises)."""
        stored_us = cursor_time_us(config.cursor)
        url = subscribe_url(options, stored_us)
        with _connected(url) as stream:
            self.connections += 1
            hello = hello_message(options)
            if hello is not None:
                stream.send(hello)
            pending = _Pending(stored_us)
            try:
                while not stop.is_set():
                    message = _receive(stream, pending.wait_seconds(self.batch_seconds))
                    if message is not None:
                        self.received += 1
                        pending.add(parse_event(message, config=config, options=options))
                    if pending.due(self.batch_events, self.batch_seconds):
                        config = self._flush(config, pending)
            finally:
                # Stopping or dropped: what was read is stored before the
                # connection goes (a database error here propagates; the
                # cursor did not move, so those events are read again).
                self._flush(config, pending)

    def _flush(self, config: SourceConfig, pending: _Pending) -> SourceConfig:
        """Store the pending batch (posts, rejections, cursor in one transaction)."""
        if not pending.events:
            return config
        batch = pending.take()
        with transaction.atomic():
            new = polling.store_batch(config, batch.batch)
        self.stored += batch.events
        self.accepted += new
        self.rejected += len(batch.batch.rejected)
        return _with_cursor(config, batch.batch.cursor)


# --- settings, cursor, URL ------------------------------------------------------


def options_of(config: SourceConfig) -> StreamOptions:
    """The source's Jetstream settings; a ConnectorError (permanent) when they cannot work."""
    url = config.setting("jetstream_url", DEFAULT_URL).strip() or DEFAULT_URL
    if not url.lower().startswith(("ws://", "wss://")):
        raise ConnectorError(
            "The Jetstream address must start with wss:// (or ws://).",
            transient=False,
            code="bad_settings",
        )
    wanted = tuple(_strings(config.settings.get("wanted_dids")))
    if len(wanted) > MAX_WANTED_DIDS or any(not _DID.fullmatch(did) for did in wanted):
        raise ConnectorError(
            f"wanted_dids must be at most {MAX_WANTED_DIDS:,} DIDs (did:plc:…).",
            transient=False,
            code="bad_settings",
        )
    keywords = tuple(k.lower() for k in _strings(config.settings.get("keywords")))
    return StreamOptions(url=url, keywords=keywords, wanted_dids=wanted)


def _strings(value: object) -> list[str]:
    """A list setting, also accepted as one comma- or line-separated string."""
    items = value.replace("\n", ",").split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return []
    return [item.strip() for item in items if isinstance(item, str) and item.strip()]


def cursor_time_us(cursor: str) -> int | None:
    """The `time_us` a stored cursor holds, or None (a new source: start at the live tail)."""
    value = read_cursor(cursor).get("time_us")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def subscribe_url(options: StreamOptions, stored_us: int | None) -> str:
    """The subscription URL: posts only, the wanted DIDs, and the rewound cursor.

    A long DID list would make the URL too long for a request line: it is sent
    as the first message instead (`hello_message`), with requireHello=true so
    that nothing streams before Jetstream has it.
    """
    in_url = len(options.wanted_dids) <= URL_DIDS
    return url_with(
        options.url,
        "",
        {
            "wantedCollections": COLLECTION,
            "wantedDids": list(options.wanted_dids) if in_url and options.wanted_dids else None,
            "maxMessageSizeBytes": MAX_EVENT_BYTES,
            "cursor": None if stored_us is None else max(0, stored_us - REWIND_US),
            "requireHello": None if in_url else "true",
        },
    )


def hello_message(options: StreamOptions) -> str | None:
    """Jetstream's options_update message carrying a DID list too long for the URL."""
    if len(options.wanted_dids) <= URL_DIDS:
        return None
    payload = {
        "wantedCollections": [COLLECTION],
        "wantedDids": list(options.wanted_dids),
        "maxMessageSizeBytes": MAX_EVENT_BYTES,
    }
    return json.dumps({"type": "options_update", "payload": payload})


def _with_cursor(config: SourceConfig, cursor: str) -> SourceConfig:
    return SourceConfig(
        source_id=config.source_id,
        workspace_id=config.workspace_id,
        kind=config.kind,
        settings=config.settings,
        credentials=config.credentials,
        cursor=cursor,
    )


# --- the connection ---------------------------------------------------------------


@contextmanager
def _connected(url: str) -> Iterator[ClientConnection]:
    """An open WebSocket to `url` over a checked, pinned socket; failures as ConnectorError."""
    host = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    try:
        sock, tls_host = safe_http.open_connection(url)
    except safe_http.UnsafeUrl as error:
        raise ConnectorError(error.message, transient=False, code="unsafe_url") from error
    except safe_http.FetchError as error:
        raise ConnectorError(
            f"Jetstream at {host} did not answer: {error.message}",
            transient=True,
            code="unreachable",
        ) from error
    secure = url.lower().startswith("wss://")
    try:
        stream = connect(
            url,
            sock=sock,
            ssl=httpx.create_ssl_context() if secure else None,
            server_hostname=tls_host if secure else None,
            proxy=None,
            user_agent_header=f"Hubbub/{__version__} (+jetstream)",
            open_timeout=10,
            close_timeout=2,
            max_size=MAX_FRAME_BYTES,
        )
    except InvalidStatus as error:
        sock.close()
        raise _refused(error, host) from error
    except InvalidURI as error:
        sock.close()
        raise ConnectorError(
            f"The Jetstream address is not valid: {error}", transient=False, code="bad_settings"
        ) from error
    except (InvalidHandshake, ConnectionClosed, OSError, TimeoutError) as error:
        sock.close()
        raise ConnectorError(
            f"Jetstream at {host} did not open the stream: {error}",
            transient=True,
            code="unreachable",
        ) from error
    with stream:
        try:
            yield stream
        except ConnectionClosed as error:
            raise ConnectorError(
                f"The stream from {host} closed ({_close_text(error)}); reconnecting.",
                transient=True,
                code="stream_closed",
            ) from error


def _refused(error: InvalidStatus, host: str) -> ConnectorError:
    """The ConnectorError for a handshake answered with an HTTP error."""
    status = error.response.status_code
    body = (error.response.body or b"").decode("utf-8", "replace")[:200].strip()
    reason = f"{status}{': ' + body if body else ''}"
    retry_after = _seconds(error.response.headers.get("Retry-After", ""))
    if status == 429 or status >= 500:
        return ConnectorError(
            f"Jetstream at {host} is busy ({reason}); trying again later.",
            transient=True,
            retry_after_seconds=retry_after,
            code="rate_limited" if status == 429 else "server_error",
        )
    return ConnectorError(
        f"Jetstream at {host} refused the subscription ({reason}). Check the address.",
        transient=False,
        code="refused",
    )


def _seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _close_text(error: ConnectionClosed) -> str:
    close = error.rcvd or error.sent
    if close is None:
        return "no close frame"
    return f"code {close.code}{', ' + close.reason if close.reason else ''}"


def _receive(stream: ClientConnection, timeout: float) -> bytes | None:
    """The next frame's bytes, or None when nothing came within `timeout`."""
    try:
        # decode=False: json.loads reads the bytes once; invalid UTF-8 becomes
        # a rejection of that frame, not a protocol error that drops the stream.
        message = stream.recv(timeout=timeout, decode=False)
    except TimeoutError:
        return None
    return message if isinstance(message, bytes) else message.encode()


# --- batching ---------------------------------------------------------------------


@dataclass(slots=True)
class _Taken:
    batch: Batch
    events: int


@dataclass(slots=True)
class _Pending:
    """Frames read since the last flush. The cursor never goes back: after a
    rewind, the replayed events are older than the stored cursor."""

    cursor_us: int | None
    events: int = 0
    posts: list[RawPost] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    started: float = 0.0
    latest_us: int = 0

    def add(self, parsed: Parsed) -> None:
        if not self.events:
            self.started = time.monotonic()
            self.latest_us = int((time.time() + FUTURE_SECONDS) * 1_000_000)
        self.events += 1
        stamp = parsed.time_us
        # A time from the future (a server with a broken clock) is not kept as the
        # cursor: asked for later, Jetstream would answer with the live tail and skip
        # what happened in between.
        if stamp is not None and stamp <= self.latest_us:
            self.cursor_us = stamp if self.cursor_us is None else max(self.cursor_us, stamp)
        if parsed.post is not None:
            self.posts.append(parsed.post)
        elif parsed.rejection is not None:
            self.rejected.append(parsed.rejection)

    def due(self, batch_events: int, batch_seconds: float) -> bool:
        if not self.events:
            return False
        return self.events >= batch_events or time.monotonic() - self.started >= batch_seconds

    def wait_seconds(self, batch_seconds: float) -> float:
        """How long the next read may wait: never past the pending batch's deadline."""
        if not self.events:
            return RECV_TIMEOUT_SECONDS
        left = self.started + batch_seconds - time.monotonic()
        return max(0.0, min(RECV_TIMEOUT_SECONDS, left))

    def take(self) -> _Taken:
        cursor = "" if self.cursor_us is None else write_cursor({"time_us": self.cursor_us})
        taken = _Taken(Batch(posts=self.posts, cursor=cursor, rejected=self.rejected), self.events)
        self.events, self.posts, self.rejected = 0, [], []
        return taken


# --- one event → a post ---------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, reason: str, external_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.external_id = external_id


def parse_event(message: bytes, *, config: SourceConfig, options: StreamOptions) -> Parsed:
    """Map one Jetstream frame to a RawPost, a Rejection, or a skip.

    Skipped (no post, no rejection; the cursor still moves past them):
    identity and account events, other collections, updates and deletes
    (they are not new mentions), and posts without any of the keywords.
    """
    try:
        event = json.loads(message)
    except (ValueError, RecursionError):
        return Parsed(None, rejection=_rejection("The event is not valid JSON.", message))
    if not isinstance(event, dict):
        return Parsed(None, rejection=_rejection("The event is not a JSON object.", message))
    if b"\\u" in message:  # only escapes can smuggle in what the database refuses
        event = _storable(event)
    time_us = event.get("time_us")
    if not _is_int(time_us) or time_us < 0:
        return Parsed(None, rejection=_rejection("time_us is missing or not an integer.", message))
    try:
        post = _post_of(event, time_us, config=config, options=options)
    except _Rejected as rejected:
        return Parsed(time_us, rejection=_rejection(rejected.reason, message, rejected.external_id))
    return Parsed(time_us, post=post)


def _post_of(
    event: dict[str, Any], time_us: int, *, config: SourceConfig, options: StreamOptions
) -> RawPost | None:
    kind = event.get("kind")
    if not isinstance(kind, str):
        raise _Rejected("The event has no kind.")
    if kind != "commit":
        return None  # identity, account, and kinds added later
    commit = event.get("commit")
    if not isinstance(commit, dict):
        raise _Rejected("A commit event without a commit object.")
    collection, operation = commit.get("collection"), commit.get("operation")
    if not isinstance(collection, str) or not isinstance(operation, str):
        raise _Rejected("The commit has no collection or operation.")
    if collection != COLLECTION or operation != "create":
        return None
    did, rkey = event.get("did"), commit.get("rkey")
    if not isinstance(did, str) or not _DID.fullmatch(did):
        raise _Rejected("did is missing or is not a DID.")
    if not isinstance(rkey, str) or not _RKEY.fullmatch(rkey) or rkey in {".", ".."}:
        raise _Rejected("The commit's rkey is missing or is not a record key.")
    external_id = f"at://{did}/{COLLECTION}/{rkey}"
    if len(external_id) > MAX_ID_CHARS:
        raise _Rejected(f"The post's URI is longer than {MAX_ID_CHARS} characters.")
    record = commit.get("record")
    if not isinstance(record, dict):
        raise _Rejected("The post was created without a record.", external_id)
    text = record.get("text")
    if text is None:
        raise _Rejected("The post has no text field.", external_id)
    if not isinstance(text, str):
        raise _Rejected("The post's text is not a string.", external_id)
    if options.keywords and not _mentions(text, options.keywords):
        return None
    if len(text) > MAX_TEXT_CHARS:
        raise _Rejected(
            f"The post's text is {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are taken.",
            external_id,
        )
    links = _facet_links(record.get("facets"), external_id)
    parent, root = _reply_of(record.get("reply"), external_id)
    return RawPost(
        workspace_id=config.workspace_id,
        source_id=config.source_id,
        platform=PLATFORM,
        external_id=external_id,
        text=text,
        posted_at=_posted_at(record.get("createdAt"), time_us),
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        lang=_lang(record.get("langs")),
        author_handle=did,  # Jetstream carries no handle; the DID is the stable id.
        author_external_id=did,
        reply_to_external_id=parent,
        thread_root_external_id=root,
        expanded_urls=_unique((*links, *_embedded_link(record.get("embed")))),
        payload=event,
    )


def _mentions(text: str, keywords: tuple[str, ...]) -> bool:
    folded = text.lower()
    return any(keyword in folded for keyword in keywords)


def _facet_links(facets: object, external_id: str) -> list[str]:
    """The http(s) targets of link facets; a facet of the wrong shape rejects the post.

    Byte offsets are checked for shape, not against the text: Hubbub does not
    use them, and clients get them slightly wrong often enough.
    """
    if facets is None:
        return []
    if not isinstance(facets, list):
        raise _Rejected("facets is not a list.", external_id)
    links: list[str] = []
    for facet in facets:
        index = facet.get("index") if isinstance(facet, dict) else None
        features = facet.get("features") if isinstance(facet, dict) else None
        if not isinstance(index, dict) or not isinstance(features, list):
            raise _Rejected("A facet has no index or features.", external_id)
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (_is_int(start) and _is_int(end) and 0 <= start <= end):
            raise _Rejected("A facet's byteStart/byteEnd are not a byte range.", external_id)
        for feature in features:
            links.extend(_feature_link(feature, external_id))
    return [link for link in links if link.lower().startswith(("https://", "http://"))]


def _feature_link(feature: object, external_id: str) -> list[str]:
    if not isinstance(feature, dict) or not isinstance(feature.get("$type"), str):
        raise _Rejected("A facet feature has no $type.", external_id)
    kind = feature["$type"]
    required = {_LINK: "uri", _MENTION: "did", _TAG: "tag"}.get(kind)
    if required is not None and not isinstance(feature.get(required), str):
        raise _Rejected(f"A {kind.rsplit('#', 1)[-1]} facet has no {required}.", external_id)
    return [feature["uri"]] if kind == _LINK else []


def _embedded_link(embed: object) -> list[str]:
    """The link card's target (app.bsky.embed.external), if the post has a well-formed one."""
    if not isinstance(embed, dict) or embed.get("$type") != _EXTERNAL_EMBED:
        return []
    external = embed.get("external")
    uri = external.get("uri") if isinstance(external, dict) else None
    if isinstance(uri, str) and uri.lower().startswith(("https://", "http://")):
        return [uri]
    return []


def _reply_of(reply: object, external_id: str) -> tuple[str, str]:
    """(parent URI, root URI) of a reply, ("", "") for a post that starts a thread."""
    if reply is None:
        return "", ""
    refs = [reply.get(name) if isinstance(reply, dict) else None for name in ("parent", "root")]
    uris = [ref.get("uri") if isinstance(ref, dict) else None for ref in refs]
    parent, root = uris
    if not (
        isinstance(parent, str)
        and isinstance(root, str)
        and all(uri.startswith("at://") and len(uri) <= MAX_ID_CHARS for uri in (parent, root))
    ):
        raise _Rejected("reply.parent and reply.root must be at:// URIs.", external_id)
    return parent, root


def _posted_at(created_at: object, time_us: int) -> dt.datetime:
    """record.createdAt when it is a time with a zone, else when Jetstream saw the event."""
    if isinstance(created_at, str):
        try:
            moment = dt.datetime.fromisoformat(created_at)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(time_us / 1_000_000, tz=dt.UTC)


def _lang(langs: object) -> str:
    if isinstance(langs, list) and langs and isinstance(langs[0], str) and len(langs[0]) <= 35:
        return langs[0]
    return ""


def _unique(urls: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(urls))


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _storable(value: Any) -> Any:
    """`value` without NUL characters and unpaired surrogates, which jsonb refuses."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _rejection(reason: str, message: bytes, external_id: str = "") -> Rejection:
    text = message[:1200].decode("utf-8", "replace")
    return Rejection(
        reason=reason, external_id=external_id, excerpt=_UNSTORABLE.sub("\ufffd", excerpt(text))
    )
