"""`hubbub classify`: posts in, one JSON object per line out, streaming, never failing on input."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hubbub.intelligence import interface
from hubbub.testing import hubbub_command, missing_component


def classify(*args: str, stdin: bytes) -> list[dict[str, object]]:
    done = subprocess.run(
        hubbub_command("classify", *args),
        input=stdin,
        capture_output=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_each_line_gets_every_label_with_its_confidence() -> None:
    objects = classify(
        stdin=b"my parcel never arrived and nobody answers, useless\nthank you so much!\n"
    )
    assert len(objects) == 2
    assert objects[0]["sentiment"] == "negative"
    assert objects[0]["complaint"] == "complaint"
    assert objects[1]["sentiment"] == "positive"
    assert objects[1]["intent"] == "praise"
    for record in objects:
        for task in interface.TASKS:
            assert 0.0 <= float(record[f"{task}_confidence"]) <= 1.0  # type: ignore[arg-type]


def test_the_same_labels_as_the_pipeline_uses() -> None:
    texts = ["the app crashes every time I log in", "where is your nearest store?"]
    objects = classify("--task", "sentiment", stdin="\n".join(texts).encode())
    expected = interface.label_batch(texts, ["sentiment"])
    assert [(o["sentiment"], o["sentiment_confidence"]) for o in objects] == [
        (row["sentiment"].label, row["sentiment"].confidence) for row in expected
    ]


def test_hostile_lines_get_a_defined_label_and_keep_their_place() -> None:
    lines = [
        b"",
        "🙂🙂🙂".encode(),
        b"https://example.com/x",
        b"\xff\xfe\x00 broken",
        b"a" * 50_000,
    ]
    objects = classify("--echo", stdin=b"\n".join(lines) + b"\n")
    assert len(objects) == len(lines)
    assert objects[0] == {
        "text": "",
        "sentiment": "neutral",
        "sentiment_confidence": 0.3,
        "complaint": "not_complaint",
        "complaint_confidence": 0.3,
        "intent": "other",
        "intent_confidence": 0.2,
        "language": "und",
        "language_confidence": 0.0,
    }
    assert objects[1]["intent"] == "other"
    assert str(objects[3]["text"]).endswith("broken")  # bad bytes replaced, not fatal


def test_csv_with_a_column_and_a_file(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text('id,body\n1,"terrible service, still waiting"\n2,"love it, thanks"\n')
    objects = classify("--input", str(path), "--column", "body", "--task", "sentiment", stdin=b"")
    assert [o["sentiment"] for o in objects] == ["negative", "positive"]
    assert set(objects[0]) == {"sentiment", "sentiment_confidence"}


def test_a_missing_column_is_a_clear_error() -> None:
    done = subprocess.run(
        hubbub_command("classify", "--column", "nope"),
        input=b"id,body\n1,x\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"no column 'nope' in the CSV header (id, body)" in done.stderr


def test_it_answers_each_line_as_it_arrives() -> None:
    process = subprocess.Popen(
        hubbub_command("classify", "--task", "sentiment"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdin.write(b"worst airline ever\n")
        process.stdin.flush()
        # The input is still open: an answer now means the command does not wait for the end.
        first = json.loads(process.stdout.readline())
        assert first["sentiment"] == "negative"
        process.stdin.write(b"what a lovely day\n")
        process.stdin.close()
        assert json.loads(process.stdout.readline())["sentiment"] == "positive"
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_classify_bench_reports_the_default_set_on_one_core() -> None:
    done = subprocess.run(
        hubbub_command("bench", "classify", "--posts", "1000", "--json"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode == 2:
        missing_component(done.stdout)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["posts"] == 1000
    assert figures["posts_per_s"] > 0
    assert figures["batch_p95_ms"] >= figures["batch_p50_ms"] > 0
    assert {"sentiment_posts_per_s", "intent_posts_per_s", "language_posts_per_s"} <= set(figures)
