"""A local Jetstream: a WebSocket server that speaks `/subscribe` as Jetstream does.

It replays a fixed list of frames in `time_us` order, at full speed:

- `wantedCollections` (commit events of other collections are left out;
  identity and account events always go), `wantedDids`, `maxMessageSizeBytes`
  and `cursor` (replay from that microsecond; none = from the first frame, the
  "live" events of this fake) are honoured; an unknown path is a 404 and a
  cursor that is not a number a 400, before the upgrade;
- after the last frame the connection stays open and quiet, like a live tail
  with nothing new;
- `requireHello=true`: nothing streams until the client's `options_update`
  message (`{"type": "options_update", "payload": {"wantedDids": [...]}}`),
  whose filters then apply; a malformed one closes the connection;
- scripted faults: `drop_after(k)` cuts the next connection after k frames
  (no close frame, as a network failure), `refuse_next(status)` answers the
  next handshake with an HTTP error; bad frames are just frames
  (`raw_frame`) placed among the good ones.

The posts are real customer tweets from the TWCS sample in
`../shared/data/twcs/` (read at run time, never copied), dressed as
`app.bsky.feed.post` records: @-mentions and links become facets, replies
point at their parent's AT URI.

`python -m hubbub.connectors.bluesky.tests.jetstream_fake --events N` serves
N events on a free port, prints its URL, and stops when its stdin closes
(the connectors bench runs it so).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import json
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from hubbub.datasets import shared_data_dir

COLLECTION = "app.bsky.feed.post"
# 2026-11-24T09:00:00Z in microseconds: the fake's events happen "now".
START_US = 1_795_510_800_000_000
STEP_US = 1_000
_BASE32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class Frame:
    """One text frame, with what the server filters on."""

    time_us: int
    data: str
    kind: str = ""
    did: str = ""
    collection: str = ""


@dataclass
class Subscription:
    """One connection as the fake saw it."""

    path: str
    query: dict[str, list[str]]
    cursor: int | None
    sent: int = 0
    dropped: bool = False
    hello: dict[str, Any] | None = None  # the options_update of a requireHello connection


@dataclass
class FakeJetstream:
    frames: list[Frame]
    url: str = ""
    subscriptions: list[Subscription] = field(default_factory=list)
    drops: list[int] = field(default_factory=list)
    refusals: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def drop_after(self, count: int) -> None:
        """Cut the next connection (no close frame) after it has sent `count` frames."""
        with self.lock:
            self.drops.append(count)

    def refuse_next(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        """Answer the next handshake with an HTTP error instead of upgrading."""
        with self.lock:
            self.refusals.append((status, body, headers or {}))

    @property
    def sent(self) -> int:
        return sum(subscription.sent for subscription in self.subscriptions)

    def frames_for(self, subscription: Subscription) -> list[Frame]:
        query = subscription.query
        collections = set(query.get("wantedCollections", []))
        dids = set(query.get("wantedDids", []))
        max_bytes = int((query.get("maxMessageSizeBytes") or ["0"])[0] or 0)
        start = subscription.cursor or 0
        return [
            frame
            for frame in self.frames
            if frame.time_us >= start
            and not (collections and frame.kind == "commit" and frame.collection not in collections)
            and not (dids and frame.did and frame.did not in dids)
            and not (max_bytes > 0 and len(frame.data.encode()) > max_bytes)
        ]


# --- events made from real customer tweets ---------------------------------------


def customer_events(
    count: int, *, start_us: int = START_US, step_us: int = STEP_US, folder: Path | None = None
) -> list[dict[str, Any]]:
    """`count` commit/create events of app.bsky.feed.post, one every `step_us`, from the
    TWCS sample's customer tweets (cycled when `count` is larger)."""
    tweets, by_id = _tweets(folder or shared_data_dir())
    customers = [tweet for tweet in tweets if tweet["inbound"] == "True"]
    # The record of a tweet is made once; events of the same tweet differ in time and rkey.
    records = [(did_of(tweet["author_id"]), post_record(tweet, by_id)) for tweet in customers]
    return [post_event(*records[n % len(records)], start_us + n * step_us) for n in range(count)]


def _tweets(folder: Path) -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with (folder / "twcs" / "twcs-sample.csv").open(encoding="utf-8", newline="") as rows:
        # A tweet with bare carriage returns splits into a phantom row without `inbound`.
        tweets = [row for row in csv.DictReader(rows) if row.get("text") and row.get("inbound")]
    return tweets, {tweet["tweet_id"]: tweet for tweet in tweets}


def post_record(tweet: dict[str, str], tweets: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The app.bsky.feed.post record that says what `tweet` said, when it said it."""
    text = tweet["text"]
    record: dict[str, Any] = {
        "$type": COLLECTION,
        "createdAt": _twitter_time(tweet["created_at"]).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "langs": ["en"],
        "text": text,
    }
    facets = facets_of(text)
    if facets:
        record["facets"] = facets
    parent = _parent(tweet, tweets)
    if parent is not None:
        root = parent
        for _ in range(100):  # up the thread, as far as the sample goes
            above = _parent(root, tweets)
            if above is None:
                break
            root = above
        record["reply"] = {"root": _ref(root), "parent": _ref(parent)}
    return record


def post_event(did: str, record: dict[str, Any], time_us: int) -> dict[str, Any]:
    """A Jetstream commit event: `did` created a post with `record` at `time_us`."""
    rkey = tid(time_us)
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": tid(time_us + 1),
            "operation": "create",
            "collection": COLLECTION,
            "rkey": rkey,
            "record": dict(record),  # its own copy: tests change one event at a time
            "cid": cid_of(f"{did}/{rkey}"),
        },
    }


def facets_of(text: str) -> list[dict[str, Any]]:
    """Mention and link facets, with UTF-8 byte offsets as the lexicon wants them."""
    facets = []
    for pattern, feature in ((_MENTION, "mention"), (_URL, "link")):
        for match in pattern.finditer(text):
            start = len(text[: match.start()].encode())
            end = start + len(match.group().encode())
            if feature == "mention":
                detail = {"did": did_of(match.group()[1:].lower())}
            else:
                detail = {"uri": match.group()}
            facets.append(
                {
                    "index": {"byteStart": start, "byteEnd": end},
                    "features": [{"$type": f"app.bsky.richtext.facet#{feature}", **detail}],
                }
            )
    return facets


def _parent(tweet: dict[str, str], tweets: dict[str, dict[str, str]]) -> dict[str, str] | None:
    return tweets.get((tweet.get("in_response_to_tweet_id") or "").removesuffix(".0"))


def _ref(tweet: dict[str, str]) -> dict[str, str]:
    did = did_of(tweet["author_id"])
    rkey = tid(int(_twitter_time(tweet["created_at"]).timestamp() * 1_000_000))
    return {"uri": f"at://{did}/{COLLECTION}/{rkey}", "cid": cid_of(f"{did}/{rkey}")}


def _twitter_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(dt.UTC)


def did_of(name: str) -> str:
    """A did:plc (24 base32 characters) standing for a TWCS author id or brand handle."""
    digest = hashlib.sha256(name.encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def tid(time_us: int, clock_id: int = 7) -> str:
    """A TID record key: 53 bits of microseconds and 10 of clock id, base32-sortable."""
    value = (time_us << 10) | clock_id
    return "".join(_BASE32_SORTABLE[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def cid_of(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def identity_event(did: str, time_us: int) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "identity",
        "identity": {"did": did, "handle": "customer.bsky.social", "seq": 1, "time": "x"},
    }


def account_event(did: str, time_us: int) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "account",
        "account": {"active": False, "did": did, "seq": 2, "status": "deactivated"},
    }


def delete_event(did: str, rkey: str, time_us: int) -> dict[str, Any]:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": tid(time_us),
            "operation": "delete",
            "collection": COLLECTION,
            "rkey": rkey,
        },
    }


def frame(event: dict[str, Any]) -> Frame:
    """An event as Jetstream sends it: compact JSON in one text frame."""
    commit = event.get("commit")
    collection = commit.get("collection", "") if isinstance(commit, dict) else ""
    return Frame(
        time_us=int(event["time_us"]),
        data=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        kind=str(event.get("kind", "")),
        did=str(event.get("did", "")),
        collection=str(collection),
    )


def raw_frame(data: str, time_us: int) -> Frame:
    """A frame sent as it is (malformed JSON, say), at the place of `time_us`."""
    return Frame(time_us=time_us, data=data)


# --- the server -------------------------------------------------------------------


def _process_request(fake: FakeJetstream) -> Any:
    def process(connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path != "/subscribe":
            return connection.respond(404, "404 page not found\n")
        cursor = (parse_qs(parts.query).get("cursor") or [""])[0]
        if cursor and not cursor.isdigit():
            return connection.respond(400, "invalid cursor\n")
        with fake.lock:
            refusal = fake.refusals.pop(0) if fake.refusals else None
        if refusal is None:
            return None
        response = connection.respond(refusal[0], refusal[1])
        for name, value in refusal[2].items():
            response.headers[name] = value
        return response

    return process


def _handler(fake: FakeJetstream) -> Any:
    def handle(connection: ServerConnection) -> None:
        assert connection.request is not None
        parts = urlsplit(connection.request.path)
        query = parse_qs(parts.query)
        cursor = (query.get("cursor") or [""])[0]
        subscription = Subscription(parts.path, query, int(cursor) if cursor else None)
        with fake.lock:
            fake.subscriptions.append(subscription)
            drop = fake.drops.pop(0) if fake.drops else None
        try:
            if query.get("requireHello") == ["true"] and not _hello(connection, subscription):
                return
            for item in fake.frames_for(subscription):
                if drop is not None and subscription.sent >= drop:
                    subscription.dropped = True
                    connection.socket.shutdown(socket.SHUT_RDWR)
                    return
                connection.send(item.data)
                subscription.sent += 1
            for _ in connection:  # the live tail: quiet until the client leaves
                pass
        except (ConnectionClosed, OSError):
            return

    return handle


def _hello(connection: ServerConnection, subscription: Subscription) -> bool:
    """requireHello: nothing streams until the client's options_update; a bad one disconnects."""
    try:
        message = json.loads(connection.recv(timeout=10))
        payload = message["payload"] if message.get("type") == "options_update" else None
        if not isinstance(payload, dict):
            raise ValueError("not an options_update")
        update = {
            name: [str(item) for item in payload[name]]
            for name in ("wantedCollections", "wantedDids")
            if isinstance(payload.get(name), list)
        }
        if "maxMessageSizeBytes" in payload:
            update["maxMessageSizeBytes"] = [str(int(payload["maxMessageSizeBytes"]))]
    except (TimeoutError, ValueError, KeyError, TypeError, AttributeError):
        connection.close(1008, "invalid options update")
        return False
    subscription.hello = payload
    subscription.query.update(update)
    return True


@contextmanager
def running_jetstream(frames: list[Frame]) -> Iterator[FakeJetstream]:
    """A fake Jetstream on 127.0.0.1 serving `frames` (sorted by time_us) until the block ends."""
    fake = FakeJetstream(frames=sorted(frames, key=lambda item: item.time_us))
    server = _server(fake)
    fake.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/subscribe"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _server(fake: FakeJetstream) -> Server:
    return serve(
        _handler(fake),
        "127.0.0.1",
        0,
        process_request=_process_request(fake),
        compression=None,  # Jetstream compresses with zstd on request (compress=true), only
        max_size=2**20,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Jetstream until stdin closes.")
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    with running_jetstream([frame(event) for event in customer_events(args.events)]) as fake:
        print(fake.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
