"""Replay reads the shared data sets as they really are: SemEval's TSV, TweetEval's lines.

The fixtures copy the files' layout (tabs, quoting, escapes, trailing tabs)
with invented posts; the last test reads the real files when they are there.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.replay.reader import (
    PRESETS,
    Record,
    ReplayError,
    read_records,
    to_raw_post,
    unescape,
)
from hubbub.connectors.replay.source import replay_source
from hubbub.datasets import DataMissing, shared_data_dir
from hubbub.listening import services
from hubbub.listening.models import InboundPost, SourceKind
from hubbub.listening.types import RawPost
from hubbub.testing import missing_component

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)

# tweet_id<TAB>label<TAB>text, no header, as in semeval-sentiment/*.tsv.
SEMEVAL = (
    "100000000000000001\tneutral\tOpening night tomorrow\\u002c doors at 7 \\u2019til late\n"
    '100000000000000002\tpositive\t"Loved the \\""Brightwave\\"" launch\\u002c really"\n'
    '100000000000000003\tnegative\t"Why is \\""""Brightwave down\\"""" again?"\n'
    # twitter-2016test-A.tsv: CSV quotes, a trailing tab, and now and then a time.
    '100000000000000004\tneutral\t"My router says ""offline"" since Monday"\t\n'
    "100000000000000005\tnegative\tStill no engineer on Tuesday\tWed Jul 29 12:01:22 +0000 2015\n"
    # twitter-2014sarcasm-A.tsv: a quote that is never closed.
    '100000000000000006\tnegative\t"Great service again. Thanks for nothing\n'
)

# One post a line, user names masked, a trailing space, as in tweeteval-sentiment/val_text.txt.
TWEETEVAL = (
    "@user Brightwave fixed it in ten minutes, impressed \n"
    '"\\""""Is Brightwave down for anyone else?\\""""" \n'
    "\n"
    "Third day without broadband\\u002c @user \\u2019s on it \n"
)


def posts(path: Path, preset: str, *, start_after: int = 0) -> list[RawPost | str]:
    """Each record as a RawPost, or the ReplayError's message."""
    chosen = PRESETS[preset]
    out: list[RawPost | str] = []
    for record in read_records(path, start_after=start_after, columns=chosen.columns):
        try:
            out.append(
                to_raw_post(
                    record,
                    mapping=chosen.mapping,
                    workspace_id=1,
                    source_id=None,
                    platform="replay",
                    now=NOW,
                    unescape_text=chosen.unescape,
                    html_entities=chosen.html_entities,
                )
            )
        except ReplayError as error:
            out.append(str(error))
    return out


def texts(items: list[RawPost | str]) -> list[str]:
    return [item.text if isinstance(item, RawPost) else f"ERROR {item}" for item in items]


class TestSemEval:
    def test_headerless_lines_map_by_the_presets_columns(self, tmp_path: Path) -> None:
        path = tmp_path / "twitter-2016test-A.tsv"
        path.write_text(SEMEVAL)
        replayed = posts(path, "semeval")
        assert texts(replayed) == [
            "Opening night tomorrow, doors at 7 ’til late",
            'Loved the "Brightwave" launch, really',
            'Why is "Brightwave down" again?',
            'My router says "offline" since Monday',
            "Still no engineer on Tuesday",
            '"Great service again. Thanks for nothing',
        ]
        first, *_, timed, _ = (p for p in replayed if isinstance(p, RawPost))
        assert (first.external_id, first.payload["label"]) == ("100000000000000001", "neutral")
        assert first.posted_at == NOW
        assert timed.posted_at == dt.datetime(2015, 7, 29, 12, 1, 22, tzinfo=dt.UTC)

    def test_the_cursor_is_the_line_number(self, tmp_path: Path) -> None:
        path = tmp_path / "s.tsv"
        path.write_text(SEMEVAL)
        rest = list(read_records(path, start_after=4, columns=PRESETS["semeval"].columns))
        assert [r.number for r in rest] == [5, 6]

    def test_a_line_with_more_fields_than_columns_is_a_counted_problem(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "s.tsv"
        path.write_text("1\tneutral\tfine\n2\tneutral\tone\textra\tfield\n3\tpositive\tfine too\n")
        assert texts(posts(path, "semeval")) == [
            "fine",
            "ERROR line 2: expected at most 4 tab-separated fields, found 5",
            "fine too",
        ]

    def test_escapes_never_produce_text_a_database_refuses(self) -> None:
        assert unescape("\\ud83d\\ude00 ok \\ud83d and \\u0000") == "\U0001f600 ok \ufffd and "
        assert unescape("=\\ and \\m/ stay") == "=\\ and \\m/ stay"


def test_twcs_text_gets_its_characters_back_from_html_entities(tmp_path: Path) -> None:
    path = tmp_path / "twcs.csv"
    path.write_text(
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        '7,115724,True,Tue Oct 31 22:00:00 +0000 2017,"&gt;All DOWN&lt; fish &amp;amp; chips",,\n'
    )
    assert texts(posts(path, "twcs")) == [">All DOWN< fish &amp; chips"]


def test_a_tsv_with_a_header_names_its_own_columns(tmp_path: Path) -> None:
    path = tmp_path / "posts.tsv"
    path.write_text(
        "\ufeffid\tauthor\ttext\tcreated_at\n"
        "a1\tmaya\tBrightwave is down\t2026-11-01T10:00:00Z\n"
        "\n"
        'a2\tliam\tSays "quote" as is\t\n'
    )
    replayed = [p for p in posts(path, "generic") if isinstance(p, RawPost)]
    assert [(p.external_id, p.author_handle, p.text) for p in replayed] == [
        ("a1", "maya", "Brightwave is down"),
        ("a2", "liam", 'Says "quote" as is'),
    ]
    assert replayed[0].posted_at.hour == 10
    assert [r.number for r in read_records(path)] == [1, 3]


class TestTweetEval:
    def test_one_post_a_line_with_an_id_from_file_and_line(self, tmp_path: Path) -> None:
        folder = tmp_path / "tweeteval-sentiment"
        folder.mkdir()
        path = folder / "val_text.txt"
        path.write_text(TWEETEVAL)
        replayed = [p for p in posts(path, "tweeteval") if isinstance(p, RawPost)]
        assert [(p.external_id, p.text) for p in replayed] == [
            (
                "tweeteval-sentiment/val_text.txt:1",
                "@user Brightwave fixed it in ten minutes, impressed",
            ),
            ("tweeteval-sentiment/val_text.txt:2", '"Is Brightwave down for anyone else?"'),
            ("tweeteval-sentiment/val_text.txt:4", "Third day without broadband, @user ’s on it"),
        ]

    def test_resuming_keeps_the_ids(self, tmp_path: Path) -> None:
        path = tmp_path / "val_text.txt"
        path.write_text(TWEETEVAL)
        (record,) = read_records(path, start_after=2)
        assert record.number == 4
        assert record.values["id"] == f"{tmp_path.name}/val_text.txt:4"

    def test_a_carriage_return_inside_a_post_does_not_split_it(self, tmp_path: Path) -> None:
        path = tmp_path / "val_text.txt"
        path.write_bytes(b"one\rpost\r\nnext\n")
        assert [r.values["text"] for r in read_records(path)] == ["one\rpost", "next"]


BAD_BYTES = b"caf\xe9 au lait"  # Latin-1, not UTF-8

LAYOUTS = {
    ".tsv": (b"1\tneutral\tfine\n2\tneutral\t" + BAD_BYTES + b"\n3\tneutral\tfine\n", "line 2"),
    ".txt": (b"fine\n" + BAD_BYTES + b"\nfine\n", "line 2"),
    ".jsonl": (
        b'{"id": "1", "text": "fine"}\n{"id": "2", "text": "' + BAD_BYTES + b'"}\n'
        b'{"id": "3", "text": "fine"}\n',
        "line 2",
    ),
    ".csv": (b"id,text\n1,fine\n2," + BAD_BYTES + b"\n3,fine\n", "record 2"),
}


@pytest.mark.parametrize("suffix", LAYOUTS)
def test_invalid_utf8_is_a_problem_record_and_the_rest_goes_on(tmp_path: Path, suffix: str) -> None:
    content, where = LAYOUTS[suffix]
    path = tmp_path / f"posts{suffix}"
    path.write_bytes(content)
    records = list(read_records(path, columns=("id", "label", "text")))
    assert [r.number for r in records] == [1, 2, 3]
    assert [r.problem for r in records] == ["", f"{where}: not valid UTF-8", ""]
    with pytest.raises(ReplayError, match="not valid UTF-8"):
        to_raw_post(
            records[1],
            mapping=PRESETS["generic"].mapping,
            workspace_id=1,
            source_id=None,
            platform="replay",
            now=NOW,
        )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("p.txt", "fine\nnul \x00 here\n"),
        ("p.jsonl", '{"id": "1", "text": "fine"}\n{"id": "2", "text": "nul \\u0000"}\n'),
        ("p.jsonl", '{"id": "1", "text": "fine"}\n{"id": "2", "text": "half \\ud800"}\n'),
    ],
)
def test_characters_postgresql_refuses_are_problems_too(
    tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    first, second = read_records(path)
    assert not first.problem
    assert second.problem.startswith("line 2: ")


def test_an_unknown_suffix_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match=r"replay reads \.csv, \.tsv"):
        list(read_records(tmp_path / "posts.xlsx"))


def test_a_semeval_replay_counts_bad_lines_and_resumes(cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "twitter-2016test-A.tsv"
    path.write_bytes(SEMEVAL.encode() + b"100000000000000007\tneutral\t" + BAD_BYTES + b"\n")
    source = services.ensure_source(
        workspace_id=cast.brightwave.pk,
        name="semeval",
        kind=SourceKind.REPLAY,
        settings={"path": str(path), "preset": "semeval"},
    )
    first = replay_source(source_id=source.pk, limit=3, batch_size=2)
    assert (first.read, first.accepted, first.rejected, first.cursor) == (3, 3, 0, 3)
    rest = replay_source(source_id=source.pk, batch_size=2)
    assert (rest.read, rest.accepted, rest.rejected, rest.cursor) == (4, 3, 1, 7)
    source.refresh_from_db()
    assert (source.cursor, source.error_count) == ("7", 1)
    assert source.last_error == "line 7: not valid UTF-8"
    stored = InboundPost.objects.get(external_id="100000000000000002")
    assert stored.post["text"] == 'Loved the "Brightwave" launch, really'


# Every file of the shared data that holds posts, and the preset that reads it.
# nab-tweets/ holds mention counts, not posts: nothing there to replay.
REAL_FILES = [
    ("semeval-sentiment/*.tsv", "semeval", 11),
    ("tweeteval-sentiment/val_text.txt", "tweeteval", 1),
    ("twcs/twcs-sample.csv", "twcs", 1),
    ("complaints/complaints-dev.csv", "complaints", 1),
]


def test_the_first_records_of_every_real_data_file_replay() -> None:
    try:
        folder = shared_data_dir()
    except DataMissing as error:
        missing_component(str(error))
    for pattern, preset, expected_files in REAL_FILES:
        paths = sorted(folder.glob(pattern))
        assert len(paths) == expected_files, f"{pattern}: {len(paths)} file(s) in {folder}"
        for path in paths:
            chosen = PRESETS[preset]
            records: list[Record] = list(
                itertools.islice(read_records(path, columns=chosen.columns), 50)
            )
            assert [r.number for r in records] == list(range(1, 51)), path.name
            replayed = posts_of(records, preset)
            assert len({p.external_id for p in replayed}) == 50, path.name
            for post in replayed:
                assert post.text, (path.name, post.external_id)
                assert "\\u002c" not in post.text, (path.name, post.external_id)


def posts_of(records: list[Record], preset: str) -> list[RawPost]:
    chosen = PRESETS[preset]
    return [
        to_raw_post(
            record,
            mapping=chosen.mapping,
            workspace_id=1,
            source_id=None,
            platform="replay",
            now=NOW,
            unescape_text=chosen.unescape,
        )
        for record in records
    ]
