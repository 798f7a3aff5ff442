"""`hubbub bench connectors`: how fast the connectors bring posts in.

- jetstream: the local Jetstream (bluesky/tests/jetstream_fake.py, in its own
  process, as the real one is remote) replays N events made from real
  customer tweets at full speed, and `follow_jetstream`'s follower consumes
  them into InboundPost in batches (posts and cursor in one transaction).
  Figures: `jetstream_events_per_s`, `events`, `accepted`, `elapsed_s`, and
  the consumer's `peak_rss_mb`.
- polling connectors (bluesky search, mastodon hashtag, reddit search,
  hackernews search, rss): each platform's local fake from its tests (a
  ThreadingHTTPServer thread, so it shares this process, its GIL and the
  CPU with the code measured: the figures are a floor, not what a remote
  platform would allow) holds a backlog of --posts posts made from real
  customer tweets, in pages of the platform's usual size. The REAL code is
  driven as the polling loop drives it, without its waits:
  `polling.source_config`, the connector's `poll`, `polling.store_batch`,
  until the backlog is read (`more` is false), then --polls polls that find
  nothing new. Figures, per platform:
  `<platform>_requests_per_s` (requests the fake logged, over the time spent
  in those polls, both phases), `<platform>_posts_per_s` (posts stored over
  the time of the catch-up), `<platform>_poll_p95_ms` (one poll and its
  store with nothing new), and the counts behind them (`_requests`,
  `_posts_seeded`, `_posts_stored`, `_catch_up_s`).

  Bluesky, Mastodon and Reddit start a new source at the newest page (no
  backfill of history), so their source first reads one post, and the
  backlog is published after it, as if Hubbub had been away. A feed is one
  document of the latest entries: the fake site publishes a feed's worth of
  new entries before each catch-up poll (none falls off unread), and the
  steady polls are conditional GETs answered 304. Every source belongs to
  the one bench workspace, after Jetstream's: its posts are there when the
  polling connectors' batches are checked for repeats, as a brand's history
  would be.

Each database is measured in a child process configured for it: a scratch
SQLite file (the embedded default; its keys carry no prefix) and, with
--database-url, a scratch PostgreSQL database (dropped and re-created; its
keys start with `postgres_`). Measurements are named in MEASURES; a size of
0 (--events 0, --posts 0) leaves that kind of measurement out.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubbub.cli.bench_scratch import over_databases

if TYPE_CHECKING:  # imported when measuring: Django is set up by then
    from hubbub.connectors.base import Batch
    from hubbub.connectors.bluesky.jetstream import JetstreamFollower
    from hubbub.connectors.polling import Poll
    from hubbub.core.models import Workspace

DEFAULT_EVENTS = 50_000
DEFAULT_POSTS = 2_000
DEFAULT_POLLS = 50
FAKE_MODULE = "hubbub.connectors.bluesky.tests.jetstream_fake"
# What the search sources listen for: a word customers write to support accounts.
SEARCH_WORD = "help"
# Seconds between two backlog posts: the overlaps the connectors re-read (minutes)
# then hold a handful of posts, as on a busy but ordinary query.
SPACING_SECONDS = 20
# A feed lists a site's latest entries, a few dozen of them.
FEED_ENTRIES = 50
FEED_PATH = "/latest.rss"


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each measurement works through; 0 leaves that kind of measurement out."""

    events: int = DEFAULT_EVENTS  # Jetstream events
    posts: int = 0  # backlog posts per polling connector
    polls: int = DEFAULT_POLLS  # steady-state polls per polling connector


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=_count, default=DEFAULT_EVENTS)
    parser.add_argument(
        "--posts",
        type=_count,
        default=DEFAULT_POSTS,
        help="backlog posts each polling connector catches up on (0: no polling figures)",
    )
    parser.add_argument(
        "--polls",
        type=_count,
        default=DEFAULT_POLLS,
        help="polls with nothing new, after the catch-up, for the latency figure",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="also measure on this scratch PostgreSQL database (dropped and re-created)",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )
    parser.add_argument("--phase", choices=["child"], help=argparse.SUPPRESS)


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def run(args: argparse.Namespace) -> int:
    if args.phase:
        return _child(args)
    print(
        f"hubbub bench connectors: {args.events:,} Jetstream events at full speed; "
        f"{args.posts:,} posts and {args.polls:,} idle polls per polling connector"
    )
    sizes = ["--events", str(args.events), "--posts", str(args.posts), "--polls", str(args.polls)]
    figures = over_databases("connectors", sizes, database_url=args.database_url, show=_print)
    if figures is None:
        return 2
    if args.json:
        print(json.dumps(figures))
    return 0


def _print(db: str, result: dict[str, Any]) -> None:
    if "jetstream_events_per_s" in result:
        print(
            f"  {db:<8} {'jetstream':<10} {result['jetstream_events_per_s']:>9,.0f} events/s   "
            f"{result['accepted']:,} of {result['events']:,} accepted "
            f"in {result['elapsed_s']:.2f} s"
        )
    for platform in POLLING:
        if f"{platform}_requests_per_s" not in result:
            continue
        figure = {key: result[f"{platform}_{key}"] for key in POLLING_KEYS}
        print(
            f"  {db:<8} {platform:<10} {figure['requests_per_s']:>9,.0f} requests/s "
            f"{figure['posts_per_s']:>9,.0f} posts/s   p95 {figure['poll_p95_ms']:.1f} ms "
            f"a poll   {figure['posts_stored']:,} of {figure['posts_seeded']:,} stored, "
            f"{figure['requests']:,} requests"
        )
    print(f"  {db:<8} peak RSS {result['peak_rss_mb']:.0f} MB")


# --- the child, inside one configured database ----------------------------------------


def _child(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    print(json.dumps(measure(args.events, posts=args.posts, polls=args.polls)))
    return 0


def measure(events: int, *, posts: int = 0, polls: int = DEFAULT_POLLS) -> dict[str, Any]:
    """Every measurement in the current database, and this process's peak memory.

    `posts` = 0 (the default) leaves the polling connectors out.
    """
    sizes = Sizes(events=events, posts=posts, polls=polls)
    figures: dict[str, Any] = {}
    for measure_one in MEASURES.values():
        figures.update(measure_one(sizes))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def _jetstream(sizes: Sizes) -> dict[str, Any]:
    return jetstream_figures(sizes.events) if sizes.events > 0 else {}


def jetstream_figures(events: int) -> dict[str, Any]:
    """Replay `events` Jetstream events from the fake (its own process) into a new source.

    Elapsed time runs from starting the follower to the moment every event is
    covered by a committed batch. Raises RuntimeError if the follower stops
    or stalls first.
    """
    from hubbub.connectors.bluesky.jetstream import JetstreamFollower
    from hubbub.listening.models import InboundPost

    fake = subprocess.Popen(
        [sys.executable, "-m", FAKE_MODULE, "--events", str(events)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        if not url.startswith("ws://"):
            raise RuntimeError("the fake Jetstream did not start")
        source_id = _bench_source(url)
        follower = JetstreamFollower(source_id)
        stop = threading.Event()
        thread = threading.Thread(target=_follow, args=(follower, stop), daemon=True)
        started = time.perf_counter()
        thread.start()
        _wait_for(follower, thread, events)
        elapsed = time.perf_counter() - started
        stop.set()
        thread.join(timeout=30)
    finally:
        if fake.stdin is not None:
            fake.stdin.close()  # the fake stops when its stdin closes
        fake.wait(timeout=30)
    return {
        "jetstream_events_per_s": round(events / elapsed, 1),
        "events": events,
        "accepted": InboundPost.objects.filter(source_id=source_id).count(),
        "elapsed_s": round(elapsed, 3),
    }


def _bench_workspace() -> Workspace:
    from hubbub.accounts.services import create_workspace
    from hubbub.core.models import Workspace

    found = Workspace.objects.filter(slug="bench-connectors").first()
    return found or create_workspace(name="Bench connectors", slug="bench-connectors")


def _bench_source(url: str) -> int:
    from hubbub.listening.models import Source, SourceKind

    source = Source.objects.create(
        workspace=_bench_workspace(),
        name=f"Jetstream bench {time.time_ns()}",
        kind=SourceKind.BLUESKY,
        settings={"mode": "jetstream", "jetstream_url": url},
    )
    return source.pk


def _follow(follower: JetstreamFollower, stop: threading.Event) -> None:
    from django.db import connection

    try:
        follower.run(stop)
    finally:
        connection.close()


def _wait_for(follower: JetstreamFollower, thread: threading.Thread, events: int) -> None:
    """Until the follower has stored `events` events; it must not stop or stall first."""
    last, last_change = -1, time.monotonic()
    while follower.stored < events:
        if not thread.is_alive():
            raise RuntimeError(f"the follower stopped after {follower.stored:,} events")
        if follower.stored != last:
            last, last_change = follower.stored, time.monotonic()
        elif time.monotonic() - last_change > 60:
            raise RuntimeError(f"the follower stalled at {follower.stored:,} events")
        time.sleep(0.01)


# --- polling connectors -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    """A source on a running fake that holds its backlog, ready to be polled.

    `requests`: how many requests the fake has logged so far. `posts`: the
    posts the fake holds for the source, the one read before the backlog
    included. `publish_more`: between two catch-up polls, the fake site
    publishes what comes next; False once there is nothing left to publish.
    """

    source_id: int
    poll: Poll
    requests: Callable[[], int]
    posts: int
    publish_more: Callable[[], bool] = lambda: False


POLLING_KEYS = (
    "requests_per_s",
    "posts_per_s",
    "poll_p95_ms",
    "requests",
    "posts_seeded",
    "posts_stored",
    "catch_up_s",
)


def polling_figures(platform: str, sizes: Sizes) -> dict[str, Any]:
    """Catch up on `sizes.posts` posts from the platform's fake, then poll `sizes.polls`
    times with nothing new; the figures named in POLLING_KEYS, prefixed `<platform>_`.

    Raises RuntimeError when the connector never stops saying it has more, and
    lets a ConnectorError through: a bench that cannot read its fake is broken.
    """
    if sizes.posts <= 0:
        return {}
    with POLLING[platform](sizes.posts) as seeded:
        figures = _drive(seeded, polls=max(1, sizes.polls))
    return {f"{platform}_{key}": value for key, value in figures.items()}


def _drive(seeded: Seeded, *, polls: int) -> dict[str, Any]:
    from hubbub.listening.models import InboundPost

    requests_before = seeded.requests()
    catch_up_s, new, catch_up_polls = 0.0, 0, 0
    while True:
        seconds, batch, stored = _poll_once(seeded)
        catch_up_s += seconds
        new += stored
        catch_up_polls += 1
        # The fake site's next entries come outside the timed poll: they are not Hubbub's work.
        if not batch.more and not seeded.publish_more():
            break
        if catch_up_polls > seeded.posts + 10:
            raise RuntimeError(f"the source still had more after {catch_up_polls:,} polls")
    idle = [_poll_once(seeded)[0] for _ in range(polls)]
    requests = seeded.requests() - requests_before
    return {
        "requests_per_s": round(requests / (catch_up_s + sum(idle)), 1),
        "posts_per_s": round(new / catch_up_s, 1),
        "poll_p95_ms": round(_p95(idle) * 1000, 2),
        "requests": requests,
        "posts_seeded": seeded.posts,
        "posts_stored": InboundPost.objects.filter(source_id=seeded.source_id).count(),
        "catch_up_s": round(catch_up_s, 3),
    }


def _poll_once(seeded: Seeded) -> tuple[float, Batch, int]:
    """One turn of the polling loop without its wait: (seconds, the batch, posts stored)."""
    from hubbub.connectors import polling

    started = time.perf_counter()
    config = polling.source_config(seeded.source_id)
    if config is None:
        raise RuntimeError("the bench source is paused or gone")
    batch = seeded.poll(config)
    stored = polling.store_batch(config, batch)
    return time.perf_counter() - started, batch, stored


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _polling_source(kind: str, settings: dict[str, Any], credentials: dict[str, str]) -> int:
    from hubbub.listening.models import Source

    source = Source.objects.create(
        workspace=_bench_workspace(),
        name=f"{kind} polling bench {time.time_ns()}",
        kind=kind,
        settings=settings,
        credentials=json.dumps(credentials) if credentials else "",
    )
    return source.pk


def _first_read(source_id: int, poll: Poll) -> None:
    """The source's first poll, before the backlog: it only sets where reading starts."""
    from hubbub.connectors import polling

    config = polling.source_config(source_id)
    assert config is not None
    polling.store_batch(config, poll(config))


def _cycled(texts: list[str] | tuple[str, ...], count: int) -> list[str]:
    """`count` texts, the shared data's repeated when it has fewer (each post is its own)."""
    if not texts:
        raise RuntimeError("the shared data has no customer posts to publish")
    return [texts[n % len(texts)] for n in range(count)]


def _backlog_times(count: int) -> list[dt.datetime]:
    """`count` times SPACING_SECONDS apart, oldest first, the last one just past."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return [now - dt.timedelta(seconds=SPACING_SECONDS * (count - n)) for n in range(count)]


@contextmanager
def _bluesky(posts: int) -> Iterator[Seeded]:
    """A keyword search (app.bsky.feed.searchPosts, 100 a page) on the fake PDS."""
    from hubbub.connectors.bluesky import connector
    from hubbub.connectors.bluesky.tests import fake as bluesky

    with bluesky.running_bluesky() as fake:
        texts = _cycled(bluesky.customer_texts(SEARCH_WORD, posts + 1), posts + 1)
        times = _backlog_times(posts + 1)
        fake.publish(texts[0], fake.customer(0), at=times[0])
        source_id = _polling_source(
            "bluesky",
            {"service": fake.url, "mode": "search", "query": SEARCH_WORD},
            {"identifier": bluesky.BRAND_HANDLE, "app_password": bluesky.APP_PASSWORD},
        )
        _first_read(source_id, connector.poll)
        for n in range(1, posts + 1):
            fake.publish(texts[n], fake.customer(n), at=times[n])
        yield Seeded(source_id, connector.poll, lambda: len(fake.calls), posts + 1)


@contextmanager
def _mastodon(posts: int) -> Iterator[Seeded]:
    """A hashtag timeline (/api/v1/timelines/tag/:hashtag, 40 a page) on the fake instance."""
    from hubbub.connectors.mastodon import connector
    from hubbub.connectors.mastodon.tests import fake as mastodon

    with mastodon.running_mastodon() as fake:
        texts = _cycled(mastodon.customer_texts(posts + 1), posts + 1)
        times = _backlog_times(posts + 1)

        def publish(n: int) -> None:
            text = f"{texts[n]} #brightwave"
            fake.publish(fake.status(text, user=f"customer{n}", created_at=times[n]))

        publish(0)
        source_id = _polling_source(
            "mastodon",
            {"instance": fake.url, "mode": "hashtag", "hashtag": "brightwave"},
            {"access_token": mastodon.TOKEN},
        )
        _first_read(source_id, connector.poll)
        for n in range(1, posts + 1):
            publish(n)
        yield Seeded(source_id, connector.poll, lambda: len(fake.received), posts + 1)


@contextmanager
def _reddit(posts: int) -> Iterator[Seeded]:
    """A site-wide search (/search?sort=new, 100 a page) on the fake Reddit."""
    from hubbub.connectors.reddit import connector
    from hubbub.connectors.reddit.tests import fake as reddit
    from hubbub.connectors.reddit.tests.support import credentials

    with reddit.running_reddit() as fake:
        matching = [text for text in reddit.customer_texts() if SEARCH_WORD in text.lower()]
        texts = _cycled(matching, posts + 1)
        fake.add_submission(texts[0], author="customer0")
        source_id = _polling_source(
            "reddit",
            {"auth_base": fake.url, "api_base": fake.url, "mode": "search", "query": SEARCH_WORD},
            credentials(),
        )
        _first_read(source_id, connector.poll)
        for n in range(1, posts + 1):
            fake.add_submission(texts[n], author=f"customer{n}")
        yield Seeded(source_id, connector.poll, lambda: len(fake.received), posts + 1)


@contextmanager
def _hackernews(posts: int) -> Iterator[Seeded]:
    """A search (search_by_date, 100 a page, 1,000 hits deep) on the fake HN Search.

    A new source reads back `lookback_hours`, so the whole backlog is new to it.
    """
    from hubbub.connectors.hackernews import connector
    from hubbub.connectors.hackernews.tests import fake as hackernews

    with hackernews.running_algolia() as fake:
        texts = _cycled(hackernews.customer_texts(SEARCH_WORD), posts)
        times = _backlog_times(posts)
        for n, (text, at) in enumerate(zip(texts, times, strict=True)):
            fake.add_comment(int(at.timestamp()), text, author=f"customer{n}")
        hours = math.ceil(SPACING_SECONDS * posts / 3600) + 1
        source_id = _polling_source(
            "hackernews",
            {"base_url": fake.url, "query": SEARCH_WORD, "lookback_hours": hours},
            {},
        )
        yield Seeded(source_id, connector.poll, lambda: len(fake.requests), posts)


@contextmanager
def _rss(posts: int) -> Iterator[Seeded]:
    """A forum's RSS 2.0 feed of its latest FEED_ENTRIES topics on the fake site."""
    from hubbub.connectors.rss import connector
    from hubbub.connectors.rss.tests import fake as rss

    with rss.running_feeds() as fake:
        texts = rss.customer_texts()
        times = _backlog_times(posts)

        def entry(n: int) -> rss.Entry:
            # The fake's forum entry for the nth text, numbered n: texts repeat, topics do not.
            (made,) = rss.forum_entries(1, start=n % len(texts))
            topic = f"https://forum.brightwave.test/t/{20_000 + n}"
            return dataclasses.replace(
                made, id=topic, link=topic, author=f"member{n}", published=times[n]
            )

        first = min(posts, FEED_ENTRIES)
        feed = rss.Feed("rss", "Brightwave Community – Latest topics")
        for n in range(first):
            feed.publish(entry(n), at=times[n])
        fake.feeds[FEED_PATH] = feed
        published = first

        def publish_more() -> bool:
            nonlocal published
            if published >= posts:
                return False
            upto = min(posts, published + FEED_ENTRIES)
            for n in range(published, upto):
                feed.publish(entry(n), at=times[n])
            del feed.entries[FEED_ENTRIES:]  # the site's feed keeps only its latest
            published = upto
            return True

        source_id = _polling_source("rss", {"url": fake.at(FEED_PATH)}, {})
        yield Seeded(source_id, connector.poll, lambda: len(fake.seen), posts, publish_more)


# platform → a context manager: the fake running, a source on it, `posts` to catch up on.
POLLING: dict[str, Callable[[int], AbstractContextManager[Seeded]]] = {
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "reddit": _reddit,
    "hackernews": _hackernews,
    "rss": _rss,
}


def _polling(platform: str) -> Callable[[Sizes], dict[str, Any]]:
    def measure_platform(sizes: Sizes) -> dict[str, Any]:
        return polling_figures(platform, sizes)

    return measure_platform


# name → measure(sizes) → figures with unit-named keys; an empty dict when its size is 0.
MEASURES: dict[str, Callable[[Sizes], dict[str, Any]]] = {
    "jetstream": _jetstream,
    **{platform: _polling(platform) for platform in POLLING},
}
