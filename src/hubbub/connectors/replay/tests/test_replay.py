"""Replay reads CSV and JSON Lines, maps columns, rejects what it cannot use, and resumes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.replay.reader import (
    MAPPINGS,
    ReplayError,
    parse_time,
    read_records,
    to_raw_post,
)
from hubbub.connectors.replay.source import replay_source
from hubbub.listening import services
from hubbub.listening.models import InboundPost, SourceKind

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_twitter_and_iso_times() -> None:
    assert parse_time("Tue Oct 31 22:10:47 +0000 2017", fallback=NOW) == dt.datetime(
        2017, 10, 31, 22, 10, 47, tzinfo=dt.UTC
    )
    assert parse_time("2026-01-02T03:04:05Z", fallback=NOW).hour == 3
    assert parse_time("yesterday-ish", fallback=NOW) == NOW


def test_a_csv_row_maps_to_a_raw_post(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        ",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        '0,7,maya,True,Tue Oct 31 22:10:47 +0000 2017,"Hi, my router",,3.0\n'
    )
    (record,) = read_records(path)
    post = to_raw_post(
        record,
        mapping=MAPPINGS["twcs"],
        workspace_id=1,
        source_id=None,
        platform="twitter",
        now=NOW,
    )
    assert (post.external_id, post.author_handle, post.reply_to_external_id) == ("7", "maya", "3")
    assert post.text == "Hi, my router"
    assert post.posted_at.year == 2017


def test_records_without_id_or_text_are_refused_with_their_number(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"id": "1", "text": "ok"}, {"id": "2"}, {"text": "no id"}]
    )
    problems = []
    for record in read_records(path):
        try:
            to_raw_post(
                record,
                mapping=MAPPINGS["generic"],
                workspace_id=1,
                source_id=None,
                platform="replay",
                now=NOW,
            )
        except ReplayError as error:
            problems.append(str(error))
    assert problems == ["record 2: no text in column 'text'", "record 3: no id in column 'id'"]


def test_broken_json_is_a_problem_record_that_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "1", "text": "ok"}\n{not json\n[1]\n{"id": "4", "text": "ok"}\n')
    records = list(read_records(path))
    assert [r.number for r in records] == [1, 2, 3, 4]
    assert records[1].problem.startswith("line 2: not JSON")
    assert records[2].problem == "line 3: expected a JSON object"
    with pytest.raises(ReplayError, match="line 2: not JSON"):
        to_raw_post(
            records[1],
            mapping=MAPPINGS["generic"],
            workspace_id=1,
            source_id=None,
            platform="replay",
            now=NOW,
        )


def test_a_replay_accepts_skips_bad_records_and_resumes(cast: Cast, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": str(n), "text": f"post {n} about brightwave"} if n != 3 else {"id": "3"}
            for n in range(1, 8)
        ],
    )
    source = services.ensure_source(
        workspace_id=cast.brightwave.pk,
        name="file",
        kind=SourceKind.REPLAY,
        settings={"path": str(path), "preset": "generic"},
    )
    first = replay_source(source_id=source.pk, limit=4, batch_size=2)
    assert (first.read, first.accepted, first.rejected, first.cursor) == (4, 3, 1, 4)
    rest = replay_source(source_id=source.pk, batch_size=2)
    assert (rest.read, rest.accepted, rest.cursor) == (3, 3, 7)
    source.refresh_from_db()
    assert (source.cursor, source.accepted_count, source.error_count) == ("7", 6, 1)
    assert "no text" in source.last_error
    assert source.last_read_at is not None  # shown on Settings › Sources
    assert InboundPost.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_the_replay_command_runs_posts_through_listening(
    committed_cast: Cast, tmp_path: Path
) -> None:
    from hubbub.listening.models import Mention, QueryKind
    from hubbub.testing import run_hubbub

    services.save_query(
        actor=committed_cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave"
    )
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "text": "Brightwave is down", "created_at": "2026-11-01T10:00:00Z"},
            {"id": "2", "text": "Nothing to see", "created_at": "2026-11-01T10:01:00Z"},
            {"id": "3", "text": "RT @x: Brightwave is down", "created_at": "2026-11-01T10:05:00Z"},
        ],
    )
    result = run_hubbub("replay", str(path), "--workspace", "brightwave")
    assert result.returncode == 0, result.stderr
    assert "3 accepted" in result.stdout
    assert "2 new mention(s)" in result.stdout
    mentions = {
        m.external_id: m for m in Mention.objects.filter(workspace=committed_cast.brightwave)
    }
    assert set(mentions) == {"1", "3"}
    assert mentions["3"].duplicate_of == mentions["1"]


def test_a_rate_paces_the_replay_and_a_stop_keeps_the_place(cast: Cast, tmp_path: Path) -> None:
    import threading

    path = write_jsonl(
        tmp_path / "p.jsonl", [{"id": str(n), "text": f"post {n}"} for n in range(50)]
    )
    source = services.ensure_source(
        workspace_id=cast.brightwave.pk,
        name="paced",
        kind=SourceKind.REPLAY,
        settings={"path": str(path)},
    )
    stop = threading.Event()
    batches: list[int] = []

    def after_batch() -> None:
        batches.append(1)
        if len(batches) == 3:
            stop.set()  # as a listener does when it is told to stop

    report = replay_source(
        source_id=source.pk, rate=1000, batch_size=5, stop=stop, after_batch=after_batch
    )
    assert (report.read, report.cursor) == (15, 15)
    assert replay_source(source_id=source.pk, batch_size=5).read == 35
