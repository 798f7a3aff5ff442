"""A mention's own page: what it says, why it ranks, its copies and its thread."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast
from hubbub.core.errors import NotFound
from hubbub.intelligence.services import correct_label
from hubbub.listening import selectors
from hubbub.listening.models import Mention
from hubbub.listening.selectors import PriorityReason
from hubbub.listening.tests.factories import MentionFactory, QueryFactory


def sign_in(client: Client, user: object) -> None:
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")  # type: ignore[arg-type]


def url(mention: Mention) -> str:
    return f"/listening/mentions/{mention.pk}/"


class TestDetailPage:
    def test_shows_the_mention_its_triage_and_why_it_ranks_high(
        self, client: Client, cast: Cast
    ) -> None:
        query = QueryFactory(workspace=cast.brightwave, name="Outages")
        mention = MentionFactory(
            workspace=cast.brightwave,
            platform="mastodon",
            author_name="Maya <Ops>",
            author_handle="maya@example.social",
            text="Brightwave <script>alert(1)</script> down since 9am",
            html="<p>Brightwave <strong>down</strong></p>",
            url="https://example.social/@maya/1",
            lang="en",
            sentiment="negative",
            intent="complaint",
            priority=72.4,
            priority_reasons=[
                {"factor": "reach", "points": 9.5, "label": "Author reaches 12k people"},
                {"factor": "negative", "points": 18.0, "label": "Strongly negative"},
            ],
        )
        mention.queries.add(query)
        sign_in(client, cast.cara)
        page = client.get(url(mention)).content.decode()
        assert "Maya &lt;Ops&gt;" in page
        assert "@maya@example.social" in page
        assert "Brightwave &lt;script&gt;alert(1)&lt;/script&gt; down since 9am" in page
        assert "<strong>down</strong>" not in page  # the platform's HTML is not rendered
        assert (
            'href="https://example.social/@maya/1" target="_blank" '
            'rel="noopener noreferrer nofollow"' in page
        )
        assert ">Outages<" in page
        assert "P72" in page
        assert "sentiment-negative" in page
        assert "intent-complaint" in page
        assert "Why is this high?" in page
        assert page.index("Strongly negative") < page.index("Author reaches 12k people")
        assert "+18" in page
        assert "+9.5" in page
        assert 'href="/listening/" data-shortcut="u" data-back' in page

    def test_an_unsafe_link_is_not_rendered(self, client: Client, cast: Cast) -> None:
        mention = MentionFactory(workspace=cast.brightwave, url="javascript:alert(1)")
        sign_in(client, cast.cara)
        page = client.get(url(mention)).content.decode()
        assert "javascript:" not in page
        assert "Open on" not in page

    def test_old_mentions_without_reasons_say_so(self, client: Client, cast: Cast) -> None:
        mention = MentionFactory(workspace=cast.brightwave, priority=None, priority_reasons=[])
        sign_in(client, cast.cara)
        page = client.get(url(mention)).content.decode()
        assert "not scored" in page
        assert "No breakdown was recorded" in page

    def test_shows_the_original_and_the_copies(self, client: Client, cast: Cast) -> None:
        original = MentionFactory(workspace=cast.brightwave, text="Brightwave down again")
        copies = [
            MentionFactory(
                workspace=cast.brightwave,
                text=f"RT Brightwave down again {n}",
                duplicate_of=original,
            )
            for n in range(2)
        ]
        sign_in(client, cast.cara)
        page = client.get(url(original)).content.decode()
        assert "Reposts and copy-pastes of this post." in page
        for copy in copies:
            assert f'href="{url(copy)}"' in page
        copy_page = client.get(url(copies[0])).content.decode()
        assert "This post copies an earlier one." in copy_page
        assert f'href="{url(original)}"' in copy_page
        assert ">Original<" in copy_page

    def test_shows_the_thread_oldest_first_with_this_mention_marked(
        self, client: Client, cast: Cast
    ) -> None:
        root = MentionFactory(workspace=cast.brightwave, external_id="root", text="Is it down?")
        first = MentionFactory(
            workspace=cast.brightwave,
            text="Yes, here too",
            thread_root_external_id="root",
            reply_to_external_id="root",
        )
        second = MentionFactory(
            workspace=cast.brightwave,
            text="Back up now",
            thread_root_external_id="root",
            reply_to_external_id=first.external_id,
        )
        # Same ids elsewhere are other conversations.
        MentionFactory(
            workspace=cast.brightwave,
            platform="reddit",
            text="other platform",
            thread_root_external_id="root",
        )
        MentionFactory(
            workspace=cast.elsewhere, text="other workspace", thread_root_external_id="root"
        )
        sign_in(client, cast.cara)
        page = client.get(url(first)).content.decode()
        thread = page[page.index('id="thread-title"') : page.index('id="copies-title"')]
        assert thread.index("Is it down?") < thread.index("Yes, here too") < thread.index("Back up")
        assert "3 stored posts of this conversation" in page
        assert page.count('aria-current="true"') == 1
        assert "This mention" in page
        assert f'href="{url(root)}"' in page
        assert f'href="{url(second)}"' in page
        assert "other platform" not in page
        assert "other workspace" not in page
        # From the root, the same thread.
        assert "Back up now" in client.get(url(root)).content.decode()

    def test_a_thread_whose_first_post_was_not_captured(self, client: Client, cast: Cast) -> None:
        reply = MentionFactory(
            workspace=cast.brightwave, thread_root_external_id="gone", reply_to_external_id="gone"
        )
        sign_in(client, cast.cara)
        page = client.get(url(reply)).content.decode()
        assert "Its first post was not captured." in page

    def test_the_page_reads_a_fixed_number_of_queries(
        self, client: Client, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        mention = MentionFactory(workspace=cast.brightwave, external_id="root")
        query = QueryFactory(workspace=cast.brightwave)
        mention.queries.add(query)
        for n in range(30):
            MentionFactory(workspace=cast.brightwave, thread_root_external_id="root", text=f"r{n}")
            MentionFactory(workspace=cast.brightwave, duplicate_of=mention, text=f"c{n}")
        for label in ("positive", "neutral"):  # corrected labels, read in one query
            correct_label(user=cast.cara, mention_id=mention.pk, task="sentiment", label=label)
        correct_label(user=cast.lee, mention_id=mention.pk, task="intent", label="question")
        sign_in(client, cast.cara)
        with django_assert_max_num_queries(12):  # type: ignore[operator]
            response = client.get(url(mention))
        assert response.status_code == 200


class TestScope:
    def test_another_workspaces_mention_is_not_found(self, client: Client, cast: Cast) -> None:
        theirs = MentionFactory(workspace=cast.elsewhere, text="the other brand")
        sign_in(client, cast.ada)
        response = client.get(url(theirs))
        assert response.status_code == 404
        assert "the other brand" not in response.content.decode()
        assert client.get("/listening/mentions/999999/").status_code == 404

    def test_a_mention_routed_to_another_team_is_not_found(
        self, client: Client, cast: Cast
    ) -> None:
        for_nights = MentionFactory(workspace=cast.brightwave, team=cast.nights)
        sign_in(client, cast.cara)
        assert client.get(url(for_nights)).status_code == 404
        sign_in(client, cast.lee)
        assert client.get(url(for_nights)).status_code == 200

    def test_copies_and_thread_posts_are_scoped_too(self, cast: Cast) -> None:
        root = MentionFactory(workspace=cast.brightwave, external_id="root", team=cast.care)
        MentionFactory(workspace=cast.brightwave, thread_root_external_id="root", team=cast.nights)
        MentionFactory(workspace=cast.brightwave, duplicate_of=root, team=cast.nights)
        detail = selectors.mention_detail(user=cast.cara, mention_id=root.pk)
        assert [post.pk for post in detail.thread] == [root.pk]
        assert (detail.copies, detail.copy_count) == ([], 0)
        with pytest.raises(NotFound):
            selectors.mention_detail(user=cast.otto, mention_id=root.pk)

    def test_only_queries_the_reader_may_see_are_named(self, cast: Cast) -> None:
        mention = MentionFactory(workspace=cast.brightwave)
        mention.queries.add(
            QueryFactory(workspace=cast.brightwave, name="Care's", owner_team=cast.care),
            QueryFactory(workspace=cast.brightwave, name="Nights'", owner_team=cast.nights),
        )
        detail = selectors.mention_detail(user=cast.cara, mention_id=mention.pk)
        assert [query.name for query in detail.queries] == ["Care's"]
        (listed,) = selectors.recent_mentions(user=cast.cara)
        assert [query.name for query in listed.queries.all()] == ["Care's"]


class TestSelector:
    def test_thread_and_copies_are_bounded(self, cast: Cast) -> None:
        root = MentionFactory(workspace=cast.brightwave, external_id="root")
        for n in range(5):
            MentionFactory(workspace=cast.brightwave, thread_root_external_id="root", text=f"{n}")
            MentionFactory(workspace=cast.brightwave, duplicate_of=root)
        detail = selectors.mention_detail(
            user=cast.lee, mention_id=root.pk, thread_limit=3, copy_limit=2
        )
        assert detail.thread[0].pk == root.pk
        assert (len(detail.thread), detail.thread_has_more) == (3, True)
        assert (len(detail.copies), detail.copy_count) == (2, 5)

    def test_malformed_priority_reasons_are_skipped(self, cast: Cast) -> None:
        mention = MentionFactory(
            workspace=cast.brightwave,
            priority_reasons=[
                {"factor": "velocity", "points": -4, "label": "Slowing down"},
                {"factor": "reach", "points": "lots", "label": "Bad points"},
                {"factor": "question", "points": 6.0},
                "not a reason",
                {"points": True, "label": "A boolean"},
            ],
        )
        detail = selectors.mention_detail(user=cast.lee, mention_id=mention.pk)
        assert detail.reasons == [
            PriorityReason(label="question", points=6.0),
            PriorityReason(label="Slowing down", points=-4.0),
        ]
