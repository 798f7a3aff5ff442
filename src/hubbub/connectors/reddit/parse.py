"""Reddit's JSON, turned into Hubbub's types: pure functions, no network.

A listing is `{"kind": "Listing", "data": {"after", "before", "children":
[{"kind": "t1" | "t3", "data": {...}}]}}`. Things are named by their
fullname (`t1_` comment, `t3_` submission, `t4_` message), which is the
external id of every post. Requests are made with `raw_json=1`, so text
fields arrive as written; `body_html` / `selftext_html` are HTML (still
escaped once when a server ignored `raw_json`, which `thing_html` undoes).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from dataclasses import dataclass
from typing import Any

import nh3

from hubbub.connectors.base import ConnectorError, excerpt
from hubbub.listening.types import RawPost, Rejection

PLATFORM = "reddit"
WEB = "https://www.reddit.com"
# Reddit's own ceiling for a self post's text (comments stop at 10,000): anything
# longer did not come from Reddit as it is and is refused rather than cut.
MAX_TEXT = 40_000
FULLNAME = re.compile(r"^t[1-6]_[0-9a-z]{1,13}$")
USER_NAME = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
SUBREDDIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
# Authors and bodies Reddit puts in place of what was deleted or removed.
GONE = frozenset({"[deleted]", "[removed]"})
# A post dated this far ahead has a wrong clock; it must not move the resume point.
FUTURE_SLACK_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Listing:
    children: list[Any]
    after: str | None


@dataclass(frozen=True, slots=True)
class Parsed:
    """One listing child: a post, or the reason it cannot be one.

    `fullname` is "" when the child did not say; `created_utc` is None when its
    time is missing or not a number.
    """

    fullname: str
    created_utc: float | None
    post: RawPost | None = None
    rejection: Rejection | None = None


def listing_of(body: Any) -> Listing:
    """The children and `after` of a listing; raises ConnectorError for anything else.

    Reddit answers an empty search with the string "{}" now and then: that is
    an empty listing, not an error.
    """
    if body == {}:
        return Listing(children=[], after=None)
    data = body.get("data") if isinstance(body, dict) else None
    children = data.get("children") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(children, list):
        raise ConnectorError(
            "Reddit answered with something that is not a listing: " + excerpt(body, 120),
            transient=True,
            code="malformed",
        )
    after = data.get("after")
    return Listing(children=children, after=after if isinstance(after, str) and after else None)


def parse_thing(child: Any, *, workspace_id: int, source_id: int | None) -> Parsed:
    """A listing child as a RawPost (t3 submission, t1 comment) or a Rejection."""
    if not isinstance(child, dict) or not isinstance(child.get("data"), dict):
        return _rejected("", None, "a listing item without data", child)
    kind, data = child.get("kind"), child["data"]
    fullname = fullname_of(kind, data)
    created = _created_utc(data.get("created_utc"))
    if kind not in ("t1", "t3"):
        return _rejected(fullname, created, f"not a post or a comment (kind {kind!r})", child)
    if not fullname:
        return _rejected("", created, "no fullname (name or id)", child)
    if created is None:
        return _rejected(fullname, None, "created_utc is missing or not a time", child)
    content = _content(kind, data)
    if isinstance(content, str):
        return _rejected(fullname, created, content, child)
    text, html_text = content
    author = data.get("author")
    author = author if isinstance(author, str) and author not in GONE else ""
    author_id = data.get("author_fullname")
    permalink = data.get("permalink")
    post = RawPost(
        workspace_id=workspace_id,
        source_id=source_id,
        platform=PLATFORM,
        external_id=fullname,
        text=text,
        posted_at=dt.datetime.fromtimestamp(created, tz=dt.UTC),
        url=WEB + permalink if isinstance(permalink, str) and permalink.startswith("/") else "",
        html=html_text,
        author_handle=author,
        author_external_id=author_id if author and isinstance(author_id, str) else "",
        reply_to_external_id=_string(data.get("parent_id")) if kind == "t1" else "",
        thread_root_external_id=_string(data.get("link_id")) if kind == "t1" else "",
        expanded_urls=_linked(kind, data),
        payload=child,
    )
    return Parsed(fullname=fullname, created_utc=created, post=post)


def fullname_of(kind: Any, data: dict[str, Any]) -> str:
    """`name` (t1_abc), else kind + "_" + id; "" when neither is a fullname."""
    name = data.get("name")
    if isinstance(name, str) and FULLNAME.match(name):
        return name
    thing_id = data.get("id")
    if isinstance(kind, str) and isinstance(thing_id, str):
        candidate = f"{kind}_{thing_id}"
        if FULLNAME.match(candidate):
            return candidate
    return ""


def thing_html(value: Any) -> str:
    """Reddit's rendered HTML, sanitised; "" when there is none."""
    if not isinstance(value, str) or not value:
        return ""
    # Without raw_json=1 (or from a proxy that drops it) the HTML is escaped once more.
    if value.lstrip().startswith("&lt;"):
        value = html.unescape(value)
    return nh3.clean(value, link_rel="noopener noreferrer nofollow")


def capped_time(created_utc: float, now: dt.datetime) -> float:
    """A post's time as a resume point: never further ahead than a clock can be wrong."""
    return min(created_utc, now.timestamp() + FUTURE_SLACK_SECONDS)


def _content(kind: str, data: dict[str, Any]) -> tuple[str, str] | str:
    """(text, sanitised html) of a thing, or why it has none (a str)."""
    if kind == "t3":
        title, selftext = data.get("title"), data.get("selftext")
        if not isinstance(title, str) or not title.strip():
            return "the submission has no title"
        if selftext is None or selftext in GONE:
            selftext = ""
        if not isinstance(selftext, str):
            return "selftext is not text"
        if len(title) > MAX_TEXT or len(selftext) > MAX_TEXT:
            longest = max(len(title), len(selftext))
            return f"text of {longest:,} characters, longer than Reddit allows ({MAX_TEXT:,})"
        text = f"{title}\n\n{selftext}" if selftext.strip() else title
        return text, thing_html(data.get("selftext_html")) if selftext else ""
    body = data.get("body")
    if not isinstance(body, str):
        return "the comment's body is not text"
    if body in GONE:
        return f"the comment was {body.strip('[]')} before Hubbub read it"
    if not body.strip():
        return "the comment is empty"
    if len(body) > MAX_TEXT:
        return f"text of {len(body):,} characters, longer than Reddit allows ({MAX_TEXT:,})"
    return body, thing_html(data.get("body_html"))


def _created_utc(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    # Before Reddit existed, or past what datetime can hold: not a time.
    if not math.isfinite(seconds) or not 1_000_000_000 <= seconds < 32_503_680_000:
        return None
    return seconds


def _linked(kind: str, data: dict[str, Any]) -> tuple[str, ...]:
    """The link a link submission points to (a self post links to itself)."""
    url = data.get("url")
    if kind != "t3" or data.get("is_self") is True or not isinstance(url, str):
        return ()
    return (url,) if url.startswith(("https://", "http://")) else ()


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _rejected(fullname: str, created: float | None, reason: str, child: Any) -> Parsed:
    return Parsed(
        fullname=fullname,
        created_utc=created,
        rejection=Rejection(reason=reason, external_id=fullname, excerpt=excerpt(child)),
    )


@dataclass(frozen=True, slots=True)
class ApiError:
    """One refusal in a write's answer: `["RATELIMIT", "Take a break…", "ratelimit"]`."""

    code: str
    message: str
    field: str = ""


def api_errors(body: Any) -> list[ApiError]:
    """The refusals in a write's answer, in either of Reddit's shapes.

    With `api_type=json`: 200 and `{"json": {"errors": [[code, message, field], ...]}}`.
    Newer endpoints: 400 and `{"reason": code, "explanation": message, "fields": [...]}`.
    """
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("reason"), str):
        fields = body.get("fields")
        field = fields[0] if isinstance(fields, list) and fields else ""
        message = body.get("explanation") or body.get("message") or body["reason"]
        return [ApiError(code=body["reason"], message=str(message), field=str(field))]
    wrapper = body.get("json")
    errors = wrapper.get("errors") if isinstance(wrapper, dict) else None
    if not isinstance(errors, list):
        return []
    found = []
    for error in errors:
        if isinstance(error, list) and error and isinstance(error[0], str):
            message = error[1] if len(error) > 1 and isinstance(error[1], str) else error[0]
            field = error[2] if len(error) > 2 and isinstance(error[2], str) else ""
            found.append(ApiError(code=error[0], message=message, field=field))
    return found


_WAIT = re.compile(r"(\d+(?:\.\d+)?)\s*(millisecond|second|minute|hour)s?", re.IGNORECASE)
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1.0, "minute": 60.0, "hour": 3600.0}


def wait_seconds(message: str) -> float | None:
    """The wait a RATELIMIT message names: "Try again in 9 minutes." → 540.0.

    Reddit words it several ways ("take a break for 5 minutes", "try again in
    59 seconds"); the first number with a unit is the one meant.
    """
    found = _WAIT.search(message)
    if found is None:
        return None
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()]
