"""One read of a Mastodon source: a page of each of its feeds, as one Batch.

The Batch's cursor covers exactly the items in it: each one is a post, a
rejection, or something the source deliberately does not take (a
notification that is not a mention), so the cursor never passes an item
that was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubbub.connectors.base import Batch, RateBudget, SourceConfig, read_cursor, write_cursor
from hubbub.connectors.mastodon import client, parse
from hubbub.listening.types import RawPost, Rejection


@dataclass
class Collected:
    """Posts and rejections gathered from items, and the newest id seen per feed."""

    posts: list[RawPost] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    newest: dict[str, str] = field(default_factory=dict)

    def advance(self, key: str, item_id: str) -> None:
        if parse.newer(item_id, self.newest.get(key, "")):
            self.newest[key] = item_id


def read_batch(config: SourceConfig) -> Batch:
    """A page of each of the source's feeds from the cursor; raises ConnectorError."""
    base = client.instance_of(config)
    token = client.token_of(config)
    cursor = read_cursor(config.cursor)
    collected = Collected()
    more = False
    budget: RateBudget | None = None
    feeds = client.feeds_of(config)
    domain = client.local_domain(base, token=token)
    for feed in feeds:
        since = str(cursor.get(feed.key) or "")
        page = client.read_page(base, feed, token=token, min_id=since)
        budget = page.budget
        take_items(config, feed.key, feed.items, page.items, collected, domain)
        # The server's own "newer than this page" link covers items it filtered out.
        after = client.query_value(page.links.get("prev", ""), "min_id")
        if page.items:
            collected.advance(feed.key, after)
        more = more or len(page.items) >= client.PAGE_SIZE
    return Batch(
        posts=parse.link_replies(collected.posts),
        cursor=cursor_after(cursor, collected.newest),
        rejected=collected.rejected,
        more=more,
        budget=budget,
    )


def take_items(
    config: SourceConfig,
    key: str,
    kind: str,
    items: list[object],
    collected: Collected,
    domain: str,
) -> None:
    """Turn a page's items (statuses, or notifications of kind `kind`) into posts."""
    for item in items:
        item_id = parse.id_of(item)
        try:
            status = notification_status(item) if kind == "notifications" else item
            if status is None:  # a follow or a favourite: nothing a person wrote to the brand
                collected.advance(key, item_id)
                continue
            post = parse.status_to_post(
                status,
                workspace_id=config.workspace_id,
                source_id=config.source_id,
                domain=domain,
            )
        except parse.BadStatus as error:
            collected.rejected.append(parse.rejection(item, error))
        else:
            collected.posts.append(post)
        collected.advance(key, item_id)


def notification_status(item: object) -> object | None:
    """The status of a mention notification, or None for other kinds of notification;
    raises BadStatus for a notification that is broken."""
    if not isinstance(item, dict):
        raise parse.BadStatus(f"The notification is a {type(item).__name__}, not an object.")
    if item.get("type") != "mention":
        return None
    status: object = item.get("status")
    if status is None:
        raise parse.BadStatus("The mention notification has no status.")
    return status


def cursor_after(cursor: dict[str, object], newest: dict[str, str]) -> str:
    """The cursor moved to the newest ids seen; an id never moves backwards."""
    moved = dict(cursor)
    for key, item_id in newest.items():
        if parse.newer(item_id, str(moved.get(key) or "")):
            moved[key] = item_id
    return write_cursor(moved)
