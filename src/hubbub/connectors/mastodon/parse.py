"""Mastodon's JSON → RawPost: statuses, notifications and accounts, defensively.

Everything here is pure: no HTTP, no database. A status that cannot become
a post (not an object, no `uri`, a date that is not a date, HTML past the
size Hubbub reads) is a `Rejection` with a reason a person can act on; a
field of the wrong type that a post can do without (a follower count that
is a string) is left empty instead.

Decisions:
- `external_id` is the status `uri`, the ActivityPub id that every server
  gives the same post; `id` is only this instance's number for it (kept in
  the payload, which is the status as the instance sent it).
- A reblog (boost) becomes the reblogged status: the customer's words are
  the post, and the same post boosted twice is stored once.
- `author_handle` is always `user@domain`: the instance's own accounts come
  with a bare `acct`, and two sources on two instances must name one person
  the same way.
- A content warning (`spoiler_text`) is part of what the customer said: it
  leads the text as "CW: …".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from html.parser import HTMLParser
from typing import Any

import nh3

from hubbub.connectors.base import Profile, excerpt
from hubbub.listening.types import RawPost, Rejection

PLATFORM = "mastodon"
# A toot is 500 characters on most servers and a few thousand on some; 100,000
# characters of HTML is no post but a flood (or an attack on the parser).
MAX_CONTENT_CHARS = 100_000
MAX_NAME_CHARS = 200
# Tags a status's HTML uses (Mastodon's own sanitiser allows about these).
ALLOWED_TAGS = {"p", "br", "a", "span", "strong", "b", "em", "i", "del", "code", "pre"}
ALLOWED_TAGS |= {"blockquote", "ul", "ol", "li"}
_BLOCKS = {"p", "blockquote", "pre", "ul", "ol"}
_SKIPPED = {"script", "style", "template"}


class _TextOf(HTMLParser):
    """Plain text of status HTML: <br> and paragraphs become line breaks, entities are
    unescaped, and what is inside <script>/<style> is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in ("br", "li"):
            self.parts.append("\n")
        elif tag == "a":
            values = dict(attrs)
            classes = (values.get("class") or "").split()
            href = values.get("href") or ""
            # Mentions and hashtags are links too; only the others are links the customer shared.
            if href.startswith(("http://", "https://")) and not {"mention", "hashtag"} & set(
                classes
            ):
                self.links.append(href)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def text_of_html(content: str) -> tuple[str, tuple[str, ...]]:
    """(plain text, the links it shares) of a status's HTML.

    Mastodon shortens long links for display with hidden spans; their text
    joined back is the whole URL, so the plain text has the real link.
    """
    parser = _TextOf()
    parser.feed(content)
    parser.close()
    lines = "".join(parser.parts).split("\n")
    text = "\n".join(line.rstrip() for line in lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text, tuple(dict.fromkeys(parser.links))


def sanitized_html(content: str) -> str:
    return nh3.clean(content, tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow")


class BadStatus(ValueError):
    """A status that cannot become a post; the message is the reason shown to a person."""


def status_to_post(
    status: object, *, workspace_id: int, source_id: int | None, domain: str
) -> RawPost:
    """The post a status (or the status a reblog carries) stands for; raises BadStatus."""
    if not isinstance(status, dict):
        raise BadStatus(f"The status is a {type(status).__name__}, not an object.")
    reblogged = status.get("reblog")
    if isinstance(reblogged, dict):
        status = reblogged
    uri = status.get("uri")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise BadStatus("The status has no uri (the id every server gives it).")
    local_id = id_of(status)
    if not local_id:
        raise BadStatus("The status has no id.")
    posted_at = time_of(status.get("created_at"))
    if posted_at is None:
        raise BadStatus("The status's created_at is missing or not a date.")
    content = status.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise BadStatus("The status's content is not text.")
    if len(content) > MAX_CONTENT_CHARS:
        raise BadStatus(
            f"The status's content is {len(content):,} characters of HTML, more than the "
            f"{MAX_CONTENT_CHARS:,} Hubbub reads."
        )
    account = status.get("account")
    if not isinstance(account, dict):
        raise BadStatus("The status has no account.")
    handle = handle_of(account, domain)
    if not handle:
        raise BadStatus("The status's account has no acct (user name).")
    body, links = text_of_html(content)
    spoiler = _plain(status.get("spoiler_text"))
    safe_html = sanitized_html(content)
    if spoiler:
        body = f"CW: {spoiler}\n\n{body}".strip()
        safe_html = f"<p>CW: {html.escape(spoiler)}</p>{safe_html}"
    if not body:
        body = _media_descriptions(status.get("media_attachments"))
    if not body:
        raise BadStatus("The status has no text (media without descriptions only).")
    card = status.get("card")
    if isinstance(card, dict) and isinstance(card.get("url"), str):
        links = tuple(dict.fromkeys((*links, card["url"])))
    url = status.get("url") if isinstance(status.get("url"), str) else ""
    return RawPost(
        workspace_id=workspace_id,
        source_id=source_id,
        platform=PLATFORM,
        external_id=uri,
        text=body,
        html=safe_html,
        posted_at=posted_at,
        url=url or uri,
        lang=_plain(status.get("language"))[:35],
        author_handle=handle,
        author_name=name_of(account),
        author_external_id=account_id_of(account, handle),
        author_followers=count_of(account.get("followers_count")),
        author_following=count_of(account.get("following_count")),
        expanded_urls=links,
        payload=status,
    )


def link_replies(posts: list[RawPost]) -> list[RawPost]:
    """Set reply_to_external_id where the parent is in the same batch.

    Mastodon names a status's parent by this instance's id only; the parent's
    uri is known without another request only when it came in the same page.
    Otherwise reply_to_external_id stays "" and the payload keeps in_reply_to_id.
    """
    uri_of = {str(post.payload.get("id")): post.external_id for post in posts}
    linked: list[RawPost] = []
    for post in posts:
        parent = post.payload.get("in_reply_to_id")
        parent_uri = uri_of.get(str(parent)) if parent else None
        if parent_uri and parent_uri != post.external_id:
            post = dataclasses.replace(post, reply_to_external_id=parent_uri)
        linked.append(post)
    return linked


def rejection(item: object, error: BadStatus) -> Rejection:
    external_id = ""
    if isinstance(item, dict):
        inner = item.get("status") if isinstance(item.get("status"), dict) else item
        uri = inner.get("uri") if isinstance(inner, dict) else None
        external_id = uri if isinstance(uri, str) else id_of(item)
    return Rejection(reason=str(error), external_id=external_id[:255], excerpt=excerpt(item))


def id_of(item: object) -> str:
    """A Mastodon id (a string of digits, sometimes sent as a number), or ""."""
    if not isinstance(item, dict):
        return ""
    value = item.get("id")
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return ""


def newer(candidate: str, than: str) -> bool:
    """Whether id `candidate` is newer than `than` on one instance.

    Ids are strings of digits of growing length: compare by (length, text),
    as Mastodon's documentation advises, never as numbers of one width.
    """
    if not candidate:
        return False
    if not than:
        return True
    return (len(candidate), candidate) > (len(than), than)


def time_of(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def handle_of(account: dict[str, Any], domain: str) -> str:
    """user@domain for every account: the instance's own accounts get its host."""
    acct = _plain(account.get("acct")).lstrip("@")
    if not acct:
        return ""
    if "@" not in acct and domain:
        acct = f"{acct}@{domain}"
    return acct.lower()


def name_of(account: dict[str, Any]) -> str:
    """The display name as the person typed it: plain text, never parsed as HTML
    (a name like "<b>Tom</b>" is those characters), control characters dropped."""
    name = _plain(account.get("display_name"))
    return "".join(ch for ch in name if ch.isprintable())[:MAX_NAME_CHARS]


def account_id_of(account: dict[str, Any], handle: str) -> str:
    """The ActivityPub id of the account where the server gives one (the same on every
    server), else its profile URL, else its handle: never the instance's own number."""
    for key in ("uri", "url"):
        value = account.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return handle


def count_of(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def account_to_profile(account: object, domain: str) -> Profile:
    """A Profile from an Account entity; raises BadStatus if it is not one."""
    if not isinstance(account, dict):
        raise BadStatus("The account is not an object.")
    handle = handle_of(account, domain)
    if not handle:
        raise BadStatus("The account has no acct (user name).")
    note, _ = text_of_html(account["note"]) if isinstance(account.get("note"), str) else ("", ())
    fields = account.get("fields")
    fields = fields if isinstance(fields, list) else []
    verified_links = [
        _plain(field.get("name"))
        for field in fields
        if isinstance(field, dict) and field.get("verified_at")
    ]
    avatar = account.get("avatar")
    url = account.get("url")
    return Profile(
        handle=handle,
        name=name_of(account),
        external_id=account_id_of(account, handle),
        url=url if isinstance(url, str) else "",
        avatar_url=avatar if isinstance(avatar, str) else "",
        description=note,
        followers=count_of(account.get("followers_count")),
        following=count_of(account.get("following_count")),
        posts=count_of(account.get("statuses_count")),
        # Mastodon verifies links in a profile (rel="me"), not people.
        verified=False,
        created_at=time_of(account.get("created_at")),
        extra={
            "bot": account.get("bot") is True,
            "locked": account.get("locked") is True,
            "verified_links": verified_links,
            "local_id": id_of(account),
        },
    )


def _plain(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _media_descriptions(media: object) -> str:
    """The descriptions (alt text) of a status's media: the words of a post that has no text."""
    if not isinstance(media, list):
        return ""
    described = [
        f"[{_plain(item.get('type')) or 'media'}: {_plain(item.get('description'))}]"
        for item in media
        if isinstance(item, dict) and _plain(item.get("description"))
    ]
    return "\n".join(described)
