"""Bluesky: listen by keyword search or to the brand's @-mentions, reply in public, message
in private, read profiles.

Source settings: `service` (the PDS or entryway, default https://bsky.social),
`mode` ("search", "mentions" or "jetstream"), `query` (search), `poll_seconds`,
`page_size`. Credentials: `identifier` (handle or DID) and `app_password`.

Both polled modes read newest first and resume at-least-once: the cursor
keeps the newest time seen and a bounded set of recently seen at:// URIs,
asks again from a few minutes before that time, and skips what it saw (the
InboundPost unique key catches whatever the set has forgotten). While one
read spans several pages, the cursor also holds the page token, so a
restart continues the same read instead of skipping its older pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from hubbub.connectors.base import (
    Batch,
    Capabilities,
    ConnectorError,
    Profile,
    SourceConfig,
    excerpt,
    read_cursor,
    write_cursor,
)
from hubbub.connectors.bluesky import parse, richtext
from hubbub.connectors.bluesky.client import (
    CHAT_PROXY,
    DEFAULT_SERVICE,
    Client,
    XrpcError,
    credentials_from_secret,
)
from hubbub.connectors.outbound import Account, Delivered, Outgoing, SendError, Visibility
from hubbub.core import clock
from hubbub.listening.types import RawPost, Rejection

CAPABILITIES = Capabilities(listen=True, reply=True, private_message=True, profile=True)

SEARCH, MENTIONS, JETSTREAM = "search", "mentions", "jetstream"
MODES = (SEARCH, MENTIONS, JETSTREAM)
# Notifications that are someone talking to or about the brand (not likes, follows…).
REASONS = ("mention", "reply", "quote")
# Re-read this much before the newest post seen: posts are indexed a little out of order.
OVERLAP = dt.timedelta(minutes=3)
# URIs remembered for skipping repeats; the overlap rarely holds more.
SEEN_KEPT = 1000
PAGE_SIZE = 100  # the most searchPosts and listNotifications give per page
POST = "app.bsky.feed.post"


# --- listening ---------------------------------------------------------------------


def poll(config: SourceConfig) -> Batch:
    """Read the next page of a search or mentions source (see the module docstring)."""
    mode = mode_of(config)
    client = client_for(config)
    if mode == SEARCH:
        return _poll_search(config, client)
    if mode == MENTIONS:
        return _poll_mentions(config, client)
    raise ConnectorError(
        "A Jetstream source is followed, not polled.", transient=False, code="wrong_mode"
    )


def follow(source_id: int, stop: threading.Event) -> None:
    """Follow a source: Jetstream for mode "jetstream", else the shared polling loop."""
    from hubbub.connectors import polling

    config = polling.source_config(source_id)
    if config is None:
        return
    if mode_of(config) == JETSTREAM:
        # Imported here: the WebSocket follower is its own module, loaded only when used.
        from hubbub.connectors.bluesky.jetstream import follow_jetstream

        follow_jetstream(source_id, stop)
        return
    polling.run(source_id, stop, poll)


def check(config: SourceConfig) -> str:
    """Sign in (or renew the stored session) and say as whom. Raises ConnectorError."""
    mode = mode_of(config)
    if mode == SEARCH and not config.setting("query").strip():
        raise ConnectorError("A Bluesky search source needs a query.", transient=False)
    session = client_for(config).verify()
    return f"Signed in as @{session.handle}"


def mode_of(config: SourceConfig) -> str:
    mode = config.setting("mode", SEARCH).strip().lower() or SEARCH
    if mode not in MODES:
        raise ConnectorError(
            f"Unknown Bluesky mode {mode!r}: use one of {', '.join(MODES)}.", transient=False
        )
    return mode


def client_for(config: SourceConfig) -> Client:
    return Client(
        service=config.setting("service", DEFAULT_SERVICE),
        identifier=config.credentials.get("identifier", ""),
        app_password=config.credentials.get("app_password", ""),
    )


@dataclass
class _Page:
    """What one page gave: posts to store, items refused, and the newest time among them."""

    posts: list[RawPost] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    newest: dt.datetime | None = None


def _read_items(
    items: list[Any], *, config: SourceConfig, seen: set[str], older_than: dt.datetime | None
) -> tuple[_Page, bool]:
    """Turn a page into posts and rejections, skipping what was seen.

    Returns the page and whether it reached items older than `older_than`
    (so that paging further back would only repeat them).
    """
    page = _Page()
    reached_old = False
    for item in items:
        uri = item.get("uri") if isinstance(item, dict) else None
        uri = uri if isinstance(uri, str) else ""
        when = parse.sort_time(item) if isinstance(item, dict) else None
        if when is not None:
            page.newest = max(page.newest or when, when)
            if older_than is not None and when < older_than:
                reached_old = True
        if uri and uri in seen:
            continue
        if uri:
            page.uris.append(uri)
            seen.add(uri)
        try:
            post = parse.post_of(item, workspace_id=config.workspace_id, source_id=config.source_id)
        except parse.Unusable as problem:
            page.rejected.append(Rejection(str(problem), external_id=uri, excerpt=excerpt(item)))
            continue
        page.posts.append(post)
    return page, reached_old


def _items(body: object, key: str) -> list[Any]:
    """The list of posts or notifications in an answer; a page without one is the
    server's fault, maybe passing, and must not move the cursor."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ConnectorError(
            f"Bluesky answered without a list of {key}.", transient=True, code="malformed"
        )
    return items


def _next_token(body: dict[str, Any]) -> str:
    token = body.get("cursor")
    return token if isinstance(token, str) else ""


def _state(config: SourceConfig, mode: str, query: str = "") -> dict[str, Any]:
    """The stored cursor, or a new one when the source's mode or query changed."""
    state = read_cursor(config.cursor)
    if state.get("mode") != mode or state.get("query", "") != query:
        return {"mode": mode, "query": query}
    return state


def _seen_of(state: dict[str, Any]) -> list[str]:
    seen = state.get("seen")
    return [uri for uri in seen if isinstance(uri, str)] if isinstance(seen, list) else []


def _remember(state: dict[str, Any], seen: list[str], page: _Page) -> None:
    state["seen"] = (list(reversed(page.uris)) + seen)[:SEEN_KEPT]


def _later(first: dt.datetime | None, second: dt.datetime | None) -> dt.datetime | None:
    times = [time for time in (first, second) if time is not None]
    # Never later than now: a newest time in the future would skip posts to come.
    return min(max(times), clock.now()) if times else None


def _page_size(config: SourceConfig) -> int:
    try:
        size = int(config.settings.get("page_size") or PAGE_SIZE)
    except (TypeError, ValueError):
        size = PAGE_SIZE
    return max(1, min(PAGE_SIZE, size))


def _poll_search(config: SourceConfig, client: Client) -> Batch:
    """app.bsky.feed.searchPosts, sort=latest, since = newest seen − OVERLAP.

    A new source reads only the latest page (no backfill of all history).
    """
    query = config.setting("query").strip()
    if not query:
        raise ConnectorError("A Bluesky search source needs a query.", transient=False)
    state = _state(config, SEARCH, query)
    seen = _seen_of(state)
    newest = parse.parse_time(state.get("newest"))
    token = state.get("page") if isinstance(state.get("page"), str) else ""
    if token:
        since = parse.parse_time(state.get("run_since"))
    else:
        since = newest - OVERLAP if newest else None
    params: dict[str, Any] = {
        "q": query,
        "sort": "latest",
        "limit": _page_size(config),
        "since": parse.format_time(since) if since else None,
        "cursor": token or None,
    }
    try:
        body = client.get("app.bsky.feed.searchPosts", params)
    except XrpcError:
        if not token:
            raise
        # The lexicon warns that search cursors may not scroll through everything: a
        # refused page token restarts the read from its top; the seen URIs skip repeats.
        body = client.get("app.bsky.feed.searchPosts", {**params, "cursor": None})
    items = _items(body, "posts")
    page, reached_old = _read_items(items, config=config, seen=set(seen), older_than=since)
    next_token = _next_token(body)
    # The server stops at `since`; a page older than that means it ignored `since`.
    more = bool(next_token and items and not reached_old and newest is not None)
    return _batch(state, seen, page, more=more, token=next_token, since=since, client=client)


def _poll_mentions(config: SourceConfig, client: Client) -> Batch:
    """app.bsky.notification.listNotifications for mentions, replies and quotes, newest
    first, back to the newest one seen before (less OVERLAP)."""
    state = _state(config, MENTIONS)
    seen = _seen_of(state)
    newest = parse.parse_time(state.get("newest"))
    token = state.get("page") if isinstance(state.get("page"), str) else ""
    since = newest - OVERLAP if newest else None
    params: dict[str, Any] = {
        "reasons": list(REASONS),
        "limit": _page_size(config),
        "cursor": token or None,
    }
    body = client.get("app.bsky.notification.listNotifications", params)
    items = _items(body, "notifications")
    # A server that ignores `reasons` sends likes and follows too: they are not posts.
    wanted = [item for item in items if not isinstance(item, dict) or item.get("reason") in REASONS]
    recent = [item for item in wanted if not _older(item, since)]
    page, reached_old = _read_items(recent, config=config, seen=set(seen), older_than=None)
    reached_old = reached_old or len(recent) < len(wanted)
    next_token = _next_token(body)
    more = bool(next_token and items and not reached_old and newest is not None)
    return _batch(state, seen, page, more=more, token=next_token, since=since, client=client)


def _older(item: object, since: dt.datetime | None) -> bool:
    if since is None or not isinstance(item, dict):
        return False
    indexed = parse.parse_time(item.get("indexedAt"))
    return indexed is not None and indexed < since


def _batch(
    state: dict[str, Any],
    seen: list[str],
    page: _Page,
    *,
    more: bool,
    token: str,
    since: dt.datetime | None,
    client: Client,
) -> Batch:
    """The page as a Batch, with the cursor moved past it."""
    _remember(state, seen, page)
    _advance(state, page, more=more, token=token, since=since)
    return Batch(
        posts=page.posts,
        cursor=write_cursor(state),
        rejected=page.rejected,
        more=more,
        budget=client.budget,
    )


def _advance(
    state: dict[str, Any], page: _Page, *, more: bool, token: str, since: dt.datetime | None
) -> None:
    """Move the cursor: mid-read, keep the page token and the read's newest time aside;
    at the end of a read, make that time the one the next read starts from."""
    run_newest = _later(parse.parse_time(state.get("run_newest")), page.newest)
    if more:
        state["page"] = token
        state["run_since"] = parse.format_time(since) if since else None
        state["run_newest"] = parse.format_time(run_newest) if run_newest else None
        return
    newest = _later(parse.parse_time(state.get("newest")), run_newest)
    state["newest"] = parse.format_time(newest) if newest else None
    for key in ("page", "run_since", "run_newest"):
        state.pop(key, None)


# --- profiles ------------------------------------------------------------------------


def fetch_profile(config: SourceConfig, handle: str) -> Profile:
    """app.bsky.actor.getProfile for a handle or DID. Raises ConnectorError."""
    body = client_for(config).get("app.bsky.actor.getProfile", {"actor": _actor(handle)})
    return _profile(body)


def fetch_profiles(config: SourceConfig, handles: list[str]) -> list[Profile]:
    """app.bsky.actor.getProfiles, 25 at a time; unknown accounts are left out."""
    client = client_for(config)
    profiles: list[Profile] = []
    actors = [_actor(handle) for handle in handles]
    for start in range(0, len(actors), 25):
        body = client.get("app.bsky.actor.getProfiles", {"actors": actors[start : start + 25]})
        views = body.get("profiles") if isinstance(body, dict) else None
        for view in views if isinstance(views, list) else []:
            try:
                profiles.append(parse.profile_of(view))
            except parse.Unusable:
                continue
    return profiles


def _actor(handle: str) -> str:
    return handle.strip().lstrip("@")


def _profile(body: object) -> Profile:
    try:
        return parse.profile_of(body)
    except parse.Unusable as problem:
        raise ConnectorError(
            f"Bluesky sent an unusable profile: {problem}.", transient=True, code="malformed"
        ) from problem


# --- sending -------------------------------------------------------------------------


def send(account: Account, outgoing: Outgoing) -> Delivered:
    """A public reply (a post record threaded under the customer's) or a direct message.

    A retried reply is posted once: its record key is derived from the
    idempotency key, so a second createRecord collides with the first, and
    the record already there is the delivery. Raises SendError / ConnectorError.
    """
    identifier, password = credentials_from_secret(account.secret)
    client = Client(
        service=account.base_url or DEFAULT_SERVICE, identifier=identifier, app_password=password
    )
    if outgoing.visibility == Visibility.DIRECT:
        return _send_direct(client, outgoing)
    return _send_post(client, outgoing)


def _send_post(client: Client, outgoing: Outgoing) -> Delivered:
    record: dict[str, Any] = {
        "$type": POST,
        "text": outgoing.text,
        "createdAt": parse.format_time(clock.now()),
    }
    if outgoing.in_reply_to:
        parent, root, langs = _thread_of(client, outgoing.in_reply_to)
        record["reply"] = {"root": root.to_json(), "parent": parent.to_json()}
        if langs:
            record["langs"] = langs  # Answer in the language the customer wrote in.
    facets = richtext.facets_for(outgoing.text, lambda handle: _resolve(client, handle))
    if facets:
        record["facets"] = facets
    body: dict[str, Any] = {"repo": client.did, "collection": POST, "record": record}
    rkey = ""
    if outgoing.idempotency_key:
        rkey = record_key(outgoing.idempotency_key, outgoing.in_reply_to, outgoing.text)
        body["rkey"] = rkey
    try:
        created = client.post("com.atproto.repo.createRecord", body)
    except ConnectorError as error:
        if not rkey or error.code == "authentication_failed":
            raise
        # The key is taken when an earlier attempt got through (its answer lost, or
        # the job retried after it): the PDS refuses the duplicate (a 500 from the
        # reference PDS for now), and the record there is this message.
        existing = _existing_post(client, rkey)
        if existing is None:
            raise
        if existing[1] != outgoing.text:
            raise SendError(
                "Bluesky already has a different post under this message's record key.",
                transient=False,
                code="record_key_taken",
            ) from error
        return Delivered(existing[0], parse.post_url(client.handle, existing[0]))
    uri = created.get("uri") if isinstance(created, dict) else None
    if not isinstance(uri, str) or not uri:
        raise SendError("Bluesky answered the post without its URI.", transient=True)
    return Delivered(uri, parse.post_url(client.handle, uri))


def _thread_of(client: Client, uri: str) -> tuple[parse.StrongRef, parse.StrongRef, list[str]]:
    """(parent, root, langs) for a reply to `uri`: a reply to a reply keeps its thread's root."""
    body = client.get("app.bsky.feed.getPosts", {"uris": [uri]})
    posts = body.get("posts") if isinstance(body, dict) else None
    view = posts[0] if isinstance(posts, list) and posts else None
    parent = parse.strong_ref(view)
    if view is None or parent is None:
        raise SendError(
            "Bluesky no longer shows the post being answered (deleted, or its author "
            "blocks the brand).",
            transient=False,
            code="not_found",
        )
    record = view.get("record") if isinstance(view, dict) else None
    record = record if isinstance(record, dict) else {}
    reply = record.get("reply")
    root = parse.strong_ref(reply.get("root")) if isinstance(reply, dict) else None
    langs = record.get("langs")
    first_lang = (
        [langs[0]] if isinstance(langs, list) and langs and isinstance(langs[0], str) else []
    )
    return parent, root or parent, first_lang


def _existing_post(client: Client, rkey: str) -> tuple[str, str] | None:
    """(uri, text) of the brand's post under `rkey`, or None if there is none."""
    try:
        body = client.get(
            "com.atproto.repo.getRecord", {"repo": client.did, "collection": POST, "rkey": rkey}
        )
    except XrpcError as error:
        if error.error in ("RecordNotFound", "InvalidRequest", "NotFound"):
            return None
        raise
    uri = body.get("uri") if isinstance(body, dict) else None
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(uri, str) or not isinstance(value, dict):
        return None
    text = value.get("text")
    return uri, text if isinstance(text, str) else ""


def _resolve(client: Client, handle: str) -> str | None:
    """The DID of a handle, or None when Bluesky does not know it."""
    if handle.startswith("did:"):
        return handle
    try:
        body = client.get("com.atproto.identity.resolveHandle", {"handle": handle})
    except XrpcError:
        return None
    did = body.get("did") if isinstance(body, dict) else None
    return did if isinstance(did, str) and did.startswith("did:") else None


# Why a recipient cannot be messaged, as chat.bsky.convo.getConvoForMembers says it.
_CLOSED_INBOX = {
    "MessagesDisabled": "does not accept direct messages",
    "NotFollowedBySender": "accepts direct messages only from accounts they follow",
    "BlockedActor": "has blocked the brand, or the brand blocks them",
    "BlockedSubject": "has blocked the brand, or the brand blocks them",
    "RecipientNotFound": "has no Bluesky chat account",
    "AccountSuspended": "cannot be messaged (the account is suspended)",
    "ConvoLocked": "cannot be messaged (the conversation is locked)",
}


def _send_direct(client: Client, outgoing: Outgoing) -> Delivered:
    """chat.bsky.convo.getConvoForMembers, then sendMessage, through the chat proxy.

    Bluesky's chat has no idempotency key, so a retry first looks at the
    brand's latest messages in the conversation (since the customer last
    wrote): the same text there means the earlier attempt got through.
    """
    name = outgoing.recipient_handle.strip().lstrip("@")
    recipient = _resolve(client, name)
    if not recipient:
        raise SendError(f"Bluesky does not know @{name}.", transient=False, code="not_found")
    try:
        body = client.get(
            "chat.bsky.convo.getConvoForMembers", {"members": [recipient]}, proxy=CHAT_PROXY
        )
    except XrpcError as error:
        raise _closed_inbox(name, error) from error
    convo = body.get("convo") if isinstance(body, dict) else None
    convo_id = convo.get("id") if isinstance(convo, dict) else None
    if not isinstance(convo_id, str) or not convo_id:
        raise SendError("Bluesky answered without a conversation id.", transient=True)
    url = f"https://bsky.app/messages/{convo_id}"
    already = _sent_since_customer(client, convo_id, outgoing.text)
    if already:
        return Delivered(already, url)
    message: dict[str, Any] = {"text": outgoing.text}
    facets = richtext.facets_for(outgoing.text, lambda handle: _resolve(client, handle))
    if facets:
        message["facets"] = facets
    try:
        sent = client.post(
            "chat.bsky.convo.sendMessage",
            {"convoId": convo_id, "message": message},
            proxy=CHAT_PROXY,
        )
    except XrpcError as error:
        raise _closed_inbox(name, error) from error
    message_id = sent.get("id") if isinstance(sent, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise SendError("Bluesky answered the message without its id.", transient=True)
    return Delivered(message_id, url)


def _sent_since_customer(client: Client, convo_id: str, text: str) -> str:
    """The id of a message with this text that the brand sent after the customer's
    latest one, or ""."""
    body = client.get(
        "chat.bsky.convo.getMessages", {"convoId": convo_id, "limit": 20}, proxy=CHAT_PROXY
    )
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:  # newest first
        if not isinstance(message, dict):
            continue
        sender = message.get("sender")
        if not isinstance(sender, dict) or sender.get("did") != client.did:
            return ""
        if message.get("text") == text and isinstance(message.get("id"), str):
            return str(message["id"])
    return ""


def _closed_inbox(name: str, error: XrpcError) -> SendError:
    reason = _CLOSED_INBOX.get(error.error)
    if reason is None:
        return SendError(error.message, transient=error.transient, code=error.code)
    return SendError(f"@{name} {reason}.", transient=False, code="recipient_closed")


# --- record keys -----------------------------------------------------------------------

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_MICROS = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_TID_SPAN_MICROS = 1 << 45  # about 13 months


def record_key(*parts: str) -> str:
    """A TID (the record key type of app.bsky.feed.post) derived from `parts`: the same
    parts give the same key on every attempt.

    A TID is 64 bits, top bit 0, then 53 bits of microseconds and 10 bits of
    "clock id", written in base32-sortable as 13 characters. The time is
    taken from the hash too, within a window in the past, so that a derived
    key never sorts ahead of the keys the brand's apps generate now. 55 bits
    of hash make two messages' keys collide only by freak chance; the text
    is one of the parts, so even then the collision is caught (see send).
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    micros = _TID_EPOCH_MICROS + (number >> 10) % _TID_SPAN_MICROS
    value = (micros << 10) | (number & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * shift)) & 31] for shift in range(12, -1, -1))
