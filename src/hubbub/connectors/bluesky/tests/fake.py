"""A local Bluesky (PDS + AppView + chat) speaking XRPC, for the connector's tests.

It serves the XRPC methods the connector calls, with their lexicons' shapes:
sessions (createSession / refreshSession / getSession, with access tokens
that expire and refresh tokens that rotate), searchPosts (q, sort=latest,
since inclusive on sortAt, limit, cursor), listNotifications (reasons,
cursor), getPosts, resolveHandle, createRecord / getRecord (client-chosen
record keys; a taken key gets the reference PDS's 500 InternalServerError),
getProfile(s), and chat.bsky.convo.* behind the `atproto-proxy` header.
Every answer carries RateLimit-* headers; errors are `{"error", "message"}`.

Tests script faults per method (`fail_next`), expire tokens, and read what
it received (`calls_to`). Post texts come from real customer posts in the
shared data (`customer_texts`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hubbub.datasets import shared_data_dir

BRAND_HANDLE = "brightwave.bsky.social"
BRAND_DID = "did:plc:brightwave7d3xq2mhoaul5c"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
RATE_LIMIT = 3000
RATE_WINDOW_SECONDS = 300
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def customer_texts(word: str, count: int) -> list[str]:
    """Customers' posts (twcs, inbound) that contain `word`, in the file's order."""
    path = shared_data_dir() / "twcs" / "twcs-sample.csv"
    found: list[str] = []
    with path.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            if row["inbound"] == "True" and word.lower() in row["text"].lower():
                found.append(row["text"])
                if len(found) == count:
                    break
    return found


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> dt.datetime:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def tid(at: dt.datetime, clock_id: int = 0) -> str:
    value = (int(at.timestamp() * 1_000_000) << 10) | (clock_id & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * s)) & 31] for s in range(12, -1, -1))


def cid_of(value: object) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    return "bafyrei" + digest[:52]


@dataclass
class Actor:
    did: str
    handle: str
    display_name: str = ""
    description: str = ""
    followers: int = 0
    follows: int = 0
    posts: int = 0
    # chat.bsky.actor.declaration allowIncoming: "all", "following" or "none".
    allow_incoming: str = "following"
    follows_brand: bool = False
    verified: bool = False

    def basic(self) -> dict[str, Any]:
        view: dict[str, Any] = {"did": self.did, "handle": self.handle, "labels": []}
        if self.display_name:
            view["displayName"] = self.display_name
        view["avatar"] = f"https://cdn.bsky.app/img/avatar/plain/{self.did}/bafkrei@jpeg"
        return view

    def detailed(self) -> dict[str, Any]:
        view = self.basic()
        view.update(
            description=self.description,
            followersCount=self.followers,
            followsCount=self.follows,
            postsCount=self.posts,
            createdAt="2023-05-02T18:04:11.000Z",
            indexedAt="2024-11-19T09:12:40.118Z",
        )
        status = "valid" if self.verified else "none"
        view["verification"] = {
            "verifications": [],
            "verifiedStatus": status,
            "trustedVerifierStatus": "none",
        }
        return view


@dataclass
class Call:
    method: str
    nsid: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeBluesky:
    url: str = ""
    actors: dict[str, Actor] = field(default_factory=dict)
    # (sortAt, view): searchable posts, including deliberately broken views.
    searchable: list[tuple[dt.datetime, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: list[tuple[dt.datetime, Any]] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # the brand's, by rkey
    convos: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)  # token → "ok" | "expired"
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    dm_scope: bool = True  # whether the app password was created with DM access
    remaining: int = RATE_LIMIT
    lock: threading.RLock = field(default_factory=threading.RLock)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.brand = self.add_actor(
            BRAND_DID, BRAND_HANDLE, "Brightwave Support", followers=5120, follows=87
        )

    # --- scripting --------------------------------------------------------------

    def add_actor(self, did: str, handle: str, name: str = "", **values: Any) -> Actor:
        actor = Actor(did=did, handle=handle, display_name=name, **values)
        self.actors[did] = actor
        return actor

    def customer(self, number: int, name: str = "", **values: Any) -> Actor:
        """A customer account named after a twcs author id."""
        did = "did:plc:" + hashlib.sha256(str(number).encode()).hexdigest()[:24]
        return self.add_actor(did, f"customer{number}.bsky.social", name, **values)

    def publish(
        self,
        text: str,
        author: Actor,
        *,
        at: dt.datetime,
        indexed_at: dt.datetime | None = None,
        reply_to: str = "",
        facets: list[dict[str, Any]] | None = None,
        langs: tuple[str, ...] = ("en",),
        searchable: bool = True,
    ) -> dict[str, Any]:
        """A post by `author`, created at `at`; returns its post view."""
        number = next(self._numbers)
        rkey = tid(at, number)
        uri = f"at://{author.did}/app.bsky.feed.post/{rkey}"
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": format_time(at),
            "langs": list(langs),
        }
        if facets:
            record["facets"] = facets
        if reply_to:
            parent = self.views[reply_to]
            parent_reply = parent["record"].get("reply")
            root = (
                parent_reply["root"]
                if parent_reply
                else {"uri": uri_of(parent), "cid": parent["cid"]}
            )
            record["reply"] = {"root": root, "parent": {"uri": reply_to, "cid": parent["cid"]}}
        indexed = indexed_at or at + dt.timedelta(milliseconds=850)
        view = {
            "uri": uri,
            "cid": cid_of(record),
            "author": author.basic(),
            "record": record,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": format_time(indexed),
            "labels": [],
        }
        with self.lock:
            self.views[uri] = view
            if searchable:
                self.searchable.append((min(at, indexed), view))
        return view

    def add_raw_post(self, view: Any, sort_at: dt.datetime) -> None:
        """A post view exactly as given (missing fields, wrong types…), found by any search."""
        with self.lock:
            self.searchable.append((sort_at, view))

    def notify(self, view: dict[str, Any], reason: str) -> None:
        """A notification to the brand about `view` (mention, reply, quote, like…)."""
        author = self.actors[view["author"]["did"]]
        notification = {
            "uri": view["uri"],
            "cid": view["cid"],
            "author": author.basic(),
            "reason": reason,
            "record": view["record"],
            "isRead": False,
            "indexedAt": view["indexedAt"],
            "labels": [],
        }
        with self.lock:
            self.notifications.append((parse_time(view["indexedAt"]), notification))

    def fail_next(
        self,
        nsid: str,
        status: int,
        body: dict[str, Any] | bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.faults.setdefault(nsid, []).append(Fault(status, raw, headers or {}))

    def rate_limit_next(self, nsid: str, reset_in_seconds: int) -> int:
        """The next call of `nsid` gets a 429; returns the RateLimit-Reset epoch it names."""
        reset = int(time.time()) + reset_in_seconds
        self.fail_next(
            nsid,
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {
                "RateLimit-Limit": str(RATE_LIMIT),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": f"{RATE_LIMIT};w={RATE_WINDOW_SECONDS}",
            },
        )
        return reset

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = "expired"

    def expire_refresh_tokens(self) -> None:
        with self.lock:
            for token in self.refresh_tokens:
                self.refresh_tokens[token] = "expired"

    def calls_to(self, nsid: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.nsid == nsid]

    def customer_writes(self, convo_id: str, did: str, text: str) -> None:
        """A message from the customer in a conversation the brand started."""
        now = dt.datetime.now(dt.UTC)
        message = {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": tid(now, next(self._numbers)),
            "rev": tid(now, 9),
            "text": text,
            "sender": {"did": did},
            "sentAt": format_time(now),
        }
        with self.lock:
            self.convos[convo_id]["messages"].append(message)

    def posts_by_brand(self) -> list[dict[str, Any]]:
        return list(self.records.values())

    # --- sessions ---------------------------------------------------------------

    def new_session(self) -> dict[str, Any]:
        number = next(self._numbers)
        access, refresh = f"access-{number}", f"refresh-{number}"
        self.access_tokens[access] = "ok"
        self.refresh_tokens[refresh] = "ok"
        return {
            "did": BRAND_DID,
            "handle": BRAND_HANDLE,
            "accessJwt": access,
            "refreshJwt": refresh,
            "email": "care@brightwave.test",
            "emailConfirmed": True,
            "active": True,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": BRAND_DID,
                "alsoKnownAs": [f"at://{BRAND_HANDLE}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": self.url,
                    }
                ],
            },
        }


def uri_of(view: dict[str, Any]) -> str:
    return str(view["uri"])


class XrpcFailure(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _invalid(message: str, error: str = "InvalidRequest") -> XrpcFailure:
    return XrpcFailure(400, error, message)


def _one(params: dict[str, list[str]], name: str, default: str = "") -> str:
    values = params.get(name)
    return values[-1] if values else default


def _limit(params: dict[str, list[str]], default: int) -> int:
    raw = _one(params, "limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise _invalid("limit must be an integer from 1 to 100")
    return int(raw)


def _page(items: list[Any], params: dict[str, list[str]], default: int) -> tuple[list[Any], str]:
    limit = _limit(params, default)
    offset_raw = _one(params, "cursor", "0")
    if not offset_raw.isdigit():
        raise _invalid("Malformed cursor")
    offset = int(offset_raw)
    chunk = items[offset : offset + limit]
    after = offset + limit
    return chunk, str(after) if after < len(items) else ""


class _Routes:
    """The XRPC methods; each takes (call, token's DID) and returns the JSON answer."""

    def __init__(self, fake: FakeBluesky) -> None:
        self.fake = fake

    # sessions
    def create_session(self, call: Call) -> Any:
        body = call.body if isinstance(call.body, dict) else {}
        identifier = str(body.get("identifier", "")).lower().lstrip("@")
        if identifier not in (BRAND_HANDLE, BRAND_DID) or body.get("password") != APP_PASSWORD:
            raise XrpcFailure(401, "AuthenticationRequired", "Invalid identifier or password")
        return self.fake.new_session()

    def refresh_session(self, call: Call) -> Any:
        token = _bearer(call)
        state = self.fake.refresh_tokens.get(token)
        if state is None:
            raise _invalid("Token could not be verified", "InvalidToken")
        if state == "expired":
            raise _invalid("Token has expired", "ExpiredToken")
        self.fake.refresh_tokens[token] = "expired"  # refresh tokens are used once
        session = self.fake.new_session()
        return {key: session[key] for key in ("did", "handle", "accessJwt", "refreshJwt", "active")}

    def get_session(self, call: Call) -> Any:
        return {"did": BRAND_DID, "handle": BRAND_HANDLE, "active": True}

    # reading
    def search_posts(self, call: Call) -> Any:
        params = call.params
        query = _one(params, "q").strip().lower()
        if not query:
            raise _invalid('Error: Params must have the property "q"')
        if _one(params, "sort", "latest") not in ("latest", "top"):
            raise _invalid("Invalid sort")
        since = _one(params, "since")
        until = _one(params, "until")
        found = []
        for sort_at, view in sorted(self.fake.searchable, key=lambda pair: pair[0], reverse=True):
            if since and sort_at < parse_time(since):
                continue
            if until and sort_at >= parse_time(until):
                continue
            text = (
                json.dumps(view).lower() if not _is_post(view) else view["record"]["text"].lower()
            )
            if query in text:
                found.append(view)
        posts, cursor = _page(found, params, 25)
        answer: dict[str, Any] = {"posts": posts, "hitsTotal": len(found)}
        if cursor:
            answer["cursor"] = cursor
        return answer

    def list_notifications(self, call: Call) -> Any:
        reasons = call.params.get("reasons") or []
        items = [
            notification
            for _, notification in sorted(
                self.fake.notifications, key=lambda pair: pair[0], reverse=True
            )
            if not reasons or notification["reason"] in reasons
        ]
        notifications, cursor = _page(items, call.params, 50)
        answer: dict[str, Any] = {"notifications": notifications, "priority": False}
        if cursor:
            answer["cursor"] = cursor
        return answer

    def get_posts(self, call: Call) -> Any:
        uris = call.params.get("uris") or []
        if not uris or len(uris) > 25:
            raise _invalid("uris must hold 1 to 25 AT-URIs")
        return {"posts": [self.fake.views[uri] for uri in uris if uri in self.fake.views]}

    def resolve_handle(self, call: Call) -> Any:
        handle = _one(call.params, "handle").lower()
        for actor in self.fake.actors.values():
            if actor.handle == handle:
                return {"did": actor.did}
        raise _invalid("Unable to resolve handle")

    def get_profile(self, call: Call) -> Any:
        return self._actor(_one(call.params, "actor")).detailed()

    def get_profiles(self, call: Call) -> Any:
        profiles = []
        for name in call.params.get("actors") or []:
            try:
                profiles.append(self._actor(name).detailed())
            except XrpcFailure:
                continue
        return {"profiles": profiles}

    def _actor(self, name: str) -> Actor:
        for actor in self.fake.actors.values():
            if name.lower() in (actor.did, actor.handle):
                return actor
        raise _invalid("Profile not found")

    # writing
    def create_record(self, call: Call) -> Any:
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("repo") not in (BRAND_DID, BRAND_HANDLE):
            raise _invalid("Input/repo must be the authenticated account")
        if body.get("collection") != "app.bsky.feed.post":
            raise _invalid("Input/collection is not supported here")
        record = body.get("record")
        _check_post_record(record)
        assert isinstance(record, dict)
        now = dt.datetime.now(dt.UTC)
        rkey = body.get("rkey") or tid(now, next(self.fake._numbers))
        if not isinstance(rkey, str) or not _TID.match(rkey):
            raise _invalid("Invalid record key for app.bsky.feed.post: expected a TID")
        if rkey in self.fake.records:
            # What the reference PDS answers today (bluesky-social/atproto#3718).
            raise XrpcFailure(500, "InternalServerError", "Internal Server Error")
        uri = f"at://{BRAND_DID}/app.bsky.feed.post/{rkey}"
        cid = cid_of(record)
        self.fake.records[rkey] = {"uri": uri, "cid": cid, "value": record}
        self.fake.views[uri] = {
            "uri": uri,
            "cid": cid,
            "author": self.fake.brand.basic(),
            "record": record,
            "indexedAt": format_time(now),
            "labels": [],
        }
        return {
            "uri": uri,
            "cid": cid,
            "commit": {"cid": cid_of(["commit", uri]), "rev": tid(now, 1)},
            "validationStatus": "valid",
        }

    def get_record(self, call: Call) -> Any:
        rkey = _one(call.params, "rkey")
        repo = _one(call.params, "repo")
        uri = f"at://{repo}/{_one(call.params, 'collection')}/{rkey}"
        if repo in (BRAND_DID, BRAND_HANDLE) and rkey in self.fake.records:
            return self.fake.records[rkey]
        raise _invalid(f"Could not locate record: {uri}", "RecordNotFound")

    # chat
    def get_convo_for_members(self, call: Call) -> Any:
        members = call.params.get("members") or []
        others = [did for did in members if did != BRAND_DID]
        if len(others) != 1:
            raise _invalid("members must name one other account")
        recipient = self.fake.actors.get(others[0])
        if recipient is None:
            raise _invalid("recipient not found", "RecipientNotFound")
        if recipient.allow_incoming == "none":
            raise _invalid("recipient has disabled incoming messages", "MessagesDisabled")
        if recipient.allow_incoming == "following" and not recipient.follows_brand:
            raise _invalid(
                "recipient requires incoming messages to come from someone they follow",
                "NotFollowedBySender",
            )
        convo_id = "3l" + hashlib.sha256(recipient.did.encode()).hexdigest()[:11]
        convo = self.fake.convos.setdefault(
            convo_id, {"members": [BRAND_DID, recipient.did], "messages": []}
        )
        return {
            "convo": {
                "id": convo_id,
                "rev": tid(dt.datetime.now(dt.UTC)),
                "members": [self.fake.actors[did].basic() for did in convo["members"]],
                "muted": False,
                "status": "accepted",
                "unreadCount": 0,
            }
        }

    def get_messages(self, call: Call) -> Any:
        convo = self._convo(_one(call.params, "convoId"))
        messages, cursor = _page(list(reversed(convo["messages"])), call.params, 50)
        answer: dict[str, Any] = {"messages": messages}
        if cursor:
            answer["cursor"] = cursor
        return answer

    def send_message(self, call: Call) -> Any:
        body = call.body if isinstance(call.body, dict) else {}
        convo = self._convo(str(body.get("convoId", "")))
        message = body.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            raise _invalid("Input/message/text must be a string")
        now = dt.datetime.now(dt.UTC)
        view = {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": tid(now, next(self.fake._numbers)),
            "rev": tid(now, 7),
            "text": message["text"],
            "sender": {"did": BRAND_DID},
            "sentAt": format_time(now),
        }
        if message.get("facets"):
            view["facets"] = message["facets"]
        convo["messages"].append(view)
        return view

    def _convo(self, convo_id: str) -> dict[str, Any]:
        if convo_id not in self.fake.convos:
            raise _invalid("Convo not found", "InvalidConvo")
        return self.fake.convos[convo_id]


def _is_post(view: object) -> bool:
    return (
        isinstance(view, dict)
        and isinstance(view.get("record"), dict)
        and isinstance(view["record"].get("text"), str)
    )


def _check_post_record(record: object) -> None:
    """What the PDS checks of an app.bsky.feed.post: types, 300 graphemes, facet ranges."""
    if not isinstance(record, dict) or record.get("$type") != "app.bsky.feed.post":
        raise _invalid("Invalid app.bsky.feed.post record: $type", "InvalidRecord")
    text = record.get("text")
    if not isinstance(text, str):
        raise _invalid(
            "Invalid app.bsky.feed.post record: Record/text must be a string", "InvalidRecord"
        )
    if len(text) > 300 or len(text.encode()) > 3000:
        raise _invalid(
            "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            "InvalidRecord",
        )
    try:
        parse_time(str(record.get("createdAt")))
    except ValueError as error:
        raise _invalid(
            "Invalid app.bsky.feed.post record: Record/createdAt must be a datetime",
            "InvalidRecord",
        ) from error
    size = len(text.encode())
    for facet in record.get("facets") or []:
        index = facet["index"]
        if not 0 <= index["byteStart"] < index["byteEnd"] <= size:
            raise _invalid("Invalid app.bsky.feed.post record: facet out of range", "InvalidRecord")


ROUTES = {
    ("POST", "com.atproto.server.createSession"): ("create_session", False),
    ("POST", "com.atproto.server.refreshSession"): ("refresh_session", False),
    ("GET", "com.atproto.server.getSession"): ("get_session", True),
    ("GET", "app.bsky.feed.searchPosts"): ("search_posts", True),
    ("GET", "app.bsky.notification.listNotifications"): ("list_notifications", True),
    ("GET", "app.bsky.feed.getPosts"): ("get_posts", True),
    ("GET", "com.atproto.identity.resolveHandle"): ("resolve_handle", True),
    ("GET", "app.bsky.actor.getProfile"): ("get_profile", True),
    ("GET", "app.bsky.actor.getProfiles"): ("get_profiles", True),
    ("POST", "com.atproto.repo.createRecord"): ("create_record", True),
    ("GET", "com.atproto.repo.getRecord"): ("get_record", True),
    ("GET", "chat.bsky.convo.getConvoForMembers"): ("get_convo_for_members", True),
    ("GET", "chat.bsky.convo.getMessages"): ("get_messages", True),
    ("POST", "chat.bsky.convo.sendMessage"): ("send_message", True),
}


def _bearer(call: Call) -> str:
    value = call.headers.get("authorization", "")
    return value[len("Bearer ") :] if value.startswith("Bearer ") else ""


def _handler(fake: FakeBluesky) -> type[BaseHTTPRequestHandler]:
    routes = _Routes(fake)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            nsid = split.path.removeprefix("/xrpc/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {name.lower(): value for name, value in self.headers.items()}
            call = Call(method, nsid, parse_qs(split.query), headers, body)
            with fake.lock:
                fake.calls.append(call)
                fault = fake.faults.get(nsid, []).pop(0) if fake.faults.get(nsid) else None
                if fault is not None:
                    self._send(fault.status, fault.body, fault.headers)
                    return
                try:
                    answer = self._answer(method, nsid, call, headers)
                except XrpcFailure as failure:
                    self._json(failure.status, {"error": failure.error, "message": failure.message})
                    return
            self._json(200, answer)

        def _answer(self, method: str, nsid: str, call: Call, headers: dict[str, str]) -> Any:
            route = ROUTES.get((method, nsid))
            if route is None:
                raise XrpcFailure(501, "MethodNotImplemented", "Method Not Implemented")
            name, needs_auth = route
            if nsid.startswith("chat.bsky.") and headers.get("atproto-proxy") != CHAT_PROXY:
                raise XrpcFailure(501, "MethodNotImplemented", "Method Not Implemented")
            if needs_auth:
                self._authenticate(call)
                if nsid.startswith("chat.bsky.") and not fake.dm_scope:
                    raise _invalid("Bad token scope", "InvalidToken")
            return getattr(routes, name)(call)

        def _authenticate(self, call: Call) -> None:
            token = _bearer(call)
            if not token:
                raise XrpcFailure(401, "AuthenticationRequired", "Authentication Required")
            state = fake.access_tokens.get(token)
            if state is None:
                raise _invalid("Token could not be verified", "InvalidToken")
            if state == "expired":
                raise _invalid("Token has expired", "ExpiredToken")

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), {})

        def _send(self, status: int, raw: bytes, headers: dict[str, str]) -> None:
            with fake.lock:
                fake.remaining = max(0, fake.remaining - 1)
                remaining = fake.remaining
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            limits = {
                "RateLimit-Limit": str(RATE_LIMIT),
                "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": str(int(time.time()) + RATE_WINDOW_SECONDS),
                "RateLimit-Policy": f"{RATE_LIMIT};w={RATE_WINDOW_SECONDS}",
            }
            limits.update(headers)
            for name, value in limits.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def running_bluesky() -> Iterator[FakeBluesky]:
    fake = FakeBluesky()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
