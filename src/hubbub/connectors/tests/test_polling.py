"""The shared polling loop: what it stores, how it waits, when it stops."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import (
    AuthenticationFailed,
    Batch,
    ConnectorError,
    RateBudget,
    SourceConfig,
)
from hubbub.listening.models import InboundPost, RejectedItem, Source, SourceStatus
from hubbub.listening.services import REJECTED_KEPT
from hubbub.listening.tests.factories import SourceFactory
from hubbub.listening.types import RawPost, Rejection

pytestmark = pytest.mark.django_db

POSTED = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def post(config: SourceConfig, number: int) -> RawPost:
    return RawPost(
        workspace_id=config.workspace_id,
        source_id=config.source_id,
        platform="bluesky",
        external_id=f"at://did:plc:customer/app.bsky.feed.post/{number}",
        text=f"@brightwave my router died again ({number})",
        posted_at=POSTED,
    )


class Platform:
    """A stand-in platform whose pages the test writes: each poll returns the next."""

    def __init__(self, pages: list[Batch | ConnectorError], stop: threading.Event) -> None:
        self.pages = pages
        self.stop = stop
        self.seen_cursors: list[str] = []

    def poll(self, config: SourceConfig) -> Batch:
        self.seen_cursors.append(config.cursor)
        page = self.pages.pop(0)
        if not self.pages:
            self.stop.set()
        if isinstance(page, ConnectorError):
            raise page
        return page


def source(cast: Cast, **fields: object) -> Source:
    made: Source = SourceFactory(workspace=cast.brightwave, **fields)
    return made


def test_each_page_is_stored_with_its_cursor_and_the_next_poll_starts_there(cast: Cast) -> None:
    followed = source(cast)
    config = polling.config_of(followed)
    stop = threading.Event()
    platform = Platform(
        [
            Batch(posts=[post(config, 1), post(config, 2)], cursor="page-1", more=True),
            Batch(posts=[post(config, 2), post(config, 3)], cursor="page-2"),
        ],
        stop,
    )
    polling.run(followed.pk, stop, platform.poll, interval=0.01)
    followed.refresh_from_db()
    assert platform.seen_cursors == ["", "page-1"]
    assert followed.cursor == "page-2"
    assert InboundPost.objects.filter(source=followed).count() == 3  # the repeat stored once
    assert followed.last_read_at is not None


def test_rejected_items_are_kept_with_their_reason_and_the_source_goes_on(cast: Cast) -> None:
    followed = source(cast)
    config = polling.config_of(followed)
    stop = threading.Event()
    bad = Rejection(reason="The post has no text.", external_id="at://x/1", excerpt='{"a":1}')
    platform = Platform([Batch(posts=[post(config, 1)], cursor="page-1", rejected=[bad])], stop)
    polling.run(followed.pk, stop, platform.poll, interval=0.01)
    followed.refresh_from_db()
    assert followed.rejected_count == 1
    assert followed.cursor == "page-1"
    item = RejectedItem.objects.get(source=followed)
    assert (item.reason, item.external_id, item.excerpt) == (bad.reason, "at://x/1", '{"a":1}')
    assert InboundPost.objects.filter(source=followed).count() == 1


def test_only_the_latest_rejected_items_are_kept(cast: Cast) -> None:
    from hubbub.listening.services import record_rejected_items

    followed = source(cast)
    for batch in range(3):
        record_rejected_items(
            source_id=followed.pk,
            rejected=[Rejection(reason=f"bad {batch}-{n}") for n in range(100)],
        )
    followed.refresh_from_db()
    assert followed.rejected_count == 300
    kept = RejectedItem.objects.filter(source=followed)
    assert kept.count() == REJECTED_KEPT
    assert kept.order_by("-id").first().reason == "bad 2-99"  # type: ignore[union-attr]


def test_a_transient_error_waits_and_keeps_the_cursor(cast: Cast) -> None:
    followed = source(cast, cursor="page-7")
    stop = threading.Event()
    limited = ConnectorError(
        "Bluesky's rate limit was reached", transient=True, retry_after_seconds=60
    )
    polling.run(followed.pk, stop, Platform([limited], stop).poll, interval=0.01)
    followed.refresh_from_db()
    assert followed.status == SourceStatus.ACTIVE
    assert followed.cursor == "page-7"
    assert followed.last_error == "Bluesky's rate limit was reached"
    assert followed.rate_limited_until is not None
    assert followed.rate_limited_until >= followed.last_error_at + dt.timedelta(seconds=59)  # type: ignore[operator]


def test_refused_credentials_mark_the_source_failing_and_stop(cast: Cast) -> None:
    followed = source(cast)
    stop = threading.Event()
    refused = AuthenticationFailed("Bluesky refused the credentials (401)")
    good = Batch(posts=[], cursor="never")
    platform = Platform([refused, good], stop)
    polling.run(followed.pk, stop, platform.poll, interval=0.01)
    followed.refresh_from_db()
    assert followed.status == SourceStatus.FAILING
    assert len(platform.seen_cursors) == 1  # it did not poll again
    assert followed.cursor == ""


def test_a_good_read_brings_a_failing_source_back_and_records_the_budget(cast: Cast) -> None:
    followed = source(cast, status=SourceStatus.FAILING)
    stop = threading.Event()
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    budget = RateBudget(remaining=2900, limit=3000, reset_at=reset)
    polling.run(
        followed.pk,
        stop,
        Platform([Batch(posts=[], cursor="c", budget=budget)], stop).poll,
        interval=0.01,
    )
    followed.refresh_from_db()
    assert followed.status == SourceStatus.ACTIVE
    assert (followed.rate_limit_remaining, followed.rate_limit_limit) == (2900, 3000)
    assert followed.rate_limit_reset_at == reset


def test_a_paused_source_is_not_polled(cast: Cast) -> None:
    followed = source(cast, status=SourceStatus.PAUSED)
    stop = threading.Event()
    platform = Platform([Batch(posts=[], cursor="c")], stop)
    polling.run(followed.pk, stop, platform.poll, interval=0.01)
    assert platform.seen_cursors == []


def test_credentials_are_read_as_a_json_object_of_strings() -> None:
    assert polling.credentials_of('{"identifier": "brand.example", "n": 3}') == {
        "identifier": "brand.example",
        "n": "3",
    }
    assert polling.credentials_of("not json") == {}
    assert polling.credentials_of("") == {}
