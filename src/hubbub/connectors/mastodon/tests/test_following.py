"""Following Mastodon sources in their own thread, as the listener does: the polling
loop, and the streaming API with its REST back-fill after every reconnect."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import read_cursor
from hubbub.connectors.mastodon import connector
from hubbub.connectors.mastodon.tests.conftest import make_source
from hubbub.connectors.mastodon.tests.fake import FakeMastodon, customer_texts, running_mastodon
from hubbub.connectors.tests.following import wait_for
from hubbub.listening.models import InboundPost, RejectedItem, Source, SourceStatus

Status = dict[str, Any]


class Following:
    """A source followed in a thread until the test leaves the block."""

    def __init__(self, follow: Callable[[int, threading.Event], None], source_id: int) -> None:
        self.stop = threading.Event()
        self.follow = follow
        self.thread = threading.Thread(target=self._run, args=(source_id,), daemon=True)

    def _run(self, source_id: int) -> None:
        try:
            self.follow(source_id, self.stop)
        finally:
            connections.close_all()

    def __enter__(self) -> Following:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the follower did not stop"


class Customers:
    """Customers' posts (TWCS texts) tagged #brightwave, one after another."""

    def __init__(self, fake: FakeMastodon) -> None:
        self.fake = fake
        self.texts = iter(customer_texts(60))
        self.count = 0

    def post(self, *, publish: bool = True, mention: bool = False) -> Status:
        self.count += 1
        text = f"{next(self.texts)} #brightwave"
        if mention:
            text = f"@brightwave {text}"
        status = self.fake.status(text, user=f"customer{self.count}")
        return self.fake.publish(status, mention=mention) if publish else status


def stored(source: Source) -> list[str]:
    return sorted(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))


@pytest.fixture
def streaming(mastodon: FakeMastodon) -> FakeMastodon:
    mastodon.split_data = True  # each event's JSON over several data: lines
    return mastodon


@pytest.mark.django_db(transaction=True)
def test_a_stream_survives_a_drop_and_back_fills_what_was_posted_meanwhile(
    committed_cast: Cast, streaming: FakeMastodon
) -> None:
    customers = Customers(streaming)
    before = [customers.post(), customers.post()]
    source = make_source(committed_cast, streaming, mode="stream", stream="hashtag")
    with Following(connector.follow, source.pk):
        wait_for(lambda: streaming.connected_streams() == 1, "the stream to connect")
        wait_for(lambda: len(stored(source)) == 2, "the back-fill of the posts before")
        live = customers.post()
        wait_for(lambda: len(stored(source)) == 3, "a post to come down the stream")
        # The connection drops; two posts are written while nobody is connected.
        gap = [customers.post(publish=False), customers.post(publish=False)]
        streaming.publish_silently(gap)
        wait_for(lambda: len(stored(source)) == 5, "the back-fill after the reconnect")
        wait_for(lambda: streaming.connected_streams() == 1, "the stream to reconnect")
        after = customers.post()
        wait_for(lambda: len(stored(source)) == 6, "a post down the new stream")
    everything = [*before, live, *gap, after]
    assert stored(source) == sorted(status["uri"] for status in everything)
    assert InboundPost.objects.filter(source=source).count() == 6  # none twice
    source.refresh_from_db()
    assert read_cursor(source.cursor) == {"tag": after["id"]}
    assert source.status == SourceStatus.ACTIVE
    backfills = streaming.requests_to("/api/v1/timelines/tag/brightwave")
    assert backfills[0].query.get("min_id") is None  # a new source starts from now
    assert [live["id"]] in [request.query.get("min_id") for request in backfills[1:]]
    streams = streaming.requests_to("/api/v1/streaming/hashtag")
    assert len(streams) == 2
    assert all(r.query["tag"] == ["brightwave"] for r in streams)
    assert all(r.headers["Authorization"] == "Bearer fake-mastodon-token" for r in streams)


@pytest.mark.django_db(transaction=True)
def test_a_user_stream_takes_mentions_and_the_home_timeline_and_rejects_broken_events(
    committed_cast: Cast, streaming: FakeMastodon
) -> None:
    customers = Customers(streaming)
    source = make_source(committed_cast, streaming, mode="stream", stream="user")
    with Following(connector.follow, source.pk):
        wait_for(lambda: streaming.connected_streams() == 1, "the stream to connect")
        streaming.send_event("update", '{"id": "1", "uri": ')
        streaming.send_event("delete", "113000000000001000")
        mention = customers.post(mention=True)  # comes as an update and as a notification
        wait_for(lambda: len(stored(source)) == 1, "the mention")
        wait_for(lambda: RejectedItem.objects.filter(source=source).exists(), "the rejection")
        home = customers.post()
        wait_for(lambda: len(stored(source)) == 2, "a post on the home timeline")
    assert stored(source) == sorted([mention["uri"], home["uri"]])
    (rejected,) = RejectedItem.objects.filter(source=source)
    assert rejected.reason == "The stream sent an update that is not JSON."
    assert rejected.excerpt == '{"id": "1", "uri": '
    source.refresh_from_db()
    assert read_cursor(source.cursor) == {
        "home": home["id"],
        "mentions": streaming.notifications[-1]["id"],
    }


@pytest.fixture
def streaming_host(settings: Any) -> Iterator[FakeMastodon]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_mastodon(host="streaming.brightwave.test") as fake:
        yield fake


@pytest.mark.django_db(transaction=True)
def test_a_stream_redirected_to_a_separate_streaming_host_is_followed_there(
    committed_cast: Cast, mastodon: FakeMastodon, streaming_host: FakeMastodon
) -> None:
    mastodon.streaming_redirect = streaming_host.url
    source = make_source(committed_cast, mastodon, mode="stream", stream="hashtag")
    with Following(connector.follow, source.pk):
        wait_for(lambda: streaming_host.connected_streams() == 1, "the streaming host")
        live = Customers(streaming_host).post()
        wait_for(lambda: len(stored(source)) == 1, "the post from the streaming host")
    assert stored(source) == [live["uri"]]
    (request,) = streaming_host.requests_to("/api/v1/streaming/hashtag")
    assert request.headers["Authorization"] == "Bearer fake-mastodon-token"


@pytest.mark.django_db
def test_a_stream_without_a_token_stops_and_says_the_token_is_needed(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    source = make_source(cast, mastodon, mode="stream", stream="hashtag", token=None)
    connector.follow(source.pk, threading.Event())  # returns: a person must act
    source.refresh_from_db()
    assert source.status == SourceStatus.FAILING
    assert "streaming API needs the brand account's access token" in source.last_error


@pytest.mark.django_db(transaction=True)
def test_a_polled_source_keeps_up_in_its_own_thread(
    committed_cast: Cast, mastodon: FakeMastodon
) -> None:
    customers = Customers(mastodon)
    first = [customers.post() for _ in range(3)]
    source = make_source(committed_cast, mastodon)

    def follow(source_id: int, stop: threading.Event) -> None:
        polling.run(source_id, stop, connector.poll, interval=0.05)

    with Following(follow, source.pk):
        wait_for(lambda: len(stored(source)) == 3, "the first poll")
        later = [customers.post() for _ in range(45)]
        wait_for(lambda: len(stored(source)) == 48, "the polls after")
    assert stored(source) == sorted(status["uri"] for status in first + later)
    source.refresh_from_db()
    assert read_cursor(source.cursor) == {"tag": later[-1]["id"]}
    assert source.rate_limit_limit == 300
    assert source.last_read_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_stream_stops_between_heartbeats_when_told_to(
    committed_cast: Cast, mastodon: FakeMastodon
) -> None:
    mastodon.heartbeat_seconds = 600  # silent for longer than the test may take
    source = make_source(committed_cast, mastodon, mode="stream", stream="hashtag")
    following = Following(connector.follow, source.pk)
    with following:
        wait_for(lambda: mastodon.connected_streams() == 1, "the stream to connect")
    assert not following.thread.is_alive()


def test_the_token_follows_a_redirect_only_to_the_same_site_over_https() -> None:
    from hubbub.connectors.mastodon.stream import may_carry_token

    origin = "https://mastodon.social/api/v1/streaming/hashtag?tag=brightwave"
    assert may_carry_token(origin, "https://streaming.mastodon.social/api/v1/streaming/hashtag")
    assert not may_carry_token(origin, "http://streaming.mastodon.social/api/v1/streaming")
    assert not may_carry_token(origin, "https://mastodon.social.evil.example/api/v1/streaming")
    assert not may_carry_token(origin, "https://evil.example/api/v1/streaming")
