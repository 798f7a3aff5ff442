"""Conversations: how mentions become them, and what agents change on them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from hubbub.accounts.tests.factories import Cast
from hubbub.care import merging, selectors, services
from hubbub.care.models import (
    Activity,
    ActivityKind,
    Conversation,
    ConversationStatus,
    MessageKind,
    Notification,
)
from hubbub.care.tests.factories import START, arrives, posted
from hubbub.core import origin
from hubbub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hubbub.core.models import EventRecord
from hubbub.listening.models import QueryKind

pytestmark = pytest.mark.django_db


class TestThreading:
    def test_a_customer_s_first_brand_mention_opens_a_new_conversation(self, cast: Cast) -> None:
        conversation = arrives(
            cast,
            "tom.example",
            0,
            text="Brightwave router dead again",
            priority=72.0,
            sentiment="negative",
            intent="complaint",
            author_followers=1200,
            team=cast.care,
        )
        assert conversation.status == ConversationStatus.NEW
        assert conversation.subject == "Brightwave router dead again"
        assert (conversation.priority, conversation.sentiment, conversation.intent) == (
            72.0,
            "negative",
            "complaint",
        )
        assert conversation.team == cast.care
        assert conversation.customer_followers == 1200
        assert Activity.objects.get(conversation=conversation).kind == ActivityKind.OPENED
        event = EventRecord.objects.get(kind="conversations_arrived")
        assert event.payload == {"conversation_ids": [conversation.pk], "created": 1}

    def test_the_customer_s_next_mention_joins_their_open_conversation(self, cast: Cast) -> None:
        first = arrives(cast, "tom.example", 0, priority=40.0, sentiment="neutral")
        again = arrives(cast, "tom.example", 30, priority=85.0, sentiment="negative")
        assert again.pk == first.pk
        assert (again.priority, again.sentiment) == (85.0, "negative")
        assert again.last_inbound_at == START + dt.timedelta(minutes=30)
        assert Conversation.objects.count() == 1

    def test_one_batch_with_two_posts_of_a_customer_makes_one_conversation(
        self, cast: Cast
    ) -> None:
        posts = [posted(cast, "tom.example", n) for n in range(3)]
        other = posted(cast, "maya.example", 1)
        changed = services.thread_mentions(mention_ids=[p.pk for p in [*posts, other]])
        assert len(changed) == 2
        tom = Conversation.objects.get(customer_handle="tom.example")
        assert tom.mention_links.count() == 3

    def test_competitor_mentions_and_copies_stay_in_listening(self, cast: Cast) -> None:
        competitor = posted(cast, "tom.example", 0, query_kind=QueryKind.COMPETITOR)
        original = posted(cast, "maya.example", 0)
        copy = posted(cast, "copycat.example", 1, duplicate_of=original)
        services.thread_mentions(mention_ids=[competitor.pk, copy.pk])
        assert not Conversation.objects.exists()

    def test_the_customer_posting_again_wakes_a_snoozed_conversation_waiting_on_them(
        self, cast: Cast
    ) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        services.change_status(
            actor=cast.cara,
            conversation_id=conversation.pk,
            status=ConversationStatus.WAITING_CUSTOMER,
        )
        services.snooze(
            actor=cast.cara,
            conversation_id=conversation.pk,
            until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        )
        arrives(cast, "tom.example", 60)
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.OPEN
        assert conversation.snoozed_until is None

    def test_a_resolved_conversation_stays_resolved_and_the_next_post_opens_a_new_one(
        self, cast: Cast
    ) -> None:
        old = arrives(cast, "tom.example", 0)
        services.change_status(actor=cast.lee, conversation_id=old.pk, status="resolved")
        new = arrives(cast, "tom.example", 600)
        assert new.pk != old.pk
        old.refresh_from_db()
        assert old.status == ConversationStatus.RESOLVED

    def test_the_database_refuses_two_active_conversations_for_one_customer(
        self, cast: Cast
    ) -> None:
        first = arrives(cast, "tom.example", 0)
        with pytest.raises(IntegrityError), transaction.atomic():
            Conversation.objects.create(
                workspace=cast.brightwave,
                platform=first.platform,
                customer_handle="tom.example",
                subject="again",
                last_activity_at=START,
            )


class TestStatusPriorityTags:
    def test_resolving_stamps_the_time_and_reopening_clears_it_with_an_audit_entry(
        self, cast: Cast
    ) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        with origin.acting_from(origin.Origin("web", ip="203.0.113.9")):
            resolved = services.change_status(
                actor=cast.cara, conversation_id=conversation.pk, status="resolved"
            )
        assert resolved.resolved_at is not None
        reopened = services.change_status(
            actor=cast.cara, conversation_id=conversation.pk, status="open"
        )
        assert reopened.resolved_at is None
        trail = list(Activity.objects.filter(conversation=conversation, kind=ActivityKind.STATUS))
        assert [a.summary for a in trail] == [
            "Cara changed the status from New to Resolved",
            "Cara changed the status from Resolved to Open",
        ]
        assert (trail[0].actor, trail[0].channel, trail[0].ip) == (cast.cara, "web", "203.0.113.9")
        assert EventRecord.objects.filter(kind="conversation_changed").count() == 2

    def test_reopening_is_refused_while_the_customer_has_another_open_conversation(
        self, cast: Cast
    ) -> None:
        old = arrives(cast, "tom.example", 0)
        services.change_status(actor=cast.lee, conversation_id=old.pk, status="resolved")
        newer = arrives(cast, "tom.example", 600)
        with pytest.raises(Conflict) as refused:
            services.change_status(actor=cast.lee, conversation_id=old.pk, status="open")
        assert refused.value.details == {"conversation_id": newer.pk}

    def test_an_unknown_status_is_a_validation_error(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0)
        with pytest.raises(ValidationFailed):
            services.change_status(actor=cast.lee, conversation_id=conversation.pk, status="gone")

    def test_a_priority_set_by_hand_holds_until_given_back_to_triage(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, priority=30.0)
        services.set_priority(actor=cast.lee, conversation_id=conversation.pk, priority=90)
        again = arrives(cast, "tom.example", 5, priority=50.0)
        assert again.priority == 90.0
        back = services.set_priority(actor=cast.lee, conversation_id=conversation.pk, priority=None)
        assert back.priority == 50.0
        with pytest.raises(ValidationFailed):
            services.set_priority(actor=cast.lee, conversation_id=conversation.pk, priority=101)

    def test_tags_are_shared_across_the_workspace_ignoring_case(self, cast: Cast) -> None:
        one = arrives(cast, "tom.example", 0)
        two = arrives(cast, "maya.example", 0)
        assert services.set_tags(
            actor=cast.lee, conversation_id=one.pk, names=["Refund", " outage  nov ", ""]
        ) == ["Refund", "outage nov"]
        assert services.set_tags(actor=cast.lee, conversation_id=two.pk, names=["refund"]) == [
            "Refund"
        ]
        assert two.tags.get() == one.tags.get(name="Refund")
        assert Conversation.objects.filter(tags__name="Refund").count() == 2


class TestNotes:
    def test_a_note_with_an_at_name_notifies_that_colleague_only(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        note = services.add_note(
            actor=cast.cara,
            conversation_id=conversation.pk,
            body="@Lee can we refund this? cc @nobody and @Nico",
        )
        assert note.kind == MessageKind.NOTE
        notified = Notification.objects.get()
        # Nico is on Nights, not on this conversation's team: he may not see it.
        assert notified.user == cast.lee
        assert "Cara mentioned you" in notified.text
        event = EventRecord.objects.get(kind="notification_created")
        assert event.user_id == cast.lee.pk

    def test_an_empty_or_overlong_note_is_refused_and_nothing_is_written(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0)
        with pytest.raises(ValidationFailed):
            services.add_note(actor=cast.cara, conversation_id=conversation.pk, body="   ")
        with pytest.raises(ValidationFailed):
            services.add_note(actor=cast.cara, conversation_id=conversation.pk, body="x" * 5001)
        assert not conversation.messages.exists()

    def test_read_only_members_cannot_write_notes(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0)
        with pytest.raises(Forbidden):
            services.add_note(actor=cast.rita, conversation_id=conversation.pk, body="hi")


class TestMergeAndSplit:
    def test_merging_moves_the_timeline_and_closes_the_merged_one(self, cast: Cast) -> None:
        email_like = arrives(cast, "tom.example", 0, platform="mastodon")
        social = arrives(cast, "tom.example", 10, platform="bluesky")
        services.add_note(actor=cast.lee, conversation_id=email_like.pk, body="same person")
        target = merging.merge_conversations(
            actor=cast.lee, conversation_id=email_like.pk, into_id=social.pk
        )
        assert target.mention_links.count() == 2
        assert target.messages.count() == 1
        email_like.refresh_from_db()
        assert (email_like.status, email_like.merged_into_id) == ("closed", social.pk)
        with pytest.raises(Conflict):
            merging.merge_conversations(
                actor=cast.lee, conversation_id=email_like.pk, into_id=social.pk
            )

    def test_splitting_moves_chosen_mentions_to_a_second_issue_of_the_same_customer(
        self, cast: Cast
    ) -> None:
        conversation = arrives(cast, "tom.example", 0, text="Router down")
        second = posted(cast, "tom.example", 20, text="Also my bill is wrong")
        services.thread_mentions(mention_ids=[second.pk])
        split = merging.split_conversation(
            actor=cast.lee, conversation_id=conversation.pk, mention_ids=[second.pk]
        )
        assert split.subject == "Also my bill is wrong"
        assert list(split.mention_links.values_list("mention_id", flat=True)) == [second.pk]
        assert not split.takes_new_mentions
        # The customer's next post still joins the original.
        assert arrives(cast, "tom.example", 40).pk == conversation.pk
        with pytest.raises(ValidationFailed):
            merging.split_conversation(
                actor=cast.lee,
                conversation_id=conversation.pk,
                mention_ids=list(conversation.mention_links.values_list("mention_id", flat=True)),
            )


class TestAnotherTeam:
    def test_an_agent_of_another_team_can_neither_see_nor_change_the_conversation(
        self, cast: Cast
    ) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        assert not selectors.inbox(user=cast.nico)
        with pytest.raises(NotFound):
            selectors.conversation_view(user=cast.nico, conversation_id=conversation.pk)
        with pytest.raises(NotFound):
            services.change_status(
                actor=cast.nico, conversation_id=conversation.pk, status="resolved"
            )
        with pytest.raises(NotFound):
            services.add_note(actor=cast.otto, conversation_id=conversation.pk, body="hello")


class TestRoutingByTag:
    def test_tagging_a_conversation_routes_it_by_the_first_fitting_rule(self, cast: Cast) -> None:
        from hubbub.listening.services import save_routing_rule

        save_routing_rule(
            actor=cast.lee,
            name="Mastodon refunds",
            team_id=cast.care.pk,
            tag="refund",
            platform="mastodon",
        )
        save_routing_rule(
            actor=cast.lee, name="Night refunds", team_id=cast.nights.pk, tag="Refund"
        )
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        from hubbub.care import assignment

        assignment.claim_conversation(actor=cast.cara, conversation_id=conversation.pk)
        services.set_tags(actor=cast.cara, conversation_id=conversation.pk, names=["refund"])
        conversation.refresh_from_db()
        assert conversation.team == cast.nights
        assert conversation.assignee is None  # Cara is not on Nights
        routed = Activity.objects.get(conversation=conversation, kind=ActivityKind.ROUTED)
        assert routed.summary == (
            "Routed from Care to Nights by the rule “Night refunds” (tagged Refund)"
        )
        left = EventRecord.objects.filter(kind="conversation_changed", payload__what="routed")
        assert left.get().team_ids == f",{cast.care.pk},"

    def test_rules_with_a_tag_never_route_mentions(self, cast: Cast) -> None:
        from hubbub.listening.pipeline.route import load_rules
        from hubbub.listening.services import save_routing_rule

        save_routing_rule(actor=cast.lee, name="Refunds", team_id=cast.nights.pk, tag="refund")
        assert load_rules(cast.brightwave.pk) == []
