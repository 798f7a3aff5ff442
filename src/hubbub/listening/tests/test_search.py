"""Full-text search and the time filter on the Listening page, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from hubbub.accounts.tests.factories import Cast
from hubbub.listening import search, selectors
from hubbub.listening.models import Mention
from hubbub.listening.selectors import MentionFilters
from hubbub.listening.tests.factories import MentionFactory


def sign_in(client: Client, user: object) -> None:
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")  # type: ignore[arg-type]


def found(cast: Cast, q: str, **filters: Any) -> list[str]:
    mentions = selectors.recent_mentions(user=cast.lee, filters=MentionFilters(q=q, **filters))
    return [mention.text for mention in mentions]


HOSTILE = [
    '"',
    '""',
    "AND OR (",
    "*",
    "NEAR(",
    "NEAR(refund late, 2)",
    "'; drop table listening_mention; --",
    "🔥🔥",
    "refund 🔥",
    "\\",
    "refund\\",
    "-refund",
    "refund OR",
    "NOT",
    "text:refund",
    "^refund",
    "{refund late}",
    "refund:*",
    "' & | ! <-> :*",
    "%_",
    "a" * 500,
    "x " * 300,
    "\x00refund",
]


class TestSearch:
    def test_finds_mentions_by_word_in_any_case(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="My refund is three weeks late")
        MentionFactory(workspace=cast.brightwave, text="Lovely new router")
        assert found(cast, "REFUND") == ["My refund is three weeks late"]
        assert found(cast, "Router") == ["Lovely new router"]

    def test_every_word_must_match_and_the_last_may_be_a_prefix(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="refund arrived late")
        MentionFactory(workspace=cast.brightwave, text="refund arrived on time")
        assert found(cast, "refund lat") == ["refund arrived late"]
        assert found(cast, "refu") == ["refund arrived on time", "refund arrived late"]
        # Only the last word is a prefix: the others are whole words.
        assert found(cast, "refu late") == []

    def test_accents_are_ignored_both_ways(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="Le café crème était froid")
        MentionFactory(workspace=cast.brightwave, text="Cafe au lait, naive question")
        assert found(cast, "cafe creme") == ["Le café crème était froid"]
        assert found(cast, "ÉTAIT") == ["Le café crème était froid"]
        assert found(cast, "naïve") == ["Cafe au lait, naive question"]

    def test_finds_mentions_by_author_handle(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="down again", author_handle="maya.example")
        MentionFactory(
            workspace=cast.brightwave, text="down again too", author_handle="tom.example"
        )
        assert found(cast, "maya") == ["down again"]

    def test_results_are_newest_first_and_keep_the_other_filters(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="outage one", platform="reddit")
        MentionFactory(workspace=cast.brightwave, text="outage two", platform="bluesky")
        MentionFactory(workspace=cast.brightwave, text="outage three", platform="bluesky")
        assert found(cast, "outage") == ["outage three", "outage two", "outage one"]
        assert found(cast, "outage", platform="reddit") == ["outage one"]

    def test_search_stays_within_what_the_reader_may_see(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="outage for care", team=cast.care)
        MentionFactory(workspace=cast.brightwave, text="outage for nights", team=cast.nights)
        MentionFactory(workspace=cast.elsewhere, text="outage at the other brand")
        cara_sees = selectors.recent_mentions(user=cast.cara, filters=MentionFilters(q="outage"))
        assert [m.text for m in cara_sees] == ["outage for care"]
        assert found(cast, "outage") == ["outage for nights", "outage for care"]

    @pytest.mark.parametrize("q", HOSTILE)
    def test_no_input_is_a_syntax_error(self, cast: Cast, q: str) -> None:
        MentionFactory(workspace=cast.brightwave, text="refund late, near the end")
        results = found(cast, q)
        assert results in ([], ["refund late, near the end"])

    def test_punctuation_and_emoji_alone_match_nothing(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="🔥 refund (late) * now")
        assert found(cast, "🔥") == []
        assert found(cast, "( * )") == []
        assert found(cast, '"refund') == ["🔥 refund (late) * now"]
        assert found(cast, "'; refund") == ["🔥 refund (late) * now"]

    def test_words_become_quoted_terms(self) -> None:
        assert search.search_words("  refund\tLATE  🔥 ( ") == ["refund", "LATE"]
        assert search.search_words("\x00refund\ud800late") == ["refund", "late"]
        assert search.fts5_query(['say "hi', "late"]) == '"say ""hi" "late"*'
        assert search.tsquery_prefix("it's\\") == "'it''s\\\\':*"
        assert search.websearch_words(["or", '-no"pe']) == '"or" "-no pe"'


class TestTimeFilter:
    def test_only_mentions_posted_since_the_given_time(self, cast: Cast) -> None:
        now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
        MentionFactory(workspace=cast.brightwave, text="fresh", posted_at=now)
        MentionFactory(
            workspace=cast.brightwave, text="yesterday", posted_at=now - dt.timedelta(hours=25)
        )
        MentionFactory(
            workspace=cast.brightwave, text="last month", posted_at=now - dt.timedelta(days=31)
        )
        since = now - dt.timedelta(days=7)
        mentions = selectors.recent_mentions(user=cast.lee, filters=MentionFilters(since=since))
        assert [m.text for m in mentions] == ["fresh", "yesterday"]
        assert found(cast, "fresh yesterday") == []


class TestSearchIndex:
    def test_the_index_follows_updates_and_deletes(self, cast: Cast) -> None:
        mention = MentionFactory(workspace=cast.brightwave, text="router broken")
        assert found(cast, "router") == ["router broken"]

        mention.text = "modem broken"
        mention.save()
        assert found(cast, "router") == []
        assert found(cast, "modem") == ["modem broken"]

        Mention.objects.filter(pk=mention.pk).update(text="fibre broken", author_handle="kim")
        assert found(cast, "modem") == []
        assert found(cast, "fibre") == ["fibre broken"]
        assert found(cast, "kim") == ["fibre broken"]

        Mention.objects.filter(pk=mention.pk).delete()
        assert found(cast, "fibre") == []
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(search.SQLITE_MATCH, ['"fibre"'])
                assert cursor.fetchall() == [], "the deleted row is still in the FTS index"
                cursor.execute(
                    "INSERT INTO listening_mention_fts(listening_mention_fts) "
                    "VALUES ('integrity-check')"
                )

    def test_the_migration_indexes_mentions_stored_before_it_and_reverses(self, cast: Cast) -> None:
        migration = importlib.import_module("hubbub.listening.migrations.0004_mention_search")
        editor = _StatementRunner()
        migration.drop_search(None, editor)
        MentionFactory(workspace=cast.brightwave, text="stored before the index existed")
        if connection.vendor == "postgresql":
            # PostgreSQL builds no index over rows with foreign-key checks pending.
            editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        migration.create_search(None, editor)
        assert found(cast, "existed") == ["stored before the index existed"]

    def test_the_database_answers_from_its_search_index(self, cast: Cast) -> None:
        mentions = search.search_mentions(Mention.objects.all(), "refund lat")
        sql, params = mentions.query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN {sql}", params)
                index = "listening_mention_search"
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                index = "listening_mention_fts VIRTUAL TABLE INDEX"
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert index in plan


class _StatementRunner:
    """Just enough of a schema editor to run the migration's functions in a test transaction."""

    connection = connection

    def execute(self, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


class TestListeningPage:
    def test_the_search_box_and_time_filter_narrow_the_list(
        self, client: Client, cast: Cast
    ) -> None:
        now = timezone.now()
        MentionFactory(workspace=cast.brightwave, text="refund still missing", posted_at=now)
        MentionFactory(
            workspace=cast.brightwave,
            text="refund from last year",
            posted_at=now - dt.timedelta(days=400),
        )
        MentionFactory(workspace=cast.brightwave, text="router is fine", posted_at=now)
        sign_in(client, cast.cara)
        page = client.get("/listening/").content.decode()
        assert 'type="search"' in page
        assert "Last 24 hours" in page

        searched = client.get("/listening/", {"q": "Refund"}).content.decode()
        assert "refund still missing" in searched
        assert "refund from last year" in searched
        assert "router is fine" not in searched

        recent = client.get(
            "/listening/", {"q": "refund", "since": "24h"}, HTTP_HX_REQUEST="true"
        ).content.decode()
        assert "refund still missing" in recent
        assert "refund from last year" not in recent
        assert "<html" not in recent  # htmx gets the list alone
        assert 'hx-get="/listening/?q=refund&amp;since=24h"' in recent  # live refresh keeps it

    def test_nothing_found_says_so_and_offers_to_clear(self, client: Client, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="router is fine")
        sign_in(client, cast.cara)
        page = client.get("/listening/", {"q": "<b>refund</b>"}).content.decode()
        assert "No mentions match “&lt;b&gt;refund&lt;/b&gt;”." in page
        assert "Clear search and filters" in page

    @pytest.mark.parametrize("q", HOSTILE)
    def test_hostile_searches_render(self, client: Client, cast: Cast, q: str) -> None:
        sign_in(client, cast.cara)
        assert client.get("/listening/", {"q": q, "since": "nonsense"}).status_code == 200

    def test_each_mention_links_to_its_detail(self, client: Client, cast: Cast) -> None:
        mention = MentionFactory(workspace=cast.brightwave, text="router is fine")
        sign_in(client, cast.cara)
        page = client.get("/listening/").content.decode()
        assert f'href="/listening/mentions/{mention.pk}/"' in page
