"""A Hacker News source followed by the shared polling loop, end to end, in its own thread."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import read_cursor
from hubbub.connectors.hackernews import connector
from hubbub.connectors.hackernews.tests.fake import FakeAlgolia, customer_texts, running_algolia
from hubbub.connectors.tests.following import Following, stored_ids, wait_for
from hubbub.listening.models import InboundPost, RejectedItem, SourceKind, SourceStatus
from hubbub.listening.tests.factories import SourceFactory

T0 = int(time.time()) - 3600


@pytest.fixture
def algolia(settings: Any) -> Iterator[FakeAlgolia]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_algolia() as fake:
        yield fake


@pytest.mark.django_db(transaction=True)
def test_a_followed_source_stores_every_mention_once_and_keeps_up(
    committed_cast: Cast, algolia: FakeAlgolia
) -> None:
    texts = customer_texts("applesupport")
    first = [algolia.add_comment(T0 + n, texts[n])["objectID"] for n in range(9)]
    algolia.add_hit(
        {"objectID": "41999999", "created_at_i": "soon", "comment_text": "x", "_tags": ["comment"]},
        created_at_i=T0 + 20,
        kind="comment",
        searchable="applesupport",
    )
    source = SourceFactory(
        workspace=committed_cast.brightwave,
        kind=SourceKind.HACKERNEWS,
        settings={
            "base_url": algolia.url,
            "query": "AppleSupport",
            "page_size": 2,
            "overlap_seconds": 0,
        },
    )
    with Following(source.pk, connector.poll):
        wait_for(lambda: len(stored_ids(source)) == 9, "the first mentions")
        later = [algolia.add_comment(T0 + 100 + n, texts[20 + n])["objectID"] for n in range(3)]
        wait_for(lambda: len(stored_ids(source)) == 12, "the later mentions")
        polls = len(algolia.searches())
        wait_for(lambda: len(algolia.searches()) > polls + 2, "a few more polls")

    source.refresh_from_db()
    assert sorted(stored_ids(source)) == sorted(first + later)
    assert all(
        platform == "hackernews"
        for platform in InboundPost.objects.filter(source=source).values_list("platform", flat=True)
    )
    assert source.status == SourceStatus.ACTIVE
    assert source.last_read_at is not None
    assert read_cursor(source.cursor)["newest"] == T0 + 102
    (rejected,) = RejectedItem.objects.filter(source=source)
    assert rejected.external_id == "41999999"
    assert rejected.reason == "The hit has no valid creation time (created_at_i)."
    assert source.rejected_count == 1


@pytest.mark.django_db(transaction=True)
def test_a_source_whose_search_is_refused_is_marked_failing_and_stops(
    committed_cast: Cast, algolia: FakeAlgolia
) -> None:
    algolia.fail_next(400, {"message": "Invalid tag filter: (story", "status": 400})
    source = SourceFactory(
        workspace=committed_cast.brightwave,
        kind=SourceKind.HACKERNEWS,
        settings={"base_url": algolia.url, "query": "AppleSupport", "tags": "(story"},
    )
    with Following(source.pk, connector.poll) as following:
        following.thread.join(timeout=30)
        assert not following.thread.is_alive()
    source.refresh_from_db()
    assert source.status == SourceStatus.FAILING
    assert "Invalid tag filter" in source.last_error
    assert source.cursor == ""
