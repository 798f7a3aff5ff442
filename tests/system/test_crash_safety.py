"""Crash safety, proven: kill the pipeline's processes at random moments and lose nothing.

20,000 posts are replayed through `hubbub listen` (and, with Redis, two
`hubbub worker` processes) while this test SIGKILLs them and starts them
again. Afterwards every post the source handed over is stored exactly once,
and nothing is left pending in the stream.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from hubbub.accounts.tests.factories import Cast
from hubbub.core.models import EventRecord
from hubbub.listening import services, streams
from hubbub.listening.models import InboundPost, Mention, QueryKind, Source, SourceKind
from hubbub.testing import child_env, hubbub_command

pytestmark = pytest.mark.django_db(transaction=True)

POSTS = 20_000
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
KILLS = 20
COMPLAINTS = [
    "my router keeps dropping the connection every evening",
    "been on hold for an hour, is anyone there?",
    "the new app update logged me out and now I can't get back in",
    "why was I charged twice this month",
    "outage in my area again, third time this week",
    "engineer never turned up for the appointment",
    "thanks for sorting my refund so quickly!",
    "how do I change the wifi password on the hub",
    "speeds are nowhere near what you advertised",
    "cancelling if this isn't fixed by friday",
]


class Fleet:
    """The processes under test, each restartable, their logs kept for a failure report."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs, self.env = logs, env
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}

    def start(self, name: str, *args: str) -> None:
        self.commands[name] = hubbub_command(*args)
        self._spawn(name)

    def _spawn(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.running[name] = subprocess.Popen(
                self.commands[name], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill_and_restart(self, name: str) -> None:
        process = self.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self._spawn(name)

    def stop(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def report(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}"
            for path in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    with path.open("w") as handle:
        for n in range(POSTS):
            record = {
                "id": f"c{n}",
                "text": f"Brightwave, {COMPLAINTS[n % len(COMPLAINTS)]} (case {n})",
                "author": f"customer{n % 997}",
                "created_at": (START + dt.timedelta(seconds=7 * n)).isoformat(),
            }
            handle.write(json.dumps(record) + "\n")
    return path


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Fleet]]:
    made: list[Fleet] = []

    def make(extra_env: dict[str, str]) -> Fleet:
        logs = tmp_path / "logs"
        logs.mkdir(exist_ok=True)
        made.append(Fleet(logs, child_env({"HUBBUB_SOURCE_LEASE_SECONDS": "2", **extra_env})))
        return made[-1]

    yield make
    for each in made:
        each.stop()


def set_up(cast: Cast, replay_file: Path) -> Source:
    services.save_query(actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave")
    return services.ensure_source(
        workspace_id=cast.brightwave.pk,
        name="Crash replay",
        kind=SourceKind.REPLAY,
        # Paced, so that the kills land while the posts are still flowing.
        settings={"path": str(replay_file), "preset": "generic", "batch_size": 200, "rate": 800},
    )


def wait_for(condition: Callable[[], bool], *, seconds: float, fleet: Fleet, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s\n{fleet.report()}")
        time.sleep(0.25)


def assert_every_post_stored_once(source: Source) -> None:
    source.refresh_from_db()
    assert source.cursor == str(POSTS)
    assert InboundPost.objects.count() == POSTS
    assert not InboundPost.objects.filter(processed_at__isnull=True).exists()
    assert not InboundPost.objects.filter(dead_at__isnull=False).exists()
    stored = set(Mention.objects.values_list("external_id", flat=True))
    assert stored == {f"c{n}" for n in range(POSTS)}
    assert Mention.objects.count() == POSTS  # once each: no row twice
    assert Mention.queries.through.objects.count() == POSTS
    # Processed once, not just stored once: each mention was announced once.
    announced = EventRecord.objects.filter(kind="mentions_arrived").values_list(
        "payload", flat=True
    )
    assert sum(payload["count"] for payload in announced) == POSTS


def test_the_redis_runner_loses_nothing_when_its_processes_are_killed(
    committed_cast: Cast, replay_file: Path, redis_url: str, fleet: Callable[..., Fleet]
) -> None:
    client = streams.connect(redis_url)
    client.delete(streams.STREAM, streams.DEAD)
    source = set_up(committed_cast, replay_file)
    processes = fleet({"HUBBUB_REDIS_URL": redis_url})
    processes.start("listener", "listen")
    workers = ["worker-1", "worker-2"]
    for name in workers:
        processes.start(name, "worker", "--only", "pipeline", "--claim-idle", "1")

    chance = random.Random(20261123)
    for kill in range(KILLS):
        time.sleep(chance.uniform(0.2, 1.0))
        processes.kill_and_restart(chance.choice(workers))
        if kill in (6, 13):
            processes.kill_and_restart("listener")

    wait_for(
        lambda: Source.objects.get(pk=source.pk).cursor == str(POSTS),
        seconds=240,
        fleet=processes,
        what="the listener reading the whole file",
    )
    wait_for(
        lambda: (
            not InboundPost.objects.filter(processed_at__isnull=True).exists()
            and _pending(client) == 0
        ),
        seconds=240,
        fleet=processes,
        what="the workers draining the stream",
    )
    processes.stop()
    assert_every_post_stored_once(source)
    assert "took over" in processes.report(tail=10**7), "no kill landed while a worker held entries"
    assert _pending(client) == 0
    assert client.xlen(streams.DEAD) == 0
    client.delete(streams.STREAM, streams.DEAD)


def test_the_embedded_runner_loses_nothing_when_it_is_killed(
    committed_cast: Cast, replay_file: Path, fleet: Callable[..., Fleet]
) -> None:
    source = set_up(committed_cast, replay_file)
    processes = fleet({"HUBBUB_REDIS_URL": ""})
    processes.start("listener", "listen", "--idle", "0.1")
    chance = random.Random(20261124)
    for _ in range(KILLS):
        time.sleep(chance.uniform(0.3, 1.2))
        processes.kill_and_restart("listener")
    wait_for(
        lambda: (
            Source.objects.get(pk=source.pk).cursor == str(POSTS)
            and not InboundPost.objects.filter(processed_at__isnull=True).exists()
        ),
        seconds=300,
        fleet=processes,
        what="the listener reading and processing the whole file",
    )
    processes.stop()
    assert_every_post_stored_once(source)


def _pending(client: redis.Redis) -> int:
    return int(client.xpending(streams.STREAM, streams.GROUP)["pending"])
