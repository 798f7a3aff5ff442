"""Reddit: listen to searches and subreddits' new comments, reply, message, read profiles.

Settings: `{"mode": "search" | "subreddit_comments", "query": "...",
"subreddits": ["brightwave", ...], "auth_base", "api_base", "poll_seconds"}`;
credentials: a script app's `client_id`, `client_secret` and the account's
`username`, `password` (see client.py for signing in).

Listening. Each watched listing is a feed: the site-wide search
(`GET /search?q=&sort=new&type=link`; Reddit's API searches submissions
only), a search restricted to each listed subreddit, or each subreddit's
new comments (`GET /r/{sub}/comments`). Listings run newest first and page
with `after`. A poll walks each feed from the top until it reaches what an
earlier poll saw (older than the newest time seen, less an overlap for
posts the search index adds late), at most `MAX_PAGES` pages; when the
budget runs out first, the cursor keeps `after` and the next poll (at once:
`more`) continues the walk down, so nothing between is skipped (if the
post it stopped at is deleted, Reddit pages from it no more, and the walk
starts again from the top). Recent fullnames are kept to drop what the
overlap reads again. A new feed starts from its first page, not from
Reddit's whole history.

Sending. Reddit has no idempotency key, so each send notes its key before
posting (in a session kept per account); a retry with a noted key looks
for the brand's own comment (or sent message) with the same text before
posting again, and a key that was delivered returns what it delivered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
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
from hubbub.connectors.outbound import Account, Delivered, Outgoing, SendError, Visibility
from hubbub.connectors.reddit import parse
from hubbub.connectors.reddit.client import Login, RedditClient
from hubbub.connectors.sessions import load_session, session_key, update_session
from hubbub.core import clock
from hubbub.listening.types import RawPost, Rejection

CAPABILITIES = Capabilities(listen=True, reply=True, private_message=True, profile=True)

PAGE_SIZE = 100
# Pages per feed per poll: 100 requests a minute is Reddit's whole budget.
MAX_PAGES = 5
# Posts dated up to this long before the newest one seen are read again: Reddit's
# search index takes a while to add some posts, and they arrive out of order.
OVERLAP_SECONDS = 600.0
# Fullnames kept per feed to drop repeats within the overlap.
MAX_SEEN = 500
MAX_QUERY = 512  # Reddit's limit for a search query
MAX_MESSAGE = 10_000  # Reddit's limit for a comment or a private message
PM_SUBJECT = "About your post"
MAX_SENT_KEPT = 300
SENT_KEPT_DAYS = 30


# --- settings ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feed:
    """One listing a source follows: its key in the cursor, path and query parameters."""

    key: str
    path: str
    params: dict[str, str]


def feeds_of(config: SourceConfig) -> list[Feed]:
    """The feeds a source's settings ask for; raises ConnectorError for unusable settings."""
    mode = config.setting("mode", "search")
    subreddits = _subreddits(config.settings.get("subreddits"))
    if mode == "search":
        query = config.setting("query").strip()
        if not query or len(query) > MAX_QUERY:
            raise _settings_error(f"A Reddit search needs a query of 1 to {MAX_QUERY} characters.")
        params = {"q": query, "sort": "new", "type": "link", "t": "all"}
        if not subreddits:
            return [Feed(key=f"search:{query}", path="/search", params=params)]
        return [
            Feed(
                key=f"search:r/{sub.lower()}:{query}",
                path=f"/r/{sub}/search",
                params={**params, "restrict_sr": "1"},
            )
            for sub in subreddits
        ]
    if mode == "subreddit_comments":
        if not subreddits:
            raise _settings_error("Name at least one subreddit whose new comments to read.")
        return [
            Feed(key=f"comments:r/{sub.lower()}", path=f"/r/{sub}/comments", params={})
            for sub in subreddits
        ]
    raise _settings_error(f"Unknown Reddit mode {mode!r}: use search or subreddit_comments.")


def _subreddits(value: Any) -> list[str]:
    if value in (None, "", []):
        return []
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list):
        raise _settings_error("subreddits must be a list of names.")
    cleaned: list[str] = []
    for name in names:
        bare = str(name).strip().removeprefix("/").removeprefix("r/")
        if not parse.SUBREDDIT_NAME.match(bare):
            raise _settings_error(f"{str(name)[:40]!r} is not a subreddit name.")
        if bare.lower() not in {n.lower() for n in cleaned}:
            cleaned.append(bare)
    return cleaned


def _settings_error(message: str) -> ConnectorError:
    return ConnectorError(message, transient=False, code="settings")


# --- listening --------------------------------------------------------------------------


@dataclass
class FeedState:
    """Where a feed stands, as kept in the source's cursor.

    `newest`: the newest post time of the last finished walk (None: never read).
    `after` / `walk_newest`: a walk down the listing that a poll left unfinished.
    `seen`: fullname → post time, the recent ones, to drop repeats.
    """

    newest: float | None = None
    after: str | None = None
    walk_newest: float | None = None
    seen: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Any) -> FeedState:
        if not isinstance(value, dict):
            return cls()
        seen = value.get("seen")
        return cls(
            newest=_number(value.get("newest")),
            after=value["after"] if isinstance(value.get("after"), str) else None,
            walk_newest=_number(value.get("walk_newest")),
            seen={
                str(name): float(at)
                for name, at in (seen.items() if isinstance(seen, dict) else [])
                if _number(at) is not None
            },
        )

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"newest": self.newest, "seen": self.seen}
        if self.after:
            value["after"] = self.after
        if self.walk_newest is not None:
            value["walk_newest"] = self.walk_newest
        return value


@dataclass
class FeedRead:
    posts: list[RawPost] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    more: bool = False


def poll(config: SourceConfig) -> Batch:
    """One read of every feed of the source, from where its cursor says.

    Raises ConnectorError (transient ones back off in the polling loop); the
    cursor of a batch covers only the items in it.
    """
    feeds = feeds_of(config)
    client = RedditClient(Login.of_source(config))
    kept = read_cursor(config.cursor).get("feeds")
    kept = kept if isinstance(kept, dict) else {}
    states: dict[str, Any] = {}
    result = FeedRead()
    for feed in feeds:
        state = FeedState.of(kept.get(feed.key))
        read = read_feed(client, feed, state, config=config)
        result.posts.extend(read.posts)
        result.rejected.extend(read.rejected)
        result.more = result.more or read.more
        states[feed.key] = state.to_json()
    return Batch(
        posts=result.posts,
        cursor=write_cursor({"feeds": states}),
        rejected=result.rejected,
        more=result.more,
        budget=client.budget,
    )


def read_feed(
    client: RedditClient, feed: Feed, state: FeedState, *, config: SourceConfig
) -> FeedRead:
    """Walk one feed down from the top (or where the last poll stopped); updates `state`."""
    now = clock.now()
    read = FeedRead()
    first_read = state.newest is None and state.after is None
    boundary = None if state.newest is None else state.newest - OVERLAP_SECONDS
    walk_newest = state.walk_newest  # None unless a walk is under way
    after = state.after
    for page in range(1, MAX_PAGES + 1):
        params = {**feed.params, "limit": str(PAGE_SIZE), "after": after}
        listing = parse.listing_of(client.get(feed.path, params))
        if not listing.children and after is not None:
            # The post the walk stopped at is gone, and Reddit pages from it no more: walk
            # again from the top to the same boundary (what was read is in `seen`).
            after = None
            continue
        reached = False
        for child in listing.children:
            item = parse.parse_thing(
                child, workspace_id=config.workspace_id, source_id=config.source_id
            )
            if (
                item.created_utc is not None
                and boundary is not None
                and item.created_utc < boundary
            ):
                reached = True  # newest first: what follows was seen by an earlier walk
                continue
            key = item.fullname or _anonymous_key(child)
            if key in state.seen:
                continue
            at = None if item.created_utc is None else parse.capped_time(item.created_utc, now)
            # An item without a time is kept as seen now: it stays while the overlap can reach it.
            state.seen[key] = at if at is not None else now.timestamp()
            if at is not None:
                walk_newest = max(walk_newest or at, at)
            if item.post is not None:
                read.posts.append(item.post)
            elif item.rejection is not None:
                read.rejected.append(item.rejection)
        after = listing.after
        if reached or after is None or first_read:
            _finish_walk(state, walk_newest)
            return read
        if page == MAX_PAGES:
            break
    # The page budget ran out above what was seen: the next poll goes on from `after`.
    state.after, state.walk_newest, read.more = after, walk_newest, True
    _prune(state)
    return read


def _finish_walk(state: FeedState, walk_newest: float | None) -> None:
    if walk_newest is not None:
        state.newest = max(state.newest or walk_newest, walk_newest)
    state.after, state.walk_newest = None, None
    _prune(state)


def _prune(state: FeedState) -> None:
    """Keep the fullnames the overlap can still read again, at most MAX_SEEN of them."""
    newest = max(filter(None, (state.newest, state.walk_newest)), default=None)
    floor = newest - OVERLAP_SECONDS if newest is not None else None
    # During a walk down, everything it read must stay: the walk's top is still above.
    walking = state.walk_newest is not None
    recent = {
        name: at for name, at in state.seen.items() if floor is None or at >= floor or walking
    }
    state.seen = dict(sorted(recent.items(), key=lambda pair: -pair[1])[:MAX_SEEN])


def _anonymous_key(child: Any) -> str:
    """A key for an item without a fullname, so it is refused once, not on every poll."""
    return "?" + hashlib.sha256(excerpt(child, 2000).encode()).hexdigest()[:16]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --- check and profiles -------------------------------------------------------------------


def check(config: SourceConfig) -> str:
    """Sign in and ask who we are: "Signed in as u/brightwave_care"."""
    feeds_of(config)
    me = RedditClient(Login.of_source(config)).get("/api/v1/me")
    name = me.get("name") if isinstance(me, dict) else None
    if not isinstance(name, str) or not name:
        raise ConnectorError(
            "Reddit signed in but did not say which account.", transient=True, code="malformed"
        )
    return f"Signed in as u/{name}"


def fetch_profile(config: SourceConfig, handle: str) -> Profile:
    """A redditor's profile: karma and account age stand in for reach (Reddit hides followers)."""
    name = handle.strip().removeprefix("/").removeprefix("u/").removeprefix("@")
    if not parse.USER_NAME.match(name):
        raise ConnectorError(f"{handle[:40]!r} is not a Reddit user name.", transient=False)
    body = RedditClient(Login.of_source(config)).get(f"/user/{name}/about")
    data = body.get("data") if isinstance(body, dict) and body.get("kind") == "t2" else None
    if not isinstance(data, dict):
        raise ConnectorError(
            f"Reddit's profile of u/{name} was not a user.", transient=True, code="malformed"
        )
    return profile_of(data, name, now=clock.now())


def profile_of(data: dict[str, Any], name: str, *, now: dt.datetime) -> Profile:
    handle = data.get("name") if isinstance(data.get("name"), str) else name
    created = _number(data.get("created_utc"))
    created_at = dt.datetime.fromtimestamp(created, tz=dt.UTC) if created else None
    link, comment = _count(data.get("link_karma")), _count(data.get("comment_karma"))
    total = _count(data.get("total_karma"))
    if total is None and (link is not None or comment is not None):
        total = (link or 0) + (comment or 0)
    page: dict[str, Any] = data["subreddit"] if isinstance(data.get("subreddit"), dict) else {}
    extra: dict[str, Any] = {"karma": total, "link_karma": link, "comment_karma": comment}
    if created_at is not None:
        extra["account_age_days"] = max(0, (now - created_at).days)
    if data.get("is_suspended") is True:
        extra["suspended"] = True
    for flag in ("has_verified_email", "is_gold", "is_mod", "is_employee"):
        if isinstance(data.get(flag), bool):
            extra[flag] = data[flag]
    user_id = data.get("id")
    avatar = data.get("icon_img")
    return Profile(
        handle=str(handle),
        # The profile's title is plain text chosen by its owner; it stays text here.
        name=_text(page.get("title")) or str(handle),
        external_id=f"t2_{user_id}" if isinstance(user_id, str) and user_id else "",
        url=f"{parse.WEB}/user/{handle}/",
        avatar_url=avatar if isinstance(avatar, str) and avatar.startswith("https://") else "",
        description=_text(page.get("public_description")),
        # Followers of the profile page, where Reddit shows them.
        followers=_count(page.get("subscribers")),
        verified=data.get("verified") is True,
        created_at=created_at,
        extra=extra,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value[:2000] if isinstance(value, str) else ""


# --- sending ----------------------------------------------------------------------------


def send(account: Account, outgoing: Outgoing) -> Delivered:
    """A public reply (`POST /api/comment`) or a private message (`POST /api/compose`).

    Raises SendError: transient for Reddit's RATELIMIT (with its wait), 429
    and 5xx; permanent for refusals, with Reddit's reason in words.
    """
    try:
        login = Login.of_secret(account.secret, base_url=account.base_url)
        client = RedditClient(login)
        sent = SentLog(login)
        if outgoing.visibility == Visibility.DIRECT:
            return _send_message(client, sent, outgoing)
        return _reply(client, sent, outgoing)
    except SendError:
        raise
    except ConnectorError as error:
        raise SendError(
            error.message,
            transient=error.transient,
            retry_after_seconds=error.retry_after_seconds,
            code=error.code,
        ) from error


_LONE_NEWLINE = re.compile(r"(?<!\n)\n(?!\n)")


def markdown_lines(text: str) -> str:
    """The text with its line breaks kept on Reddit, whose Markdown joins lines unless they
    end in two spaces (the agent's signature would otherwise run on after the last word)."""
    return _LONE_NEWLINE.sub("  \n", text)


def _reply(client: RedditClient, sent: SentLog, outgoing: Outgoing) -> Delivered:
    parent = outgoing.in_reply_to.strip()
    if not parse.FULLNAME.match(parent) or parent[:3] not in ("t1_", "t3_", "t4_"):
        raise SendError(
            f"A Reddit reply needs the post's fullname (t1_… or t3_…), not {parent[:40]!r}.",
            transient=False,
        )
    _check_text(outgoing.text)
    text = markdown_lines(outgoing.text)

    def post() -> Delivered:
        body = client.post("/api/comment", {"api_type": "json", "thing_id": parent, "text": text})
        _raise_for(parse.api_errors(body), recipient=outgoing.recipient_handle)
        return _created_thing(body)

    return _once(sent, outgoing.idempotency_key, lambda: _own_reply(client, parent, text), post)


def _send_message(client: RedditClient, sent: SentLog, outgoing: Outgoing) -> Delivered:
    to = outgoing.recipient_handle.strip().removeprefix("/").removeprefix("u/").lstrip("@")
    if not parse.USER_NAME.match(to):
        raise SendError(
            f"{outgoing.recipient_handle[:40]!r} is not a Reddit user name.", transient=False
        )
    _check_text(outgoing.text)
    text = markdown_lines(outgoing.text)

    def post() -> Delivered:
        body = client.post(
            "/api/compose",
            {"api_type": "json", "to": to, "subject": PM_SUBJECT, "text": text},
        )
        _raise_for(parse.api_errors(body), recipient=to)
        # /api/compose answers only "no errors"; the sent folder names the message.
        try:
            return _own_message(client, to, text) or Delivered(external_id="")
        except ConnectorError:
            return Delivered(external_id="")

    return _once(sent, outgoing.idempotency_key, lambda: _own_message(client, to, text), post)


def _once(
    sent: SentLog,
    key: str,
    find_own: Callable[[], Delivered | None],
    post: Callable[[], Delivered],
) -> Delivered:
    """Post at most once per idempotency key: Reddit has no such key of its own.

    What was delivered is answered again; after an attempt whose outcome is
    unknown, the brand's own message with that text counts as delivered.
    """
    earlier = sent.find(key)
    if earlier is not None:
        return earlier
    if sent.attempted(key):
        found = find_own()
        if found is not None:
            sent.delivered(key, found)
            return found
    sent.attempt(key)
    delivered = post()
    sent.delivered(key, delivered)
    return delivered


def _check_text(text: str) -> None:
    if not text.strip():
        raise SendError("The message is empty.", transient=False)
    if len(text) > MAX_MESSAGE:
        raise SendError(
            f"Reddit takes at most {MAX_MESSAGE:,} characters; this has {len(text):,}.",
            transient=False,
        )


def _created_thing(body: Any) -> Delivered:
    """The new comment in `{"json": {"errors": [], "data": {"things": [{"kind", "data"}]}}}`."""
    data = body.get("json", {}).get("data") if isinstance(body, dict) else None
    things = data.get("things") if isinstance(data, dict) else None
    thing = things[0] if isinstance(things, list) and things else None
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        # It may well have been posted: a retry looks for it before posting again.
        raise SendError("Reddit's answer did not include the new comment.", transient=True)
    return _delivered(thing.get("kind"), thing["data"])


def _delivered(kind: Any, data: dict[str, Any]) -> Delivered:
    name = parse.fullname_of(kind, data)
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        url = parse.WEB + permalink
    elif name.startswith("t4_"):
        url = f"{parse.WEB}/message/messages/{name[3:]}"
    else:
        url = ""
    return Delivered(external_id=name, url=url)


def _own_reply(client: RedditClient, parent: str, text: str) -> Delivered | None:
    """The brand's comment under `parent` with this text, among its latest, if any."""
    if parent.startswith("t4_"):
        return _own_message(client, "", text, parent=parent)
    listing = parse.listing_of(
        client.get(
            f"/user/{client.login.username}/comments", {"sort": "new", "limit": str(PAGE_SIZE)}
        )
    )
    for child in listing.children:
        data = child.get("data") if isinstance(child, dict) else None
        if (
            isinstance(data, dict)
            and data.get("parent_id") == parent
            and _same_text(data.get("body"), text)
        ):
            return _delivered(child.get("kind"), data)
    return None


def _own_message(client: RedditClient, to: str, text: str, *, parent: str = "") -> Delivered | None:
    """The brand's sent message to `to` (or under `parent`) with this text, if any."""
    listing = parse.listing_of(client.get("/message/sent", {"limit": str(PAGE_SIZE)}))
    for child in listing.children:
        data = child.get("data") if isinstance(child, dict) else None
        if not isinstance(data, dict) or not _same_text(data.get("body"), text):
            continue
        dest = data.get("dest")
        if (parent and data.get("parent_id") == parent) or (
            to and isinstance(dest, str) and dest.lower() == to.lower()
        ):
            return _delivered(child.get("kind"), data)
    return None


def _same_text(posted: Any, text: str) -> bool:
    # Reddit trims and normalises line ends; compare what it keeps.
    return isinstance(posted, str) and posted.split() == text.split()


REFUSALS = {
    "RESTRICTED_TO_PM": (
        "u/{to} accepts private messages only as chat requests, which the API cannot send: "
        "answer in public, or ask them to write to the brand."
    ),
    "NOT_WHITELISTED_BY_USER_MESSAGE": (
        "u/{to} accepts private messages only from people they trust: ask them to write "
        "to the brand first."
    ),
    "USER_DOESNT_EXIST": "u/{to} does not exist on Reddit (deleted or renamed?).",
    "USER_BLOCKED_MESSAGE": "u/{to} has blocked the brand's account.",
    "TOO_OLD": "The post is archived (too old to answer on Reddit).",
    "THREAD_LOCKED": "The thread is locked: Reddit takes no new comments there.",
    "DELETED_COMMENT": "The comment was deleted; there is nothing to answer.",
    "DELETED_LINK": "The post was deleted; there is nothing to answer.",
    "USER_REQUIRED": "Reddit did not accept the account's sign-in for this.",
}


def _raise_for(errors: list[parse.ApiError], *, recipient: str) -> None:
    """Raise the SendError the first refusal stands for; nothing when there is none."""
    if not errors:
        return
    error = errors[0]
    if error.code == "RATELIMIT":
        wait = parse.wait_seconds(error.message)
        raise SendError(
            f"Reddit asks the account to slow down: {error.message}",
            transient=True,
            retry_after_seconds=wait,
            code="rate_limited",
        )
    to = recipient.strip().removeprefix("u/").lstrip("@") or "the customer"
    template = REFUSALS.get(error.code)
    message = template.format(to=to) if template else f"Reddit refused: {error.message}"
    raise SendError(f"{message} ({error.code})", transient=False, code=error.code.lower())


class SentLog:
    """The idempotency keys an account sent with, and what each delivered.

    Kept in one session per account (a JSON dict; the newest MAX_SENT_KEPT keys
    of the last SENT_KEPT_DAYS days): `attempt` before posting, `delivered`
    after, so a retry knows whether a first try may have posted.
    """

    def __init__(self, login: Login) -> None:
        self.key = session_key(
            "reddit",
            login.api_base,
            f"{login.username}:sent",
            secret=f"{login.client_secret}:{login.password}",
        )

    def _entries(self) -> dict[str, Any]:
        kept = load_session(self.key) or {}
        entries = kept.get("sent")
        return entries if isinstance(entries, dict) else {}

    def find(self, key: str) -> Delivered | None:
        entry = self._entries().get(key) if key else None
        if isinstance(entry, dict) and isinstance(entry.get("external_id"), str):
            return Delivered(external_id=entry["external_id"], url=str(entry.get("url", "")))
        return None

    def attempted(self, key: str) -> bool:
        return bool(key) and key in self._entries()

    def attempt(self, key: str) -> None:
        self._write(key, {"at": clock.now().timestamp()})

    def delivered(self, key: str, delivered: Delivered) -> None:
        entry = {"at": clock.now().timestamp(), "external_id": delivered.external_id}
        self._write(key, {**entry, "url": delivered.url})

    def _write(self, key: str, entry: dict[str, Any]) -> None:
        if not key:
            return
        oldest = clock.now().timestamp() - SENT_KEPT_DAYS * 86400

        def with_entry(kept: dict[str, Any]) -> dict[str, Any]:
            earlier = kept.get("sent")
            entries = {
                name: value
                for name, value in (earlier if isinstance(earlier, dict) else {}).items()
                if isinstance(value, dict) and _number(value.get("at")) and value["at"] >= oldest
            }
            entries[key] = entry
            newest = sorted(entries.items(), key=lambda pair: -float(pair[1]["at"]))
            return {"sent": dict(newest[:MAX_SENT_KEPT])}

        # Under the session row's lock: two workers sending as one account keep both keys.
        update_session(self.key, with_entry)
