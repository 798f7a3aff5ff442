"""Keyword search and @-mentions: paging, resuming with overlap, no duplicates, bad input
set aside, and the shared polling loop end to end."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator

import pytest
from django.test import override_settings

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import Batch, ConnectorError, SourceConfig, read_cursor
from hubbub.connectors.bluesky import connector
from hubbub.connectors.bluesky.tests.fake import (
    APP_PASSWORD,
    BRAND_HANDLE,
    FakeBluesky,
    customer_texts,
    format_time,
    running_bluesky,
)
from hubbub.listening.models import InboundPost, RejectedItem, Source, SourceKind, SourceStatus

SEARCH = "app.bsky.feed.searchPosts"
NOTIFICATIONS = "app.bsky.notification.listNotifications"


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    with running_bluesky() as fake, override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.0/8"]):
        yield fake


def config(fake: FakeBluesky, cursor: str = "", **settings: object) -> SourceConfig:
    return SourceConfig(
        source_id=1,
        workspace_id=1,
        kind="bluesky",
        settings={"service": fake.url, "mode": "search", "query": "tesco", **settings},
        credentials={"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD},
        cursor=cursor,
    )


def drain(fake: FakeBluesky, cursor: str, **settings: object) -> tuple[list[Batch], str]:
    """Poll as the loop would while the source says it has more; the batches and the cursor."""
    batches: list[Batch] = []
    while True:
        batch = connector.poll(config(fake, cursor, **settings))
        batches.append(batch)
        cursor = batch.cursor
        if not batch.more:
            return batches, cursor


def uris(batches: list[Batch]) -> list[str]:
    return [post.external_id for batch in batches for post in batch.posts]


def minutes_ago(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)


def publish_tesco(fake: FakeBluesky, count: int, *, start: float, offset: int = 0) -> list[str]:
    """`count` customer posts about Tesco, one a minute, the first `start` minutes ago."""
    texts = customer_texts("tesco", offset + count)[offset:]
    return [
        fake.publish(text, fake.customer(300 + offset + n), at=minutes_ago(start - n))["uri"]
        for n, text in enumerate(texts)
    ]


@pytest.mark.django_db
def test_a_new_search_reads_the_latest_page_only(bluesky: FakeBluesky) -> None:
    published = publish_tesco(bluesky, 5, start=30)
    batch = connector.poll(config(bluesky, page_size=3))
    assert uris([batch]) == list(reversed(published))[:3]
    assert not batch.more
    (call,) = bluesky.calls_to(SEARCH)
    assert call.params["sort"] == ["latest"]
    assert call.params["limit"] == ["3"]
    assert "since" not in call.params
    assert read_cursor(batch.cursor)["newest"] is not None


@pytest.mark.django_db
def test_search_pages_through_what_is_new_and_resumes_with_overlap_without_duplicates(
    bluesky: FakeBluesky,
) -> None:
    first = publish_tesco(bluesky, 3, start=20)
    batches, cursor = drain(bluesky, "", page_size=3)
    assert uris(batches) == list(reversed(first))
    newest = read_cursor(cursor)["newest"]

    later = publish_tesco(bluesky, 5, start=12, offset=3)
    batches, cursor = drain(bluesky, cursor, page_size=3)

    got = uris(batches)
    assert sorted(got) == sorted(later)  # every new post, once; nothing seen before
    assert len(batches) == 3  # 5 new + 3 seen within the overlap, 3 a page
    calls = bluesky.calls_to(SEARCH)[1:]
    overlap_start = dt.datetime.fromisoformat(newest) - connector.OVERLAP
    assert {call.params["since"][0] for call in calls} == {format_time(overlap_start)}
    assert [call.params.get("cursor") for call in calls] == [None, ["3"], ["6"]]
    assert read_cursor(cursor).get("page") is None

    batches, _ = drain(bluesky, cursor, page_size=3)
    assert uris(batches) == []


@pytest.mark.django_db
def test_a_changed_query_starts_afresh(bluesky: FakeBluesky) -> None:
    publish_tesco(bluesky, 2, start=10)
    _, cursor = drain(bluesky, "")
    batch = connector.poll(config(bluesky, cursor, query="refund"))
    assert "since" not in bluesky.calls_to(SEARCH)[-1].params
    assert read_cursor(batch.cursor)["query"] == "refund"


@pytest.mark.django_db
def test_mentions_replies_and_quotes_of_the_brand_are_read_from_notifications(
    bluesky: FakeBluesky,
) -> None:
    texts = customer_texts("@AmazonHelp", 5)
    maya, tom = bluesky.customer(115850, "Maya"), bluesky.customer(115851, "Tom")
    brand_post = bluesky.publish(
        "Our fibre network is back to normal.", bluesky.brand, at=minutes_ago(40)
    )
    mention = bluesky.publish(texts[0], maya, at=minutes_ago(30))
    reply = bluesky.publish(texts[1], tom, at=minutes_ago(20), reply_to=brand_post["uri"])
    quote = bluesky.publish(texts[2], maya, at=minutes_ago(10))
    for view, reason in ((mention, "mention"), (reply, "reply"), (quote, "quote")):
        bluesky.notify(view, reason)
    bluesky.notify(brand_post, "like")  # not a post to answer

    batches, cursor = drain(bluesky, "", mode="mentions")
    posts = {post.external_id: post for batch in batches for post in batch.posts}
    assert set(posts) == {mention["uri"], reply["uri"], quote["uri"]}
    assert posts[reply["uri"]].reply_to_external_id == brand_post["uri"]
    assert posts[mention["uri"]].author_name == "Maya"
    call = bluesky.calls_to(NOTIFICATIONS)[0]
    assert call.params["reasons"] == ["mention", "reply", "quote"]

    newer = bluesky.publish(texts[3], tom, at=minutes_ago(1))
    bluesky.notify(newer, "mention")
    batches, _ = drain(bluesky, cursor, mode="mentions")
    assert uris(batches) == [newer["uri"]]


@pytest.mark.django_db
def test_mentions_page_back_to_the_newest_seen_before(bluesky: FakeBluesky) -> None:
    texts = customer_texts("@Tesco", 9)
    customer = bluesky.customer(116000)
    for n, text in enumerate(texts[:2]):
        bluesky.notify(bluesky.publish(text, customer, at=minutes_ago(60 - n)), "mention")
    _, cursor = drain(bluesky, "", mode="mentions", page_size=2)
    fresh = []
    for n, text in enumerate(texts[2:]):
        view = bluesky.publish(text, customer, at=minutes_ago(30 - n))
        bluesky.notify(view, "mention")
        fresh.append(view["uri"])
    batches, _ = drain(bluesky, cursor, mode="mentions", page_size=2)
    assert sorted(uris(batches)) == sorted(fresh)
    # Nine notifications, two a page: the two seen before (within the overlap) are
    # read again, not stored again.
    assert len(batches) == 5


@pytest.mark.django_db
def test_a_page_that_is_not_json_is_a_transient_error(bluesky: FakeBluesky) -> None:
    bluesky.fail_next(SEARCH, 200, b'{"posts": [{"uri": "at://did:plc:x/app.bsky.fe')
    with pytest.raises(ConnectorError) as failed:
        connector.poll(config(bluesky))
    assert failed.value.transient
    assert failed.value.code == "malformed"


@pytest.mark.django_db
def test_a_page_without_a_list_of_posts_is_a_transient_error(bluesky: FakeBluesky) -> None:
    bluesky.fail_next(SEARCH, 200, {"posts": {"uri": "at://x"}, "cursor": "25"})
    with pytest.raises(ConnectorError, match="without a list of posts") as failed:
        connector.poll(config(bluesky))
    assert failed.value.transient


@pytest.mark.django_db
def test_a_server_error_is_transient(bluesky: FakeBluesky) -> None:
    bluesky.fail_next(SEARCH, 502, {"error": "UpstreamFailure", "message": "Upstream Failure"})
    with pytest.raises(ConnectorError, match="Upstream") as failed:
        connector.poll(config(bluesky))
    assert failed.value.transient


@pytest.mark.django_db
def test_a_refused_page_token_restarts_the_read_instead_of_failing(bluesky: FakeBluesky) -> None:
    publish_tesco(bluesky, 2, start=10)
    _, cursor = drain(bluesky, "")
    publish_tesco(bluesky, 4, start=5, offset=2)
    batch = connector.poll(config(bluesky, cursor, page_size=2))
    assert batch.more
    bluesky.fail_next(SEARCH, 400, {"error": "InvalidRequest", "message": "Malformed cursor"})
    batches, _ = drain(bluesky, batch.cursor, page_size=2)
    assert len(uris([batch, *batches])) == 4


def source_for(cast: Cast, fake: FakeBluesky, **settings: object) -> Source:
    return Source.objects.create(
        workspace=cast.brightwave,
        name="Bluesky: tesco",
        kind=SourceKind.BLUESKY,
        settings={"service": fake.url, "mode": "search", "query": "tesco", **settings},
        credentials=json.dumps({"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD}),
    )


@pytest.mark.django_db
def test_bad_posts_are_kept_as_rejected_items_and_the_good_ones_are_stored(
    cast: Cast, bluesky: FakeBluesky
) -> None:
    good = publish_tesco(bluesky, 2, start=10)
    broken = bluesky.publish(customer_texts("tesco", 3)[2], bluesky.customer(9), at=minutes_ago(9))
    del broken["author"]
    bluesky.add_raw_post({"cid": "bafyrei", "record": {"text": "tesco, no uri"}}, minutes_ago(8))
    oversize = bluesky.publish("tesco " * 2000, bluesky.customer(10), at=minutes_ago(7))
    bluesky.add_raw_post("tesco is not an object", minutes_ago(6))
    source = source_for(cast, bluesky)

    batch = connector.poll(polling.config_of(source))
    polling.store_batch(polling.config_of(source), batch)

    stored = set(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))
    assert stored == set(good)
    rejected = set(RejectedItem.objects.filter(source=source).values_list("external_id", "reason"))
    assert rejected == {
        (broken["uri"], "the post has no author"),
        (oversize["uri"], "the post's text is 12,000 characters long (at most 10,000)"),
        ("", "the post has no at:// URI"),
        ("", "the post is not a JSON object"),
    }
    source.refresh_from_db()
    assert source.rejected_count == 4
    assert source.cursor == batch.cursor
    assert source.rate_limit_limit == 3000
    assert source.rate_limit_remaining is not None


def wait_until(condition: object, stop: threading.Event, seconds: float = 20.0) -> None:
    """Wait for `condition()` while the follower runs (never an assertion about time)."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        stop.wait(0.05)


def follow_in_thread(source: Source, stop: threading.Event) -> threading.Thread:
    def follow() -> None:
        from django.db import connection

        try:
            connector.follow(source.pk, stop)
        finally:
            connection.close()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_the_polling_loop_stores_posts_from_a_search_source(
    committed_cast: Cast, bluesky: FakeBluesky
) -> None:
    published = publish_tesco(bluesky, 4, start=15)
    source = source_for(committed_cast, bluesky, poll_seconds=5, page_size=2)
    stop = threading.Event()
    thread = follow_in_thread(source, stop)
    wait_until(lambda: InboundPost.objects.filter(source=source).count() >= 2, stop)
    later = publish_tesco(bluesky, 3, start=2, offset=4)
    wait_until(lambda: InboundPost.objects.filter(source=source).count() >= 5, stop)
    stop.set()
    thread.join(10)
    stored = set(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))
    # A new source starts at the latest page (two posts); later ones all come, once.
    assert stored == set(published[-2:]) | set(later)
    source.refresh_from_db()
    assert source.status == SourceStatus.ACTIVE
    assert source.accepted_count == 5


@pytest.mark.django_db(transaction=True)
def test_a_rate_limit_makes_the_loop_wait_until_the_reset(
    committed_cast: Cast, bluesky: FakeBluesky
) -> None:
    reset = bluesky.rate_limit_next(SEARCH, reset_in_seconds=600)
    source = source_for(committed_cast, bluesky, poll_seconds=5)
    stop = threading.Event()
    thread = follow_in_thread(source, stop)

    def limited() -> bool:
        return Source.objects.get(pk=source.pk).rate_limited_until is not None

    wait_until(limited, stop)
    stop.set()
    thread.join(10)
    source.refresh_from_db()
    assert source.rate_limited_until is not None
    # Backoff never comes sooner than the reset the platform named.
    assert source.rate_limited_until.timestamp() >= reset - 1
    assert "rate limit" in source.last_error
    assert source.status == SourceStatus.ACTIVE  # waiting, not failing
    assert len(bluesky.calls_to(SEARCH)) == 1
