"""Jetstream: live Bluesky posts in batches, resumed without loss, bad events set aside.

Every test runs the real follower against the local Jetstream in
jetstream_fake.py, over a real WebSocket, with real customer tweets as posts.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import SourceConfig
from hubbub.connectors.bluesky import jetstream
from hubbub.connectors.bluesky.jetstream import (
    COLLECTION,
    MAX_TEXT_CHARS,
    REWIND_US,
    JetstreamFollower,
    StreamOptions,
    parse_event,
)
from hubbub.connectors.bluesky.tests.jetstream_fake import (
    STEP_US,
    FakeJetstream,
    Frame,
    account_event,
    customer_events,
    delete_event,
    frame,
    identity_event,
    raw_frame,
    running_jetstream,
)
from hubbub.listening.models import InboundPost, RejectedItem, Source, SourceKind, SourceStatus
from hubbub.listening.types import raw_post_from_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]


def make_source(cast: Cast, fake: FakeJetstream, cursor: str = "", **settings: object) -> Source:
    return Source.objects.create(
        workspace=cast.brightwave,
        name="Bluesky firehose",
        kind=SourceKind.BLUESKY,
        settings={"mode": "jetstream", "jetstream_url": fake.url, **settings},
        cursor=cursor,
    )


@contextmanager
def following(source: Source, **options: Any) -> Iterator[JetstreamFollower]:
    """The follower in its own thread, as the listener runs it; stopped at the block's end."""
    follower = JetstreamFollower(source.pk, backoff=lambda failures, asked: 0.01, **options)
    stop = threading.Event()

    def run() -> None:
        try:
            follower.run(stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield follower
    finally:
        stop.set()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the follower did not stop"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something the follower does in its thread (a deadline, not a timing check)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.02)


def stored_ids(source: Source) -> list[str]:
    return list(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))


def uri_of(event: dict[str, Any]) -> str:
    return f"at://{event['did']}/{COLLECTION}/{event['commit']['rkey']}"


def cursor_of(source: Source) -> int:
    source.refresh_from_db()
    value: int = json.loads(source.cursor)["time_us"]
    return value


# --- posts -------------------------------------------------------------------------


def test_customer_posts_become_inbound_posts_with_their_fields(cast: Cast) -> None:
    events = customer_events(200)
    with running_jetstream([frame(event) for event in events]) as fake:
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(lambda: follower.stored == 200, "all 200 events are stored")

    assert sorted(stored_ids(source)) == sorted(uri_of(event) for event in events)
    reply = next(
        e
        for e in events
        if "reply" in e["commit"]["record"]
        and any("#link" in str(f) for f in e["commit"]["record"].get("facets", []))
    )
    row = InboundPost.objects.get(external_id=uri_of(reply))
    post = raw_post_from_json(row.post)
    record = reply["commit"]["record"]
    assert (row.platform, post.platform) == ("bluesky", "bluesky")
    assert post.text == record["text"]
    assert post.url == f"https://bsky.app/profile/{reply['did']}/post/{reply['commit']['rkey']}"
    assert (post.author_external_id, post.author_handle, post.author_name) == (
        reply["did"],
        reply["did"],
        "",
    )
    assert post.lang == "en"
    assert post.posted_at == dt.datetime.fromisoformat(record["createdAt"])
    assert post.reply_to_external_id == record["reply"]["parent"]["uri"]
    assert post.thread_root_external_id == record["reply"]["root"]["uri"]
    links = [
        feature["uri"]
        for facet in record["facets"]
        for feature in facet["features"]
        if feature["$type"].endswith("#link")
    ]
    assert post.expanded_urls == tuple(links)
    assert post.html == ""
    assert row.post["payload"] == reply
    assert cursor_of(source) == events[-1]["time_us"]
    (subscription,) = fake.subscriptions
    assert subscription.path == "/subscribe"
    assert subscription.query["wantedCollections"] == [COLLECTION]
    assert subscription.cursor is None  # a new source starts at the live tail


def test_keywords_keep_only_posts_whose_text_has_one_in_any_case(cast: Cast) -> None:
    events = customer_events(300)
    expected = [
        uri_of(e)
        for e in events
        if "order" in e["commit"]["record"]["text"].lower()
        or "iphone" in e["commit"]["record"]["text"].lower()
    ]
    assert 0 < len(expected) < len(events)
    with running_jetstream([frame(event) for event in events]) as fake:
        source = make_source(cast, fake, keywords=["ORDER", "iPhone"])
        with following(source) as follower:
            wait_until(lambda: follower.stored == 300, "all 300 events are read and stored")

    assert sorted(stored_ids(source)) == sorted(expected)
    assert cursor_of(source) == events[-1]["time_us"]  # skipped events are behind the cursor too


def test_a_dropped_stream_resumes_rewound_and_stores_every_post_exactly_once(cast: Cast) -> None:
    step = 10_000  # 10 ms between events: the 5 s rewind replays 500 of them
    events = customer_events(1500, step_us=step)
    with running_jetstream([frame(event) for event in events]) as fake:
        fake.drop_after(800)
        fake.drop_after(400)
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(
                lambda: (
                    InboundPost.objects.filter(source=source).count() == 1500
                    and len(fake.subscriptions) == 3
                    and follower.stored >= fake.sent
                ),
                "every event is stored after two drops",
            )

    first, second, third = fake.subscriptions
    assert (first.dropped, second.dropped, third.dropped) == (True, True, False)
    # Everything read before the drop was stored: the next connection asks for
    # the last stored event's time, rewound.
    assert second.cursor == events[799]["time_us"] - REWIND_US
    assert third.cursor == events[799]["time_us"] - REWIND_US
    assert fake.sent > 1500  # replayed events arrived twice …
    ids = stored_ids(source)
    assert len(ids) == len(set(ids)) == 1500  # … and were stored once
    assert set(ids) == {uri_of(event) for event in events}
    source.refresh_from_db()
    assert source.accepted_count == 1500
    assert source.error_count == 2
    assert "closed" in source.last_error
    assert source.status == SourceStatus.ACTIVE
    assert cursor_of(source) == events[-1]["time_us"]


def test_a_stored_cursor_and_wanted_dids_are_asked_of_jetstream(cast: Cast) -> None:
    events = customer_events(40)
    wanted = sorted({events[0]["did"], events[1]["did"]})
    resume_at = events[20]["time_us"] + REWIND_US
    with running_jetstream([frame(event) for event in events]) as fake:
        source = make_source(
            cast, fake, cursor=json.dumps({"time_us": resume_at}), wanted_dids=wanted
        )
        with following(source) as follower:
            wait_until(lambda: len(fake.subscriptions) == 1, "the follower subscribes")
            wait_until(lambda: follower.stored >= fake.subscriptions[0].sent, "it stores them")

    (subscription,) = fake.subscriptions
    assert subscription.cursor == events[20]["time_us"]
    assert sorted(subscription.query["wantedDids"]) == wanted
    expected = {uri_of(e) for e in events[20:] if e["did"] in wanted}
    assert set(stored_ids(source)) == expected


# --- bad input ---------------------------------------------------------------------


def bad_frames(good: list[dict[str, Any]]) -> list[tuple[Frame, str]]:
    """Frames Jetstream should never send, placed between the good events, with the reason
    each must be rejected for."""

    def variant(n: int, change: Callable[[dict[str, Any]], None]) -> Frame:
        event = json.loads(json.dumps(good[n]))
        event["commit"]["rkey"] += "x"
        change(event)
        return raw_frame(json.dumps(event), good[n]["time_us"] + 1)

    record = "commit", "record"

    def set_in(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
        def change(event: dict[str, Any]) -> None:
            target = event
            for key in path[:-1]:
                target = target[key]
            if value is _DELETE:
                del target[path[-1]]
            else:
                target[path[-1]] = value

        return change

    complaint = good[2]["commit"]["record"]["text"]
    long_text = " ".join([complaint] * (MAX_TEXT_CHARS // len(complaint) + 2))[: MAX_TEXT_CHARS + 1]
    at = good[0]["time_us"]
    return [
        (raw_frame('{"did":"did:plc:abc","time_us":', at + 1), "not valid JSON"),
        (raw_frame("[1,2,3]", at + 2), "not a JSON object"),
        (variant(1, set_in(("time_us",), "soon")), "time_us is missing"),
        (variant(2, set_in(("did",), _DELETE)), "did is missing"),
        (variant(3, set_in((*record, "text"), _DELETE)), "no text"),
        (variant(4, set_in((*record, "text"), 42)), "text is not a string"),
        (variant(5, set_in((*record, "text"), long_text)), "characters; at most"),
        (variant(6, set_in((*record, "facets"), {"index": 0})), "facets is not a list"),
        (
            variant(
                7,
                set_in(
                    (*record, "facets"),
                    [{"index": {"byteStart": "0", "byteEnd": 5}, "features": []}],
                ),
            ),
            "byte range",
        ),
        (
            variant(
                8,
                set_in(
                    (*record, "facets"),
                    [
                        {
                            "index": {"byteStart": 0, "byteEnd": 5},
                            "features": [{"$type": "app.bsky.richtext.facet#link"}],
                        }
                    ],
                ),
            ),
            "link facet has no uri",
        ),
        (variant(9, set_in((*record, "reply"), {"parent": {"uri": 7}})), "at:// URIs"),
        (variant(10, set_in(("commit", "rkey"), "../../admin")), "not a record key"),
        (variant(11, set_in(("kind",), _DELETE)), "no kind"),
        (variant(12, set_in(("commit",), "create")), "without a commit object"),
    ]


_DELETE = object()


def test_bad_events_are_rejected_with_their_reason_and_the_stream_goes_on(cast: Cast) -> None:
    good = customer_events(30)
    bad = bad_frames(good)
    frames = [frame(event) for event in good] + [item for item, _ in bad]
    with running_jetstream(frames) as fake:
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(lambda: follower.stored == len(frames), "every frame is handled")

    assert sorted(stored_ids(source)) == sorted(uri_of(event) for event in good)
    reasons = list(RejectedItem.objects.filter(source=source).values_list("reason", flat=True))
    assert len(reasons) == len(bad)
    for _, expected in bad:
        assert any(expected in reason for reason in reasons), expected
    source.refresh_from_db()
    assert source.rejected_count == len(bad)
    assert source.status == SourceStatus.ACTIVE
    oversize = RejectedItem.objects.get(reason__contains="characters; at most")
    assert oversize.external_id.startswith("at://did:plc:")
    assert oversize.excerpt.startswith('{"did":')
    assert cursor_of(source) == good[-1]["time_us"]


def test_text_stays_plain_and_what_the_database_cannot_hold_is_replaced(cast: Cast) -> None:
    (event,) = customer_events(1)
    event["commit"]["record"]["text"] = '<b>Brightwave</b> &amp; <script>alert("x")</script>\u0000!'
    with running_jetstream([frame(event)]) as fake:
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(lambda: follower.stored == 1, "the post is stored")

    post = raw_post_from_json(InboundPost.objects.get(source=source).post)
    assert post.text == '<b>Brightwave</b> &amp; <script>alert("x")</script>\ufffd!'
    assert post.html == ""


def test_identity_account_deletes_and_other_collections_move_the_cursor_only(
    cast: Cast,
) -> None:
    posts = customer_events(3)
    did, last = posts[0]["did"], posts[-1]["time_us"]
    like = json.loads(json.dumps(posts[1]))
    like["time_us"] = last + STEP_US
    like["commit"].update(collection="app.bsky.feed.like", record={"subject": {}})
    update = json.loads(json.dumps(posts[2]))
    update["time_us"] = last + 2 * STEP_US
    update["commit"]["operation"] = "update"
    others = [
        like,
        update,
        identity_event(did, last + 3 * STEP_US),
        delete_event(did, posts[0]["commit"]["rkey"], last + 4 * STEP_US),
        account_event(did, last + 5 * STEP_US),
    ]
    with running_jetstream([frame(event) for event in posts + others]) as fake:
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(lambda: follower.stored == 7, "every frame Jetstream sends is handled")

    assert sorted(stored_ids(source)) == sorted(uri_of(event) for event in posts)
    assert not RejectedItem.objects.filter(source=source).exists()
    assert fake.subscriptions[0].sent == 7  # Jetstream leaves out the like (wantedCollections)
    assert cursor_of(source) == last + 5 * STEP_US


# --- batching, stopping, connecting ----------------------------------------------------


def test_stop_stores_what_was_read_before_the_batch_was_full(cast: Cast) -> None:
    events = customer_events(40)
    with running_jetstream([frame(event) for event in events]) as fake:
        source = make_source(cast, fake)
        with following(source, batch_events=10_000, batch_seconds=3600) as follower:
            wait_until(lambda: follower.received == 40, "the follower has read all 40")
            assert not InboundPost.objects.filter(source=source).exists()  # still pending
        # Leaving the block sets `stop` and waits for the follower to end.

    assert len(stored_ids(source)) == 40
    assert cursor_of(source) == events[-1]["time_us"]


def test_events_are_stored_in_batches_of_the_batch_size(cast: Cast) -> None:
    events = customer_events(100)
    with running_jetstream([frame(event) for event in events]) as fake:
        source = make_source(cast, fake)
        with following(source, batch_events=25, batch_seconds=3600) as follower:
            wait_until(lambda: follower.stored == 100, "four batches are stored")
            assert follower.received == 100

    assert len(stored_ids(source)) == 100


def test_the_ssrf_guard_refuses_loopback_unless_the_operator_allows_it(
    cast: Cast, settings: Any
) -> None:
    settings.HUBBUB_SAFE_HTTP_ALLOW = []
    with running_jetstream([frame(event) for event in customer_events(5)]) as fake:
        source = make_source(cast, fake)
        JetstreamFollower(source.pk).run(threading.Event())  # a permanent error: returns

    assert fake.subscriptions == []
    source.refresh_from_db()
    assert source.status == SourceStatus.FAILING
    assert "loopback" in source.last_error
    assert "HUBBUB_SAFE_HTTP_ALLOW" in source.last_error


def test_a_busy_jetstream_is_tried_again_and_a_wrong_address_stops_the_source(
    cast: Cast,
) -> None:
    events = customer_events(10)
    with running_jetstream([frame(event) for event in events]) as fake:
        fake.refuse_next(503, "service unavailable\n", {"Retry-After": "0"})
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(lambda: follower.stored == 10, "the second attempt is read")
        source.refresh_from_db()
        assert source.error_count == 1
        assert "busy (503" in source.last_error

        wrong = make_source(cast, fake, jetstream_url=fake.url.replace("/subscribe", "/nope"))
        JetstreamFollower(wrong.pk).run(threading.Event())

    wrong.refresh_from_db()
    assert wrong.status == SourceStatus.FAILING
    assert "refused the subscription (404" in wrong.last_error


def test_settings_that_cannot_work_fail_the_source_at_once(cast: Cast) -> None:
    source = Source.objects.create(
        workspace=cast.brightwave,
        name="Typo",
        kind=SourceKind.BLUESKY,
        settings={"mode": "jetstream", "jetstream_url": "https://jetstream.example/subscribe"},
    )
    JetstreamFollower(source.pk).run(threading.Event())
    source.refresh_from_db()
    assert source.status == SourceStatus.FAILING
    assert "wss://" in source.last_error


# --- mapping details, without a stream ------------------------------------------------


def _config() -> SourceConfig:
    return SourceConfig(
        source_id=1, workspace_id=1, kind="bluesky", settings={}, credentials={}, cursor=""
    )


@pytest.mark.django_db(transaction=False)
def test_a_post_without_a_usable_created_at_takes_the_time_jetstream_saw_it() -> None:
    (event,) = customer_events(1)
    event["commit"]["record"]["createdAt"] = "last tuesday"
    event["commit"]["record"]["embed"] = {
        "$type": "app.bsky.embed.external",
        "external": {"uri": "https://brightwave.example/status", "title": "", "description": ""},
    }
    parsed = parse_event(
        frame(event).data.encode(), config=_config(), options=StreamOptions(url="ws://x")
    )
    assert parsed.post is not None
    assert parsed.post.posted_at == dt.datetime.fromtimestamp(
        event["time_us"] / 1_000_000, tz=dt.UTC
    )
    assert parsed.post.expanded_urls[-1] == "https://brightwave.example/status"


@pytest.mark.django_db(transaction=False)
def test_the_subscription_url_asks_for_posts_and_the_rewound_cursor() -> None:
    options = StreamOptions(url="wss://jetstream2.us-east.bsky.network/subscribe")
    stored = 1_795_510_800_000_000
    assert jetstream.subscribe_url(options, stored) == (
        "wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post"
        f"&maxMessageSizeBytes={jetstream.MAX_EVENT_BYTES}&cursor={stored - REWIND_US}"
    )


# --- the bench ----------------------------------------------------------------------


def test_the_connectors_bench_stores_every_event_the_fake_sends(cast: Cast) -> None:
    from hubbub.cli import bench_connectors

    figures = json.loads(json.dumps(bench_connectors.measure(300)))

    assert set(figures) == {
        "jetstream_events_per_s",
        "events",
        "accepted",
        "elapsed_s",
        "peak_rss_mb",
    }
    assert figures["events"] == figures["accepted"] == 300
    assert figures["jetstream_events_per_s"] > 0


def test_an_event_dated_in_the_future_does_not_become_the_cursor(cast: Cast) -> None:
    events = customer_events(3)
    future = json.loads(json.dumps(events[1]))
    future["time_us"] = int((time.time() + 86_400) * 1_000_000)  # a server clock a day ahead
    future["commit"]["rkey"] = "3zzzzzzzzzzzz"
    with running_jetstream([frame(event) for event in [*events, future]]) as fake:
        source = make_source(cast, fake)
        with following(source) as follower:
            wait_until(lambda: follower.stored == 4, "every frame is handled")

    assert len(stored_ids(source)) == 4  # the post itself is kept
    assert cursor_of(source) == events[-1]["time_us"]


def test_a_long_did_list_is_sent_as_an_options_update_before_anything_streams(
    cast: Cast,
) -> None:
    events = customer_events(60)
    customers = sorted({events[0]["did"], events[1]["did"]})
    others = [f"did:plc:{n:024d}" for n in range(jetstream.URL_DIDS)]
    with running_jetstream([frame(event) for event in events]) as fake:
        source = make_source(cast, fake, wanted_dids=customers + others)
        with following(source) as follower:
            wait_until(lambda: len(fake.subscriptions) == 1, "the follower subscribes")
            wait_until(lambda: follower.stored >= fake.subscriptions[0].sent > 0, "it stores")

    (subscription,) = fake.subscriptions
    assert subscription.hello is not None
    assert subscription.hello["wantedDids"] == customers + others
    assert subscription.hello["wantedCollections"] == [COLLECTION]
    assert set(stored_ids(source)) == {uri_of(e) for e in events if e["did"] in customers}
