"""Resolving closes the loop: a follow-up where the problem began, carrying the survey."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import handoffs, outbound, resolve, selectors
from hubbub.care.models import (
    Activity,
    ActivityKind,
    Conversation,
    ConversationStatus,
    DeliveryState,
    Message,
    MessageKind,
    Survey,
)
from hubbub.care.tests.factories import arrives, emailed
from hubbub.connectors.models import ChannelAccount, Mailbox, Transport
from hubbub.core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db


def x_sandbox(cast: Cast) -> ChannelAccount:
    return ChannelAccount.objects.create(
        workspace=cast.brightwave, platform="x", transport=Transport.SANDBOX, name="@brightwave"
    )


def answered_complaint(cast: Cast) -> Conversation:
    """Tom's public complaint on X, already answered in public by Cara."""
    conversation = arrives(
        cast, "tom.example", 0, platform="x", author_name="Tom Reyes", team=cast.care
    )
    outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Looking into it")
    return conversation


def plan_for(cast: Cast, conversation: Conversation) -> resolve.FollowUpPlan | None:
    view = selectors.conversation_view(user=cast.cara, conversation_id=conversation.pk)
    composer = outbound.composer_for(
        user=cast.cara, conversation=view.conversation, mentions=view.mentions
    )
    return resolve.follow_up_plan(view.conversation, composer)


class TestOnSocial:
    def test_the_follow_up_goes_in_public_under_the_answered_post_with_the_survey(
        self, cast: Cast
    ) -> None:
        x_sandbox(cast)
        conversation = answered_complaint(cast)
        plan = plan_for(cast, conversation)
        assert plan is not None
        assert plan.public
        assert plan.label == "Follow up in public on X"

        done = resolve.resolve_case(
            actor=cast.cara, conversation_id=conversation.pk, follow_up=plan.draft
        )

        follow_up = done.follow_up
        assert follow_up is not None
        assert follow_up.kind == MessageKind.FOLLOW_UP
        assert follow_up.state == DeliveryState.QUEUED
        assert follow_up.in_reply_to == conversation.mention_links.get().mention
        assert "/survey/" in follow_up.body
        assert "{survey}" not in follow_up.body
        assert done.conversation.status == ConversationStatus.RESOLVED
        assert done.survey is not None
        assert done.survey.agent == cast.cara
        assert done.survey.channel == "x"
        assert Activity.objects.filter(
            conversation=conversation, kind=ActivityKind.FOLLOWED_UP
        ).exists()

    def test_without_a_follow_up_the_survey_waits_on_the_status_page(self, cast: Cast) -> None:
        x_sandbox(cast)
        conversation = answered_complaint(cast)

        done = resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)
        page = Client().get(reverse("care:case", args=[_case_token(conversation)]))

        assert done.follow_up is None
        assert done.survey is not None
        assert "How did we do?" in page.content.decode()

    def test_an_over_long_follow_up_changes_nothing(self, cast: Cast) -> None:
        x_sandbox(cast)
        conversation = answered_complaint(cast)

        with pytest.raises(ValidationFailed):
            resolve.resolve_case(
                actor=cast.cara, conversation_id=conversation.pk, follow_up="thanks " * 200
            )

        conversation.refresh_from_db()
        assert conversation.status != ConversationStatus.RESOLVED
        assert not Survey.objects.exists()
        assert not Message.objects.filter(kind=MessageKind.FOLLOW_UP).exists()


class TestByEmail:
    def test_the_follow_up_is_an_email_with_five_one_tap_choices(self, cast: Cast) -> None:
        Mailbox.objects.create(
            workspace=cast.brightwave,
            name="Support",
            address="support@brightwave.test",
            brand_name="Brightwave",
            team=cast.care,
            imap_host="imap.brightwave.test",
            smtp_host="smtp.brightwave.test",
            sandbox=True,
        )
        conversation = emailed(cast, "ines@example.test", "Charged twice", name="Ines").conversation
        plan = plan_for(cast, conversation)
        assert plan is not None
        assert plan.channel == "email"
        assert not plan.public

        done = resolve.resolve_case(
            actor=cast.cara, conversation_id=conversation.pk, follow_up="All sorted, Ines. {survey}"
        )

        follow_up = done.follow_up
        assert follow_up is not None
        assert follow_up.platform == "email"
        assert follow_up.details["to"] == "ines@example.test"
        assert sum("?score=" in line for line in follow_up.body.splitlines()) == 5


class TestRefusals:
    def test_resolving_waits_for_the_department(self, cast: Cast) -> None:
        x_sandbox(cast)
        conversation = answered_complaint(cast)
        handoff = handoffs.hand_off(
            actor=cast.cara,
            conversation_id=conversation.pk,
            department_id=cast.billing.pk,
            what_happened="Charged twice.",
            customer_needs="A refund.",
        ).handoff

        with pytest.raises(Conflict) as refused:
            resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)
        handoffs.post_progress(
            actor=cast.bill, handoff_id=handoff.pk, text="Refunded.", resolves=True
        )
        done = resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)

        assert refused.value.code == "handoff_open"
        assert done.conversation.status == ConversationStatus.RESOLVED

    def test_a_resolved_case_is_not_resolved_twice_and_keeps_one_survey(self, cast: Cast) -> None:
        x_sandbox(cast)
        conversation = answered_complaint(cast)
        resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)

        with pytest.raises(Conflict):
            resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)
        conversation.status = ConversationStatus.OPEN
        conversation.save(update_fields=["status"])
        resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)

        assert Survey.objects.filter(conversation=conversation).count() == 1

    def test_the_dialog_resolves_without_javascript(self, cast: Cast) -> None:
        x_sandbox(cast)
        conversation = answered_complaint(cast)
        client = Client()
        client.force_login(cast.cara)

        page = client.get(reverse("care:conversation", args=[conversation.pk])).content.decode()
        response = client.post(
            reverse("care:act", args=[conversation.pk, "resolve"]),
            {"follow_up_on": "1", "follow_up": "Sorted! {survey}", "survey": "1"},
        )

        assert 'id="resolve-dialog"' in page
        assert "Follow up in public on X" in page
        assert response.status_code == 302
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.RESOLVED
        assert Message.objects.filter(
            kind=MessageKind.FOLLOW_UP, conversation=conversation
        ).exists()


def _case_token(conversation: Conversation) -> str:
    from hubbub.care import case_links

    return case_links.token_for(conversation)
