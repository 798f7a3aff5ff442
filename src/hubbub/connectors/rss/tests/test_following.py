"""A feed source followed by the shared polling loop, end to end, in its own thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import read_cursor
from hubbub.connectors.rss import connector
from hubbub.connectors.rss.tests.fake import Entry, FakeFeeds, Feed, forum_entries, running_feeds
from hubbub.connectors.tests.following import Following, stored_ids, wait_for
from hubbub.listening.models import RejectedItem, SourceKind, SourceStatus
from hubbub.listening.tests.factories import SourceFactory


@pytest.fixture
def feeds(settings: Any) -> Iterator[FakeFeeds]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_feeds() as fake:
        yield fake


@pytest.mark.django_db(transaction=True)
def test_a_followed_feed_stores_each_entry_once_and_asks_only_for_changes(
    committed_cast: Cast, feeds: FakeFeeds
) -> None:
    feed = Feed("rss", "Brightwave Community – Latest", forum_entries(3))
    feed.publish(Entry(title="", text="", id="https://forum.brightwave.test/t/empty"))
    feeds.feeds["/forum.rss"] = feed
    source = SourceFactory(
        workspace=committed_cast.brightwave,
        kind=SourceKind.RSS,
        settings={"url": feeds.at("/forum.rss")},
    )
    with Following(source.pk, connector.poll):
        wait_for(lambda: len(stored_ids(source)) == 3, "the first entries")
        wait_for(lambda: feeds.requests_to("/forum.rss")[-1].status == 304, "a 304")
        newer = forum_entries(2, start=3)
        for entry in newer:
            feed.publish(entry)
        wait_for(lambda: len(stored_ids(source)) == 5, "the new entries")
        polls = len(feeds.seen)
        wait_for(lambda: len(feeds.seen) > polls + 2, "a few more polls")

    source.refresh_from_db()
    assert sorted(stored_ids(source)) == sorted(e.id for e in feed.entries if e.title)
    assert source.status == SourceStatus.ACTIVE
    assert read_cursor(source.cursor)["etag"]
    (rejected,) = RejectedItem.objects.filter(source=source)
    assert rejected.reason == "The entry has neither a title nor any text."
    assert source.rejected_count == 1
