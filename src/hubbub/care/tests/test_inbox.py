"""The inbox: views with counts, filters, search, order, and its pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import assignment, selectors, services
from hubbub.care.models import Conversation, SlaPolicy
from hubbub.care.selectors import InboxFilter, InboxView
from hubbub.care.tests.factories import arrives

pytestmark = pytest.mark.django_db


def subjects(conversations: list) -> list[str]:  # type: ignore[type-arg]
    return [c.subject for c in conversations]


class TestViews:
    def test_each_view_holds_what_its_name_says_and_counts_it(self, cast: Cast) -> None:
        mine = arrives(cast, "a.example", 0, text="mine", team=cast.care)
        assignment.claim_conversation(actor=cast.cara, conversation_id=mine.pk)
        arrives(cast, "b.example", 0, text="unassigned", team=cast.care)
        nights = arrives(cast, "c.example", 0, text="nights", team=cast.nights)
        assignment.claim_conversation(actor=cast.lee, conversation_id=nights.pk)
        later = arrives(cast, "d.example", 0, text="snoozed", team=cast.care)
        services.snooze(
            actor=cast.cara,
            conversation_id=later.pk,
            until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
        )
        done = arrives(cast, "e.example", 0, text="done", team=cast.care)
        services.change_status(actor=cast.cara, conversation_id=done.pk, status="resolved")

        def view(name: InboxView) -> list[str]:
            return sorted(subjects(selectors.inbox(user=cast.cara, wanted=InboxFilter(view=name))))

        assert view(InboxView.MINE) == ["mine"]
        assert view(InboxView.UNASSIGNED) == ["unassigned"]
        assert view(InboxView.TEAM) == ["mine", "unassigned"]
        assert view(InboxView.ALL) == ["mine", "unassigned"]  # Cara does not see Nights
        assert view(InboxView.SNOOZED) == ["snoozed"]
        assert view(InboxView.DONE) == ["done"]
        assert selectors.inbox_counts(user=cast.cara) == {
            InboxView.MINE: 1,
            InboxView.UNASSIGNED: 1,
            InboxView.TEAM: 2,
            InboxView.ALL: 2,
            InboxView.BREACHING: 0,
            InboxView.UPDATE_DUE: 0,
            InboxView.SNOOZED: 1,
        }
        assert selectors.inbox_counts(user=cast.lee)[InboxView.ALL] == 3

    def test_counts_stop_at_999(self, cast: Cast) -> None:
        from hubbub.care.models import Conversation as Model

        Model.objects.bulk_create(
            Model(
                workspace=cast.brightwave,
                platform="bluesky",
                customer_handle=f"c{n}.example",
                subject="x",
                last_activity_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            )
            for n in range(1001)
        )
        assert selectors.inbox_counts(user=cast.lee)[InboxView.ALL] == 1000
        client = Client()
        client.force_login(cast.lee)
        page = client.get(reverse("web:inbox"))
        assert b'data-count="all">999+<' in page.content

    def test_breaching_soon_holds_clocks_due_within_the_hour_soonest_first(
        self, cast: Cast
    ) -> None:
        SlaPolicy.objects.create(
            workspace=cast.brightwave, name="Bluesky", channel="bluesky", first_response_minutes=30
        )
        SlaPolicy.objects.create(
            workspace=cast.brightwave, name="Email", first_response_minutes=24 * 60
        )
        arrives(cast, "a.example", 0, text="later", platform="mastodon")
        arrives(cast, "b.example", 0, text="soon", platform="bluesky", priority=10.0)
        urgent = arrives(cast, "c.example", 0, text="overdue", platform="bluesky", priority=5.0)
        Conversation.objects.filter(pk=urgent.pk).update(
            sla_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5), sla_state="breached"
        )
        breaching = selectors.inbox(user=cast.lee, wanted=InboxFilter(view=InboxView.BREACHING))
        assert subjects(breaching) == ["overdue", "soon"]
        assert selectors.inbox_counts(user=cast.lee)[InboxView.BREACHING] == 2

    def test_most_urgent_first_then_whoever_waited_longest(self, cast: Cast) -> None:
        arrives(cast, "a.example", 30, text="low", priority=20.0)
        arrives(cast, "b.example", 20, text="high, later", priority=80.0)
        arrives(cast, "c.example", 10, text="high, earlier", priority=80.0)
        arrives(cast, "d.example", 0, text="unscored")
        assert subjects(selectors.inbox(user=cast.lee)) == [
            "high, earlier",
            "high, later",
            "low",
            "unscored",
        ]

    def test_filters_by_channel_sentiment_intent_language_and_tag(self, cast: Cast) -> None:
        angry = arrives(
            cast, "a.example", 0, text="angry", sentiment="negative", intent="complaint"
        )
        arrives(cast, "b.example", 0, text="asking", intent="question", lang="de")
        arrives(cast, "c.example", 0, text="elsewhere", platform="mastodon")
        services.set_tags(actor=cast.lee, conversation_id=angry.pk, names=["refund"])

        def narrowed(**wanted: str) -> list[str]:
            return subjects(selectors.inbox(user=cast.lee, wanted=InboxFilter(**wanted)))  # type: ignore[arg-type]

        assert narrowed(sentiment="negative") == ["angry"]
        assert narrowed(intent="question") == ["asking"]
        assert narrowed(lang="de") == ["asking"]
        assert narrowed(channel="mastodon") == ["elsewhere"]
        assert narrowed(tag="REFUND") == ["angry"]

    def test_search_finds_customers_subjects_and_the_words_of_any_post(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, text="router dead", author_name="Tom Ng")
        arrives(cast, "tom.example", 5, text="refund for the outage please")
        arrives(cast, "maya.example", 0, text="love the new app")

        def found(text: str) -> list[int]:
            return [c.pk for c in selectors.inbox(user=cast.lee, wanted=InboxFilter(search=text))]

        assert found("refund") == [conversation.pk]
        assert found("Tom Ng") == [conversation.pk]
        assert found("tom.exa") == [conversation.pk]
        assert found("nothing-like-this") == []
        assert found("\"') OR 1=1 --") == []


class TestPages:
    def test_the_inbox_page_shows_views_with_counts_and_escapes_customer_text(
        self, cast: Cast
    ) -> None:
        arrives(
            cast,
            "evil.example",
            0,
            text="<script>alert(1)</script> broken",
            author_name="<img src=x onerror=alert(2)>",
            team=cast.care,
        )
        client = Client()
        client.force_login(cast.cara)
        page = client.get(reverse("web:inbox"))
        html = page.content.decode()
        assert '<span class="view-count" data-count="unassigned">1</span>' in html
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; broken" in html
        assert "&lt;img src=x onerror=alert(2)&gt;" in html

    def test_the_inbox_and_the_conversation_page_take_a_fixed_number_of_queries(
        self, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        for n in range(15):
            conversation = arrives(cast, f"customer{n}.example", n, team=cast.care)
            services.set_tags(actor=cast.lee, conversation_id=conversation.pk, names=[f"t{n}"])
            assignment.claim_conversation(actor=cast.cara, conversation_id=conversation.pk)
            services.add_note(actor=cast.cara, conversation_id=conversation.pk, body="noted")
        for n in range(10):
            arrives(cast, "customer0.example", 100 + n, team=cast.care)
        client = Client()
        client.force_login(cast.cara)
        with django_assert_max_num_queries(18):  # type: ignore[operator]
            inbox = client.get(reverse("web:inbox"))
        assert inbox.content.count(b'class="conversation-row"') == 15
        first = selectors.inbox(user=cast.lee, wanted=InboxFilter(search="customer0"))[0]
        # Handoffs, the departments to hand off to, and the status page's updates: 3 more.
        with django_assert_max_num_queries(25):  # type: ignore[operator]
            page = client.get(reverse("care:conversation", args=[first.pk]))
        assert page.content.count(b"entry-inbound") == 11

    def test_actions_work_without_javascript_and_with_htmx(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        client = Client()
        client.force_login(cast.cara)
        url = reverse("care:act", args=[conversation.pk, "claim"])
        assert client.post(url).status_code == 302
        note = client.post(
            reverse("care:act", args=[conversation.pk, "note"]),
            {"body": "Checked the line: <b>fault</b> at the exchange"},
            HTTP_HX_REQUEST="true",
        )
        assert note.status_code == 200
        assert note["HX-Trigger"] == "care-action-done"
        assert b"Checked the line: &lt;b&gt;fault&lt;/b&gt;" in note.content
        refused = client.post(
            reverse("care:act", args=[conversation.pk, "note"]),
            {"body": "  "},
            HTTP_HX_REQUEST="true",
        )
        assert "HX-Trigger" not in refused
        assert b"Write something first." in refused.content
        resolved = client.post(
            reverse("care:act", args=[conversation.pk, "status"]), {"status": "resolved"}
        )
        assert resolved.status_code == 302
        conversation.refresh_from_db()
        assert (conversation.assignee, conversation.status) == (cast.cara, "resolved")

    def test_a_second_team_and_a_second_workspace_get_not_found(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        for outsider in (cast.nico, cast.otto):
            client = Client()
            client.force_login(outsider)
            assert (
                client.get(reverse("care:conversation", args=[conversation.pk])).status_code == 404
            )
            act = client.post(reverse("care:act", args=[conversation.pk, "claim"]))
            assert act.status_code == 404
            assert b"tom.example" not in client.get(reverse("web:inbox")).content
        conversation.refresh_from_db()
        assert conversation.assignee is None

    def test_a_read_only_member_sees_the_conversation_without_controls(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        client = Client()
        client.force_login(cast.rita)
        page = client.get(reverse("care:conversation", args=[conversation.pk]))
        assert page.status_code == 200
        assert b"Add note" not in page.content
        assert b"Take it" not in page.content
