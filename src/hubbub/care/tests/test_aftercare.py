"""After a case is resolved: the customer's thanks are captured, their return re-opens it."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.care import inbound, services
from hubbub.care.models import (
    Activity,
    ActivityKind,
    Conversation,
    ConversationMention,
    ConversationStatus,
    Notification,
    PraiseCapture,
    TeamSettings,
)
from hubbub.care.tests.factories import START, emailed, posted
from hubbub.core.models import EventRecord
from hubbub.crm import services as crm
from hubbub.crm.models import Advocacy, Contact
from hubbub.listening.models import Mention

pytestmark = pytest.mark.django_db

DAY = 24 * 60  # minutes
RESOLVED_AT = START + dt.timedelta(hours=1)
THANKS = {"sentiment": "positive", "intent": "praise", "text": "Thanks @brightwave, fixed fast!"}
COMPLAINT = {"sentiment": "negative", "intent": "complaint", "text": "Brightwave is down again"}


def resolved_case(cast: Cast, handle: str = "tom.example", **fields: object) -> Conversation:
    """The customer's post opened a case, which an agent resolved at RESOLVED_AT."""
    first = posted(cast, handle, 0, team=cast.care, **fields)
    services.thread_mentions(mention_ids=[first.pk])
    case = Conversation.objects.get(mention_links__mention=first)
    services.change_status(actor=cast.cara, conversation_id=case.pk, status="resolved")
    # The windows count from the resolution: pin it to a known time.
    Conversation.objects.filter(pk=case.pk).update(resolved_at=RESOLVED_AT)
    case.refresh_from_db()
    return case


def posts_later(cast: Cast, handle: str, days: float, **fields: object) -> Mention:
    """The customer posts `days` after the resolution; the pipeline threads it."""
    mention = posted(cast, handle, 60 + days * DAY, team=cast.care, **fields)
    services.thread_mentions(mention_ids=[mention.pk])
    return mention


def conversation_of(mention: Mention) -> Conversation:
    return (
        ConversationMention.objects.select_related("conversation").get(mention=mention).conversation
    )


def contact_of(case: Conversation) -> Contact:
    assert case.contact_id is not None
    return Contact.objects.get(pk=case.contact_id)


class TestThanksInPublic:
    def test_a_kind_word_in_a_complaint_re_opens_rather_than_being_filed_as_thanks(
        self, cast: Cast
    ) -> None:
        case = resolved_case(cast)

        again = posts_later(
            cast,
            "tom.example",
            2,
            sentiment="positive",
            intent="complaint",
            text="Thanks! But the refund still has not arrived.",
        )

        assert conversation_of(again).pk == case.pk
        case.refresh_from_db()
        assert case.status == ConversationStatus.OPEN
        assert case.praise_captured_at is None
        assert not PraiseCapture.objects.exists()

    def test_whoever_resolved_the_case_hears_the_thanks(self, cast: Cast) -> None:
        case = resolved_case(cast)
        Conversation.objects.filter(pk=case.pk).update(assignee=cast.cara)

        posts_later(cast, "tom.example", 1, **THANKS)

        assert Notification.objects.filter(
            user=cast.cara, conversation=case, text__startswith="Thanked"
        ).exists()

    def test_thanks_two_days_after_resolution_are_captured_on_the_case(self, cast: Cast) -> None:
        case = resolved_case(cast)

        thanks = posts_later(cast, "tom.example", 2, **THANKS)

        assert conversation_of(thanks).pk == case.pk
        case.refresh_from_db()
        assert case.status == ConversationStatus.RESOLVED
        assert case.praise_captured_at is not None
        assert PraiseCapture.objects.filter(conversation=case, mention=thanks).exists()
        assert Conversation.objects.filter(customer_handle="tom.example").count() == 1
        assert Activity.objects.filter(
            conversation=case, kind=ActivityKind.PRAISE_CAPTURED, channel="pipeline"
        ).exists()
        assert EventRecord.objects.filter(
            kind="conversation_changed", payload__what="praise", payload__conversation_id=case.pk
        ).exists()
        contact = contact_of(case)
        assert contact.advocacy == Advocacy.CANDIDATE
        assert contact.advocacy_changed_at is not None

    def test_the_first_capture_time_stays_when_they_thank_again(self, cast: Cast) -> None:
        case = resolved_case(cast)
        posts_later(cast, "tom.example", 1, **THANKS)
        first = Conversation.objects.get(pk=case.pk).praise_captured_at

        again = posts_later(cast, "tom.example", 3, **THANKS)

        assert conversation_of(again).pk == case.pk
        assert Conversation.objects.get(pk=case.pk).praise_captured_at == first
        assert PraiseCapture.objects.filter(conversation=case).count() == 2

    def test_thanks_forty_days_later_open_a_new_conversation_and_are_not_captured(
        self, cast: Cast
    ) -> None:
        case = resolved_case(cast)

        thanks = posts_later(cast, "tom.example", 40, **THANKS)

        assert conversation_of(thanks).pk != case.pk
        assert not PraiseCapture.objects.exists()
        case.refresh_from_db()
        assert case.praise_captured_at is None
        assert contact_of(case).advocacy == Advocacy.NONE

    def test_another_customer_s_thanks_are_not_captured(self, cast: Cast) -> None:
        case = resolved_case(cast, "tom.example")

        thanks = posts_later(cast, "ana.example", 2, **THANKS)

        assert conversation_of(thanks).pk != case.pk
        assert not PraiseCapture.objects.exists()
        assert contact_of(case).advocacy == Advocacy.NONE

    def test_a_customer_once_dismissed_stays_dismissed(self, cast: Cast) -> None:
        case = resolved_case(cast)
        crm.decide_advocacy(
            actor=cast.cara, contact_id=contact_of(case).pk, advocacy=Advocacy.DISMISSED
        )

        posts_later(cast, "tom.example", 2, **THANKS)

        assert PraiseCapture.objects.filter(conversation=case).exists()
        assert contact_of(case).advocacy == Advocacy.DISMISSED


class TestComingBack:
    def test_a_complaint_two_days_after_resolution_reopens_the_case(self, cast: Cast) -> None:
        case = resolved_case(cast)

        complaint = posts_later(cast, "tom.example", 2, **COMPLAINT)

        assert conversation_of(complaint).pk == case.pk
        case.refresh_from_db()
        assert case.status == ConversationStatus.OPEN
        assert case.resolved_at is None
        assert case.sentiment == "negative"
        assert Conversation.objects.filter(customer_handle="tom.example").count() == 1
        reopened = Activity.objects.get(conversation=case, kind=ActivityKind.REOPENED)
        assert reopened.summary == "Reopened: the customer wrote again within 7 days"
        assert not PraiseCapture.objects.exists()

    def test_a_post_ten_days_later_opens_a_new_conversation(self, cast: Cast) -> None:
        case = resolved_case(cast)

        complaint = posts_later(cast, "tom.example", 10, **COMPLAINT)

        new = conversation_of(complaint)
        assert new.pk != case.pk
        assert new.status == ConversationStatus.NEW
        assert Conversation.objects.get(pk=case.pk).status == ConversationStatus.RESOLVED

    def test_the_team_s_window_decides_how_long_a_case_can_reopen(self, cast: Cast) -> None:
        TeamSettings.objects.create(team=cast.care, reopen_within_days=30)
        case = resolved_case(cast)

        complaint = posts_later(cast, "tom.example", 10, **COMPLAINT)

        assert conversation_of(complaint).pk == case.pk
        assert Conversation.objects.get(pk=case.pk).status == ConversationStatus.OPEN
        assert Activity.objects.get(conversation=case, kind=ActivityKind.REOPENED).summary.endswith(
            "within 30 days"
        )

    def test_a_reopened_case_takes_the_customer_s_next_posts(self, cast: Cast) -> None:
        case = resolved_case(cast)
        posts_later(cast, "tom.example", 2, **COMPLAINT)

        next_post = posts_later(cast, "tom.example", 2.5, **COMPLAINT)

        assert conversation_of(next_post).pk == case.pk
        assert Activity.objects.filter(conversation=case, kind=ActivityKind.REOPENED).count() == 1

    def test_a_case_does_not_reopen_while_its_handle_has_another_active_conversation(
        self, cast: Cast
    ) -> None:
        # Tom's case is on Bluesky; he comes back on Mastodon (the same contact)
        # while a conversation of his Bluesky handle that knows no contact is active.
        case = resolved_case(cast, "tom.example")
        crm.link_identity(contact=contact_of(case), seen=crm.Seen("mastodon", "@tom@m.example"))
        other = Conversation.objects.create(
            workspace=cast.brightwave,
            platform=case.platform,
            customer_handle=case.customer_handle,
            subject="Another matter",
            status=ConversationStatus.OPEN,
            last_activity_at=START,
        )

        complaint = posts_later(cast, "@tom@m.example", 2, platform="mastodon", **COMPLAINT)

        assert conversation_of(complaint).pk not in {case.pk, other.pk}
        assert Conversation.objects.get(pk=case.pk).status == ConversationStatus.RESOLVED

    def test_a_post_on_another_channel_of_the_same_contact_reopens_their_case(
        self, cast: Cast
    ) -> None:
        case = resolved_case(cast, "tom.example")
        crm.link_identity(contact=contact_of(case), seen=crm.Seen("mastodon", "@tom@m.example"))

        complaint = posts_later(cast, "@tom@m.example", 2, platform="mastodon", **COMPLAINT)

        assert conversation_of(complaint).pk == case.pk
        assert Conversation.objects.get(pk=case.pk).status == ConversationStatus.OPEN

    def test_customers_with_old_cases_cost_the_thread_step_no_more_queries_than_new_ones(
        self, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        for n in range(20):
            resolved_case(cast, f"known{n}.example")
        known = [posted(cast, f"known{n}.example", 60 + 20 * DAY, **COMPLAINT) for n in range(20)]
        new = [posted(cast, f"new{n}.example", 60 + 20 * DAY, **COMPLAINT) for n in range(20)]

        with CountQueries() as first_timers:
            services.thread_mentions(mention_ids=[m.pk for m in new])
        with django_assert_max_num_queries(first_timers.count):  # type: ignore[operator]
            services.thread_mentions(mention_ids=[m.pk for m in known])

        assert Conversation.objects.filter(status=ConversationStatus.NEW).count() == 40


class TestDirectMessages:
    def email_case(self, cast: Cast) -> Conversation:
        received = emailed(cast, "ana@example.com", "My router keeps dropping the line.")
        case = received.conversation
        services.change_status(actor=cast.cara, conversation_id=case.pk, status="resolved")
        Conversation.objects.filter(pk=case.pk).update(resolved_at=START - dt.timedelta(days=2))
        return case

    def test_thanks_by_email_after_resolution_are_captured_not_reopened(self, cast: Cast) -> None:
        case = self.email_case(cast)

        thanks = emailed(cast, "ana@example.com", "Thanks so much, it works perfectly now!")

        assert not thanks.created
        assert thanks.conversation.pk == case.pk
        assert thanks.message.details["praise"] is True
        case.refresh_from_db()
        assert case.status == ConversationStatus.RESOLVED
        assert case.praise_captured_at is not None
        assert Activity.objects.filter(
            conversation=case, kind=ActivityKind.PRAISE_CAPTURED
        ).exists()
        assert not Activity.objects.filter(conversation=case, kind=ActivityKind.REOPENED).exists()
        assert contact_of(case).advocacy == Advocacy.CANDIDATE

    def test_thanks_answering_the_cases_own_mail_keep_it_resolved(self, cast: Cast) -> None:
        case = self.email_case(cast)

        thanks = inbound.receive(
            inbound.CustomerMessage(
                workspace_id=cast.brightwave.pk,
                channel="email",
                handle="ana@example.com",
                name="Ana",
                body="Thank you, that was quick and it works perfectly now!",
                received_at=START,
                conversation_id=case.pk,  # as its In-Reply-To threads it
                trusted_thread=True,
            )
        )

        assert thanks.conversation.pk == case.pk
        assert thanks.message.details["praise"] is True
        case.refresh_from_db()
        assert case.status == ConversationStatus.RESOLVED
        assert case.praise_captured_at is not None

    def test_a_complaint_by_email_within_the_window_reopens_the_case(self, cast: Cast) -> None:
        case = self.email_case(cast)

        again = emailed(cast, "ana@example.com", "This is terrible, it is broken again!")

        assert again.conversation.pk == case.pk
        case.refresh_from_db()
        assert case.status == ConversationStatus.OPEN
        assert case.resolved_at is None
        assert Activity.objects.filter(conversation=case, kind=ActivityKind.REOPENED).exists()
        assert contact_of(case).advocacy == Advocacy.NONE


class CountQueries:
    """How many queries a block ran (to compare one post with a batch)."""

    def __enter__(self) -> CountQueries:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.context = CaptureQueriesContext(connection)
        self.context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.context.__exit__(*exc)
        self.count = len(self.context.captured_queries)
