"""The pipeline on the real Redis: enqueue and XACK after commit, take-over, dead letters."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest
import redis
from django.utils import timezone

from hubbub.accounts.tests.factories import Cast
from hubbub.listening import services, streams
from hubbub.listening.models import InboundPost, Mention, QueryKind, Source, SourceKind
from hubbub.listening.pipeline.process import PipelineState
from hubbub.listening.runners import process_next_batch
from hubbub.listening.types import RawPost
from hubbub.testing import run_hubbub

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def stream(redis_url: str) -> Iterator[redis.Redis]:
    client = streams.connect(redis_url)
    client.delete(streams.STREAM, streams.DEAD)
    streams.ensure_group(client)
    yield client
    client.delete(streams.STREAM, streams.DEAD)


@pytest.fixture
def source(cast: Cast) -> Source:
    services.save_query(actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave")
    return Source.objects.create(workspace=cast.brightwave, name="Bluesky", kind=SourceKind.BLUESKY)


def accept(source: Source, count: int, *, start: int = 0) -> None:
    posts = [
        RawPost(
            workspace_id=source.workspace_id,
            source_id=source.pk,
            platform="bluesky",
            external_id=f"p{n}",
            text=f"brightwave router number {n} keeps dropping" if n % 2 else f"weather {n}",
            posted_at=NOW + dt.timedelta(seconds=n),
        )
        for n in range(start, start + count)
    ]
    services.accept_posts(source_id=source.pk, posts=posts, cursor=str(start + count))


def corrupt(source: Source, external_id: str) -> InboundPost:
    """A stored post the pipeline cannot read (written by a broken connector, say)."""
    return InboundPost.objects.create(
        workspace_id=source.workspace_id,
        source=source,
        platform="bluesky",
        external_id=external_id,
        post={"text": "no ids, no time"},
    )


def drain(worker: streams.StreamWorker, *, until: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not until():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the worker did not get there in time"
        worker.step()


def pending(client: redis.Redis) -> int:
    return int(client.xpending(streams.STREAM, streams.GROUP)["pending"])


def test_accepted_posts_go_to_the_stream_once_and_a_worker_stores_them(
    source: Source, stream: redis.Redis
) -> None:
    accept(source, 30)
    assert streams.enqueue_accepted(stream) == 30
    assert streams.enqueue_accepted(stream) == 0  # stamped: not added twice
    worker = streams.StreamWorker(client=stream, block_ms=50)
    drain(worker, until=lambda: not InboundPost.objects.filter(processed_at__isnull=True).exists())
    assert Mention.objects.filter(workspace=source.workspace).count() == 15
    assert pending(stream) == 0
    assert streams.trim(stream) == 30  # read and acknowledged: nothing left to keep


def test_an_id_added_twice_is_stored_once(source: Source, stream: redis.Redis) -> None:
    accept(source, 4)
    streams.enqueue_accepted(stream)
    InboundPost.objects.update(enqueued_at=None)  # a listener died before stamping
    assert streams.enqueue_accepted(stream) == 4
    worker = streams.StreamWorker(client=stream, block_ms=50)
    drain(
        worker,
        until=lambda: (
            stream.xlen(streams.STREAM) == 8
            and pending(stream) == 0
            and not InboundPost.objects.filter(processed_at__isnull=True).exists()
        ),
    )
    assert Mention.objects.count() == 2


def test_what_a_dead_worker_held_is_taken_over(source: Source, stream: redis.Redis) -> None:
    accept(source, 10)
    streams.enqueue_accepted(stream)
    dead = streams.StreamWorker(client=stream, name="dead-worker", block_ms=50)
    assert len(dead._read()) == 10  # read, then the process was killed: nothing acknowledged
    assert pending(stream) == 10
    heir = streams.StreamWorker(client=stream, name="heir", block_ms=50, claim_idle_ms=100)
    time.sleep(0.15)
    drain(heir, until=lambda: pending(stream) == 0)
    assert Mention.objects.count() == 5
    assert not InboundPost.objects.filter(processed_at__isnull=True).exists()


def test_posts_whose_entries_are_gone_are_added_again(source: Source, stream: redis.Redis) -> None:
    accept(source, 3)
    # Enqueued an hour ago, and still waiting in the stream: a backlog.
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    millis = int(an_hour_ago.timestamp() * 1000)
    stream.delete(streams.STREAM)
    for n, inbound_id in enumerate(InboundPost.objects.values_list("pk", flat=True)):
        stream.xadd(streams.STREAM, {"id": inbound_id}, id=f"{millis}-{n}")
    streams.ensure_group(stream)
    InboundPost.objects.update(enqueued_at=an_hour_ago + dt.timedelta(seconds=1))
    assert streams.requeue_stale(stream, older_than=dt.timedelta(minutes=10)) == 0
    stream.delete(streams.STREAM)  # Redis lost its data
    streams.ensure_group(stream)
    assert streams.requeue_stale(stream, older_than=dt.timedelta(minutes=10)) == 3
    assert streams.enqueue_accepted(stream) == 3


def test_entries_delivered_again_and_again_go_one_at_a_time_after_the_rest(
    source: Source, stream: redis.Redis
) -> None:
    accept(source, 4)
    streams.enqueue_accepted(stream)
    entries = streams.StreamWorker(client=stream, name="crashed", block_ms=20)._read()
    suspect_id = entries[0][0]
    for attempt in range(4):  # four workers died holding it
        stream.xclaim(streams.STREAM, streams.GROUP, f"victim-{attempt}", 0, [suspect_id])
    heir = streams.StreamWorker(client=stream, block_ms=20, claim_idle_ms=0)
    assert heir.step() == 3  # the three others, together
    assert pending(stream) == 1
    assert heir.step() == 1  # then the suspect, alone
    assert pending(stream) == 0
    assert not InboundPost.objects.filter(processed_at__isnull=True).exists()


class TestDeadLetters:
    def test_a_post_that_keeps_failing_is_set_aside_and_the_rest_go_on(
        self, source: Source, stream: redis.Redis
    ) -> None:
        accept(source, 6)
        bad = corrupt(source, "broken")
        streams.enqueue_accepted(stream)
        worker = streams.StreamWorker(client=stream, block_ms=20, claim_idle_ms=1)
        drain(worker, until=lambda: stream.xlen(streams.DEAD) == 1)
        assert Mention.objects.count() == 3  # the good posts did not wait for the bad one
        bad.refresh_from_db()
        assert bad.attempts == services.MAX_ATTEMPTS
        assert bad.dead_at is not None
        assert bad.processed_at is None
        assert "KeyError" in bad.last_error
        assert pending(stream) == 0
        (letter,) = streams.dead_letters(stream)
        assert letter.inbound_id == bad.pk
        assert "KeyError" in letter.error

    def test_a_replayed_dead_post_goes_through_once_fixed(
        self, source: Source, stream: redis.Redis
    ) -> None:
        bad = corrupt(source, "broken")
        streams.enqueue_accepted(stream)
        worker = streams.StreamWorker(client=stream, block_ms=20, claim_idle_ms=1)
        drain(worker, until=lambda: stream.xlen(streams.DEAD) == 1)
        fixed = {
            "workspace_id": source.workspace_id,
            "source_id": source.pk,
            "platform": "bluesky",
            "external_id": "broken",
            "text": "brightwave fixed it",
            "posted_at": NOW.isoformat(),
        }
        InboundPost.objects.filter(pk=bad.pk).update(post=fixed)
        revived = services.revive_dead_posts()
        assert revived == [bad.pk]
        assert streams.forget_dead_letters(stream, revived) == 1
        assert stream.xlen(streams.DEAD) == 0
        assert streams.enqueue_accepted(stream) == 1
        drain(worker, until=lambda: Mention.objects.filter(external_id="broken").exists())

    def test_an_entry_that_keeps_killing_its_workers_is_set_aside(
        self, source: Source, stream: redis.Redis
    ) -> None:
        accept(source, 1)
        streams.enqueue_accepted(stream)
        ((entry_id, _),) = streams.StreamWorker(client=stream, name="first", block_ms=20)._read()
        for attempt in range(streams.MAX_DELIVERIES):  # each a worker that died with it
            stream.xclaim(streams.STREAM, streams.GROUP, f"victim-{attempt}", 0, [entry_id])
        worker = streams.StreamWorker(client=stream, block_ms=20, claim_idle_ms=0)
        worker.step()
        assert stream.xlen(streams.DEAD) == 1
        assert pending(stream) == 0
        assert InboundPost.objects.get().dead_at is not None
        assert not Mention.objects.exists()


def test_the_embedded_runner_sets_a_bad_post_aside_and_goes_on(source: Source) -> None:
    accept(source, 4)
    bad = corrupt(source, "broken")
    state = PipelineState()
    for _ in range(services.MAX_ATTEMPTS):
        process_next_batch(state)
    assert Mention.objects.count() == 2
    bad.refresh_from_db()
    assert bad.dead_at is not None
    assert bad.attempts == services.MAX_ATTEMPTS
    assert process_next_batch(state) is False  # nothing left that it would take
    assert services.revive_dead_posts() == [bad.pk]
    bad.refresh_from_db()
    assert (bad.dead_at, bad.attempts, bad.enqueued_at) == (None, 0, None)


@pytest.mark.django_db(transaction=True)
def test_the_deadletter_command_lists_and_replays(
    committed_cast: Cast, redis_url: str, stream: redis.Redis
) -> None:
    source = Source.objects.create(
        workspace=committed_cast.brightwave, name="Bluesky", kind=SourceKind.BLUESKY
    )
    bad = corrupt(source, "broken")
    streams.enqueue_accepted(stream)
    worker = streams.StreamWorker(client=stream, block_ms=20, claim_idle_ms=1)
    drain(worker, until=lambda: stream.xlen(streams.DEAD) == 1)
    env = {"HUBBUB_REDIS_URL": redis_url}
    listed = run_hubbub("deadletter", "list", "--json", extra_env=env)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.strip().splitlines()
    assert json.loads(line)["inbound_id"] == bad.pk
    replayed = run_hubbub("deadletter", "replay", str(bad.pk), extra_env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 post(s)" in replayed.stdout
    bad.refresh_from_db()
    assert bad.dead_at is None
    embedded = run_hubbub("deadletter", "list", extra_env={"HUBBUB_REDIS_URL": ""})
    assert embedded.stdout.strip() == "No dead posts."
