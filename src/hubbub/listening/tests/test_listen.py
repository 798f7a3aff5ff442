"""`hubbub listen` follows sources and runs the pipeline until it is told to stop."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.listening import services
from hubbub.listening.models import Mention, QueryKind, Source, SourceKind
from hubbub.testing import start_hubbub

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_listener_turns_a_replayed_file_into_mentions_and_stops_cleanly(
    committed_cast: Cast, tmp_path: Path
) -> None:
    cast = committed_cast
    services.save_query(actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave")
    path = tmp_path / "posts.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": str(n),
                    "text": f"brightwave post {n}" if n % 2 else f"other post {n}",
                    "created_at": f"2026-11-01T10:{n:02d}:00Z",
                }
            )
            for n in range(40)
        )
        + "\n"
    )
    source = services.ensure_source(
        workspace_id=cast.brightwave.pk,
        name="file",
        kind=SourceKind.REPLAY,
        settings={"path": str(path), "preset": "generic", "batch_size": 7},
    )
    listener = start_hubbub("listen", "--idle", "0.1")
    try:
        deadline = time.monotonic() + 60
        while Mention.objects.filter(workspace=cast.brightwave).count() < 20:
            assert time.monotonic() < deadline, "the listener stored too few mentions in time"
            assert listener.poll() is None, "the listener exited"
            time.sleep(0.2)
    finally:
        listener.send_signal(signal.SIGTERM)
        code = listener.wait(timeout=20)
    assert code == 0
    assert Mention.objects.filter(workspace=cast.brightwave).count() == 20
    source = Source.objects.get(pk=source.pk)
    assert (source.cursor, source.accepted_count) == ("40", 40)


def test_a_source_leased_by_another_listener_is_left_alone(
    committed_cast: Cast, tmp_path: Path
) -> None:
    cast = committed_cast
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "brightwave"}) + "\n")
    source = services.ensure_source(
        workspace_id=cast.brightwave.pk,
        name="file",
        kind=SourceKind.REPLAY,
        settings={"path": str(path)},
    )
    assert services.take_source_lease(source_id=source.pk, holder="elsewhere:1")
    listener = start_hubbub("listen", "--idle", "0.1")
    try:
        time.sleep(3)
        assert Source.objects.get(pk=source.pk).cursor == ""  # not read: the lease is held
    finally:
        listener.send_signal(signal.SIGTERM)
        assert listener.wait(timeout=20) == 0
