"""Handing a customer's problem to a department: the owner keeps it, the customer sees progress."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time

import pytest
from django.core import signing
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from hubbub.accounts.models import Role, Team, TeamKind, User
from hubbub.accounts.tests.factories import Cast, TeamFactory, UserFactory, post, token
from hubbub.care import approvals, case_links, handoffs, merging, outbound, selectors, services
from hubbub.care.models import (
    Activity,
    ActivityKind,
    Attachment,
    Conversation,
    ConversationStatus,
    DeliveryState,
    Handoff,
    HandoffState,
    HandoffUpdate,
    MessageKind,
    Notification,
    StatusUpdate,
    TeamSettings,
)
from hubbub.care.tests.factories import arrives, emailed
from hubbub.connectors.email.testing import SmtpSink
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.core import clock
from hubbub.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from hubbub.core.models import EventRecord
from hubbub.core.tests.jobs import run_jobs

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")
    return client


def complaint(cast: Cast, handle: str = "tom.example") -> Conversation:
    """Tom's public complaint about a double charge, assigned to Cara of Care."""
    conversation = arrives(
        cast,
        handle,
        0,
        text="You charged me twice for November. Fix it!",
        author_name="Tom Reyes",
        team=cast.care,
    )
    conversation.assignee = cast.cara
    conversation.save(update_fields=["assignee"])
    return conversation


def emailed_to_partner(cast: Cast, conversation: Conversation) -> handoffs.Opened:
    """Handed to Billing and emailed to the payments partner, who has no account."""
    return handoffs.hand_off(
        actor=cast.cara,
        conversation_id=conversation.pk,
        department_id=cast.billing.pk,
        what_happened="Charged twice.",
        customer_needs="A refund.",
        external_email="Payments@Partner.example",
    )


def tom_on_two_channels(cast: Cast) -> tuple[Conversation, Conversation]:
    """Tom's complaint on Bluesky, and the email he sent the same morning (not yet merged)."""
    social = complaint(cast)
    by_email = emailed(cast, "tom@example.test", "Wi-Fi on the 8:12 is dead.").conversation
    return social, by_email


def hand_to_billing(cast: Cast, conversation: Conversation, **fields: object) -> Handoff:
    values: dict[str, object] = {
        "actor": cast.cara,
        "conversation_id": conversation.pk,
        "department_id": cast.billing.pk,
        "what_happened": "Tom was charged twice for November (order 1182).",
        "customer_needs": "A refund of the second charge.",
        **fields,
    }
    return handoffs.hand_off(**values).handoff  # type: ignore[arg-type]


@pytest.fixture
def logistics(cast: Cast) -> Team:
    return TeamFactory(workspace=cast.brightwave, name="Logistics", kind=TeamKind.DEPARTMENT)  # type: ignore[no-any-return]


@pytest.fixture
def lou(cast: Cast, logistics: Team) -> User:
    return UserFactory(  # type: ignore[no-any-return]
        email="lou@brightwave.test",
        workspace=cast.brightwave,
        role=Role.DEPARTMENT,
        teams=[logistics],
        profile__display_name="Lou",
    )


class TestHandingOff:
    def test_the_brief_goes_to_the_department_and_the_agent_stays_the_owner(
        self, cast: Cast
    ) -> None:
        conversation = complaint(cast)

        handoff = hand_to_billing(
            cast,
            conversation,
            uploads=[handoffs.Upload("invoice.pdf", PDF, "application/pdf")],
        )

        conversation.refresh_from_db()
        assert handoff.state == HandoffState.OPEN
        assert handoff.owner == cast.cara
        assert handoff.department_name == "Billing"
        assert conversation.status == ConversationStatus.WAITING_DEPARTMENT
        assert conversation.assignee == cast.cara
        brief = handoff.brief
        assert brief is not None
        assert brief.kind == MessageKind.NOTE
        assert "charged twice" in brief.body
        assert "refund" in brief.body
        files = handoffs.brief_files(handoff)
        assert [(f.filename, f.content_type, f.size) for f in files] == [
            ("invoice.pdf", "application/pdf", len(PDF))
        ]
        assert Activity.objects.filter(
            conversation=conversation, kind=ActivityKind.HANDED_OFF
        ).exists()

    def test_the_departments_queue_hears_of_it_and_nobody_else_s(self, cast: Cast) -> None:
        handoff = hand_to_billing(cast, complaint(cast))

        [event] = EventRecord.objects.filter(kind="handoff_changed")
        assert event.payload == {"handoff_id": handoff.pk, "state": "open"}
        assert event.team_ids == f",{cast.billing.pk},"  # Billing only (and who sees all)

    def test_an_unassigned_conversation_becomes_the_handing_off_agents(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)

        handoff = hand_to_billing(cast, conversation)

        conversation.refresh_from_db()
        assert handoff.owner == cast.cara
        assert conversation.assignee == cast.cara

    def test_a_missing_brief_an_unsafe_file_or_a_care_team_is_refused_and_nothing_stored(
        self, cast: Cast
    ) -> None:
        conversation = complaint(cast)

        with pytest.raises(ValidationFailed) as missing:
            hand_to_billing(cast, conversation, customer_needs="   ")
        with pytest.raises(ValidationFailed) as oversize:
            hand_to_billing(cast, conversation, what_happened="x" * 4001)
        with pytest.raises(ValidationFailed) as program:
            hand_to_billing(
                cast, conversation, uploads=[handoffs.Upload("fix.exe", b"MZ\x90\x00" + b"\0" * 60)]
            )
        with pytest.raises(ValidationFailed) as not_a_department:
            hand_to_billing(cast, conversation, department_id=cast.nights.pk)

        assert missing.value.field == "customer_needs"
        assert oversize.value.field == "what_happened"
        assert "executable" in program.value.message
        assert not_a_department.value.field == "department"
        assert not Handoff.objects.exists()
        assert not Attachment.objects.exists()
        conversation.refresh_from_db()
        assert conversation.status != ConversationStatus.WAITING_DEPARTMENT

    def test_a_second_handoff_of_the_same_problem_is_refused(
        self, cast: Cast, logistics: Team
    ) -> None:
        conversation = complaint(cast)
        hand_to_billing(cast, conversation)

        with pytest.raises(Conflict) as refused:
            hand_to_billing(cast, conversation, department_id=logistics.pk)

        assert refused.value.code == "handoff_open"
        assert Handoff.objects.count() == 1

    def test_the_same_customer_from_another_channel_gets_one_owner_not_two_requests(
        self, cast: Cast, logistics: Team
    ) -> None:
        # The train Wi-Fi story: Tom complains on Bluesky and, the same morning, by
        # email. Social hands it to Logistics; the email team must not ask Tom again.
        social, by_email = tom_on_two_channels(cast)
        by_email.contact = social.contact
        by_email.save(update_fields=["contact"])
        hand_to_billing(cast, social, department_id=logistics.pk)

        with pytest.raises(Conflict) as refused:
            handoffs.hand_off(
                actor=cast.lee,
                conversation_id=by_email.pk,
                department_id=cast.billing.pk,
                what_happened="Wi-Fi broken on the 8:12",
                customer_needs="Working Wi-Fi",
            )

        assert refused.value.code == "customer_has_handoff"
        assert refused.value.details["conversation_id"] == social.pk
        assert "Merge this conversation" in refused.value.message
        assert Handoff.objects.count() == 1

    def test_a_resolved_case_is_reopened_before_it_is_handed_off(self, cast: Cast) -> None:
        conversation = complaint(cast)
        Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.RESOLVED)

        with pytest.raises(Conflict) as refused:
            hand_to_billing(cast, conversation)

        assert refused.value.code == "case_resolved"
        assert not Handoff.objects.exists()

    def test_a_colleague_without_access_to_the_conversation_cannot_hand_it_off(
        self, cast: Cast
    ) -> None:
        conversation = complaint(cast)

        with pytest.raises(NotFound):
            hand_to_billing(cast, conversation, actor=cast.nico)  # Nights, not Care


class TestTheDepartmentsQueue:
    def test_a_department_member_sees_only_handoffs_to_their_department(
        self, cast: Cast, logistics: Team, lou: User
    ) -> None:
        to_billing = hand_to_billing(cast, complaint(cast))
        to_logistics = hand_to_billing(
            cast, complaint(cast, "ana.example"), department_id=logistics.pk
        )

        assert handoffs.queue(user=cast.bill) == [to_billing]
        assert handoffs.queue(user=lou) == [to_logistics]
        assert handoffs.queue(user=cast.cara) == []  # Care, in no department
        assert set(handoffs.queue(user=cast.lee)) == {to_billing, to_logistics}
        with pytest.raises(NotFound):
            handoffs.access_handoff(user=lou, handoff_id=to_billing.pk)
        with pytest.raises(NotFound):
            handoffs.access_handoff(user=cast.otto, handoff_id=to_billing.pk)

    def test_the_pages_show_the_brief_to_the_department_and_nothing_to_others(
        self, cast: Cast, lou: User
    ) -> None:
        handoff = hand_to_billing(
            cast, complaint(cast), uploads=[handoffs.Upload("invoice.pdf", PDF)]
        )
        file = handoffs.brief_files(handoff)[0]
        bill = signed_in(cast.bill)

        queue = bill.get(reverse("care:handoffs"))
        page = bill.get(reverse("care:handoff", args=[handoff.pk]))
        download = bill.get(reverse("care:handoff_file", args=[handoff.pk, file.pk]))
        outsider_page = signed_in(lou).get(reverse("care:handoff", args=[handoff.pk]))
        outsider_file = signed_in(lou).get(reverse("care:handoff_file", args=[handoff.pk, file.pk]))

        assert "Tom Reyes" in queue.content.decode()
        assert "A refund of the second charge." in page.content.decode()
        assert download.status_code == 200
        assert download.content == PDF
        assert download["Content-Disposition"].startswith("attachment;")
        assert outsider_page.status_code == 404
        assert outsider_file.status_code == 404

    def test_progress_reaches_the_owner_at_once_and_done_gives_the_problem_back(
        self, cast: Cast
    ) -> None:
        conversation = complaint(cast)
        handoff = hand_to_billing(cast, conversation)

        handoffs.post_progress(
            actor=cast.bill, handoff_id=handoff.pk, text="Found the double charge."
        )
        handoff.refresh_from_db()
        assert handoff.state == HandoffState.IN_PROGRESS
        assert Notification.objects.filter(
            user=cast.cara, text__contains="Found the double charge."
        ).exists()

        response = signed_in(cast.bill).post(
            reverse("care:handoff", args=[handoff.pk]),
            {"text": "Refunded today, ref R-77.", "resolves": "1"},
        )

        assert response.status_code == 302
        handoff.refresh_from_db()
        conversation.refresh_from_db()
        assert handoff.state == HandoffState.DONE
        assert handoff.closed_at is not None
        assert conversation.status == ConversationStatus.OPEN
        assert [u.text for u in handoff.updates.all()] == [
            "Found the double charge.",
            "Refunded today, ref R-77.",
        ]
        with pytest.raises(Conflict):
            handoffs.post_progress(actor=cast.bill, handoff_id=handoff.pk, text="One more")

    def test_oversize_or_hostile_progress_is_refused_or_kept_as_text(self, cast: Cast) -> None:
        handoff = hand_to_billing(cast, complaint(cast))
        bill = signed_in(cast.bill)

        refused = bill.post(reverse("care:handoff", args=[handoff.pk]), {"text": "y" * 4001})
        bill.post(
            reverse("care:handoff", args=[handoff.pk]), {"text": "<script>alert(1)</script> done"}
        )
        page = bill.get(reverse("care:handoff", args=[handoff.pk])).content.decode()

        assert refused.status_code == 422
        assert "y" * 4001 in refused.content.decode()  # what was typed is kept
        assert HandoffUpdate.objects.count() == 1
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; done" in page

    def test_a_read_only_member_cannot_post_progress(self, cast: Cast) -> None:
        handoff = hand_to_billing(cast, complaint(cast))

        with pytest.raises(Forbidden) as refused:
            handoffs.post_progress(actor=cast.rita, handoff_id=handoff.pk, text="hi")

        assert refused.value.code == "read_only"


class TestTheEmailedLink:
    def test_someone_outside_hubbub_gets_the_brief_by_email_and_posts_through_the_link(
        self, cast: Cast, settings: object, smtp_server: SmtpSink
    ) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
        settings.EMAIL_HOST = smtp_server.host  # type: ignore[attr-defined]
        settings.EMAIL_PORT = smtp_server.port  # type: ignore[attr-defined]
        opened = emailed_to_partner(cast, complaint(cast))

        run_jobs()

        [mail] = smtp_server.messages()
        body = email.message_from_bytes(mail.content, policy=email.policy.default)
        assert mail.rcpt_tos == ("payments@partner.example",)
        assert "Billing" in body["Subject"]
        assert opened.link in body.get_content()
        path = opened.link.split("testserver", 1)[-1].split("localhost:8000", 1)[-1]
        visitor = Client()
        page = visitor.get(path)
        assert page.status_code == 200
        assert "A refund." in page.content.decode()
        posted = visitor.post(path, {"name": "Priya", "text": "Refund approved.", "resolves": "1"})
        assert posted.status_code == 302
        [update] = HandoffUpdate.objects.all()
        assert update.author is None
        assert update.author_name == "Priya (Billing)"
        assert update.resolves
        assert Notification.objects.filter(
            user=cast.cara, text__contains="Refund approved."
        ).exists()

    def test_a_forwarded_link_cannot_flood_the_owner(self, cast: Cast) -> None:
        opened = emailed_to_partner(cast, complaint(cast))
        token = handoffs.token_for(opened.handoff)
        for n in range(handoffs.LINK_UPDATES_PER_HOUR):
            handoffs.post_progress_by_link(token=token, name="Priya", text=f"update {n}")

        with pytest.raises(RateLimited):
            handoffs.post_progress_by_link(token=token, name="Priya", text="one too many")
        assert HandoffUpdate.objects.count() == handoffs.LINK_UPDATES_PER_HOUR

    def test_tampered_expired_revoked_and_closed_links_are_refused(self, cast: Cast) -> None:
        opened = emailed_to_partner(cast, complaint(cast))
        token = handoffs.token_for(opened.handoff)

        class SixteenDaysAgo(signing.TimestampSigner):
            def timestamp(self) -> str:
                return signing.b62_encode(int(time.time()) - 16 * 24 * 3600)

        stale = SixteenDaysAgo(salt=handoffs.LINK_SALT).sign_object(
            {"h": opened.handoff.pk, "n": opened.handoff.link_nonce}
        )
        with pytest.raises(NotFound):
            handoffs.handoff_for_link(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
        with pytest.raises(Gone):
            handoffs.post_progress_by_link(token=stale, name="X", text="late")
        assert Client().get(reverse("care:handoff_link", args=[stale])).status_code == 410

        handoffs.renew_link(actor=cast.cara, handoff_id=opened.handoff.pk)
        with pytest.raises(NotFound):
            handoffs.handoff_for_link(token)  # the old link stopped working
        fresh = handoffs.token_for(Handoff.objects.get())
        handoffs.withdraw(actor=cast.cara, handoff_id=opened.handoff.pk)
        response = Client().post(reverse("care:handoff_link", args=[fresh]), {"text": "too late"})

        assert response.status_code == 404
        assert not HandoffUpdate.objects.exists()


class TestTheStatusPage:
    def test_the_customer_sees_stages_and_published_updates_never_notes(self, cast: Cast) -> None:
        conversation = complaint(cast)
        handoff = hand_to_billing(cast, conversation)
        progress = handoffs.post_progress(
            actor=cast.bill, handoff_id=handoff.pk, text="INTERNAL: card ending 4242 refunded"
        )
        handoffs.publish_update(
            actor=cast.cara,
            conversation_id=conversation.pk,
            text="Billing found the double charge; your refund is on its way.",
            source_update_id=progress.pk,
        )

        page = Client().get(case_links.link_for(conversation).split("localhost:8000")[-1])
        text = page.content.decode()

        assert page.status_code == 200
        assert "With Billing" in text
        assert "Fix in progress" in text
        assert "your refund is on its way" in text
        assert "INTERNAL" not in text  # the department's own words
        assert "order 1182" not in text  # the brief is an internal note
        with pytest.raises(Conflict):
            handoffs.publish_update(
                actor=cast.cara,
                conversation_id=conversation.pk,
                text="again",
                source_update_id=progress.pk,
            )

    def test_a_status_link_reveals_only_its_own_case(self, cast: Cast) -> None:
        toms = complaint(cast)
        anas = complaint(cast, "ana.example")
        handoffs.publish_update(
            actor=cast.cara, conversation_id=toms.pk, text="Tom's refund is out."
        )
        handoffs.publish_update(
            actor=cast.cara, conversation_id=anas.pk, text="Ana's parcel ships."
        )

        page = (
            Client().get(reverse("care:case", args=[case_links.token_for(anas)])).content.decode()
        )
        forged = Client().get(reverse("care:case", args=[case_links.token_for(toms) + "x"]))

        assert "Ana's parcel ships." in page.replace("&#x27;", "'")
        assert "Tom" not in page
        assert forged.status_code == 404


class TestTheUpdatePolicy:
    def test_the_owner_is_reminded_once_when_the_customer_is_due_an_update(
        self, cast: Cast
    ) -> None:
        TeamSettings.objects.create(team=cast.care, update_every_hours=24)
        conversation = complaint(cast)
        hand_to_billing(cast, conversation)
        conversation.refresh_from_db()
        due = conversation.update_due_at
        assert due is not None
        assert dt.timedelta(hours=23, minutes=59) < due - clock.now() <= dt.timedelta(hours=24)

        assert handoffs.remind_due_updates(now=due - dt.timedelta(minutes=1)) == 0
        assert handoffs.remind_due_updates(now=due + dt.timedelta(minutes=1)) == 1
        assert handoffs.remind_due_updates(now=due + dt.timedelta(minutes=2)) == 0

        assert (
            Notification.objects.filter(user=cast.cara, text__startswith="Update due").count() == 1
        )

    def test_overdue_updates_show_in_the_inbox(self, cast: Cast) -> None:
        TeamSettings.objects.create(team=cast.care, update_every_hours=24)
        overdue, on_time = complaint(cast), complaint(cast, "ana.example")
        hand_to_billing(cast, overdue)
        hand_to_billing(cast, on_time)
        Conversation.objects.filter(pk=overdue.pk).update(
            update_due_at=clock.now() - dt.timedelta(hours=2)
        )
        cara = signed_in(cast.cara)

        listed = selectors.inbox(
            user=cast.cara, wanted=selectors.InboxFilter(view=selectors.InboxView.UPDATE_DUE)
        )
        page = cara.get(reverse("care:conversation", args=[overdue.pk])).content.decode()

        assert listed == [overdue]
        assert selectors.inbox_counts(user=cast.cara)[selectors.InboxView.UPDATE_DUE] == 1
        assert "Update due" in page
        assert "Overdue" in page

    def test_telling_the_customer_pushes_the_next_update_back(self, cast: Cast) -> None:
        TeamSettings.objects.create(team=cast.care, update_every_hours=24)
        conversation = complaint(cast)
        hand_to_billing(cast, conversation)
        overdue = clock.now() - dt.timedelta(hours=1)
        Conversation.objects.filter(pk=conversation.pk).update(
            update_due_at=overdue, update_reminded_at=overdue
        )

        handoffs.publish_update(actor=cast.cara, conversation_id=conversation.pk, text="On it.")
        conversation.refresh_from_db()

        assert conversation.update_due_at is not None
        assert conversation.update_due_at > clock.now() + dt.timedelta(hours=23)
        assert conversation.update_reminded_at is None

    def test_a_reply_waiting_for_approval_tells_the_customer_nothing_yet(self, cast: Cast) -> None:
        TeamSettings.objects.create(team=cast.care, update_every_hours=24)
        ChannelAccount.objects.create(
            workspace=cast.brightwave, platform="bluesky", transport=Transport.SANDBOX, name="bw"
        )
        cast.cara.profile.needs_approval = True  # a new agent: a lead approves her replies
        cast.cara.profile.save(update_fields=["needs_approval"])
        conversation = complaint(cast)
        hand_to_billing(cast, conversation)
        overdue = clock.now() - dt.timedelta(hours=1)
        Conversation.objects.filter(pk=conversation.pk).update(update_due_at=overdue)

        held = outbound.send_reply(actor=cast.cara, conversation_id=conversation.pk, body="Soon!")
        conversation.refresh_from_db()
        assert held.state == DeliveryState.HELD
        assert conversation.update_due_at == overdue

        approvals.approve_message(actor=cast.lee, message_id=held.pk)
        conversation.refresh_from_db()
        assert conversation.update_due_at > clock.now() + dt.timedelta(hours=23)

    def test_without_a_policy_nothing_falls_due(self, cast: Cast) -> None:
        conversation = complaint(cast)
        hand_to_billing(cast, conversation)
        conversation.refresh_from_db()

        assert conversation.update_due_at is None
        assert handoffs.remind_due_updates(now=clock.now() + dt.timedelta(days=30)) == 0


class TestTheApi:
    def test_the_owner_hands_off_and_the_departments_system_posts_progress(
        self, client: Client, cast: Cast
    ) -> None:
        conversation = complaint(cast)
        cara, bill = token(cast.cara), token(cast.bill)

        opened = post(
            client,
            f"/api/v1/inbox/conversations/{conversation.pk}/handoff",
            {
                "department_id": cast.billing.pk,
                "what_happened": "Charged twice.",
                "customer_needs": "A refund.",
            },
            cara,
        )
        handoff_id = opened.json()["id"]
        listed = client.get("/api/v1/handoffs", **bill).json()
        posted = post(
            client,
            f"/api/v1/handoffs/{handoff_id}/progress",
            {"text": "Refunded.", "resolves": True},
            bill,
        )
        closed = client.get(f"/api/v1/handoffs/{handoff_id}", **bill).json()
        told = post(
            client,
            f"/api/v1/inbox/conversations/{conversation.pk}/status-updates",
            {"text": "Your refund is on its way.", "source_update_id": posted.json()["id"]},
            cara,
        )

        assert opened.status_code == 201
        assert opened.json()["department_name"] == "Billing"
        assert [item["id"] for item in listed] == [handoff_id]
        assert posted.status_code == 201
        assert closed["state"] == "done"
        assert [u["text"] for u in closed["updates"]] == ["Refunded."]
        assert told.status_code == 201
        assert StatusUpdate.objects.get().source_id == posted.json()["id"]

    def test_other_departments_and_workspaces_get_json_404s(
        self, client: Client, cast: Cast, lou: User
    ) -> None:
        handoff = hand_to_billing(cast, complaint(cast))

        for outsider in (lou, cast.otto):
            auth = token(outsider)
            missing = client.get(f"/api/v1/handoffs/{handoff.pk}", **auth)
            refused = post(client, f"/api/v1/handoffs/{handoff.pk}/progress", {"text": "x"}, auth)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "handoff_not_found"
            assert refused.status_code == 404
            assert client.get("/api/v1/handoffs", **auth).json() == []
        assert not HandoffUpdate.objects.exists()


class TestMergingAndStatus:
    def test_merging_brings_the_handoff_and_the_status_page_along(self, cast: Cast) -> None:
        # The train Wi-Fi story, ended well: the email conversation joins the social one.
        social, by_email = tom_on_two_channels(cast)
        handoff = hand_to_billing(cast, by_email)
        handoffs.publish_update(actor=cast.cara, conversation_id=by_email.pk, text="On it.")

        merging.merge_conversations(actor=cast.cara, conversation_id=by_email.pk, into_id=social.pk)

        handoff.refresh_from_db()
        assert handoff.conversation_id == social.pk
        assert StatusUpdate.objects.get().conversation_id == social.pk
        social.refresh_from_db()
        assert social.status == ConversationStatus.WAITING_DEPARTMENT

    def test_two_open_handoffs_are_not_merged_into_one_conversation(
        self, cast: Cast, logistics: Team
    ) -> None:
        social, by_email = tom_on_two_channels(cast)
        hand_to_billing(cast, social)
        hand_to_billing(cast, by_email, department_id=logistics.pk)

        with pytest.raises(Conflict) as refused:
            merging.merge_conversations(
                actor=cast.cara, conversation_id=by_email.pk, into_id=social.pk
            )

        assert refused.value.code == "two_open_handoffs"

    def test_an_open_handoff_is_not_merged_into_a_resolved_case(self, cast: Cast) -> None:
        social, by_email = tom_on_two_channels(cast)
        hand_to_billing(cast, by_email)
        Conversation.objects.filter(pk=social.pk).update(status=ConversationStatus.RESOLVED)

        with pytest.raises(Conflict) as refused:
            merging.merge_conversations(
                actor=cast.cara, conversation_id=by_email.pk, into_id=social.pk
            )

        assert refused.value.code == "handoff_open"

    def test_the_merged_cases_link_shows_where_the_case_went(self, cast: Cast) -> None:
        social, by_email = tom_on_two_channels(cast)
        hand_to_billing(cast, by_email)
        handoffs.publish_update(actor=cast.cara, conversation_id=by_email.pk, text="With Billing.")
        merging.merge_conversations(actor=cast.cara, conversation_id=by_email.pk, into_id=social.pk)

        page = Client().get(reverse("care:case", args=[case_links.token_for(by_email)]))
        text = page.content.decode()

        assert "With our specialists" in text  # not "Resolved": the merged one is closed
        assert "With Billing." in text

    @pytest.mark.parametrize("status", ["resolved", "closed", "open", "waiting_customer"])
    def test_the_status_menu_cannot_move_what_a_department_still_has(
        self, cast: Cast, status: str
    ) -> None:
        conversation = complaint(cast)
        hand_to_billing(cast, conversation)

        with pytest.raises(Conflict) as refused:
            services.change_status(actor=cast.cara, conversation_id=conversation.pk, status=status)

        assert refused.value.code == "handoff_open"
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.WAITING_DEPARTMENT

    def test_the_database_holds_one_open_handoff_per_conversation_and_per_customer(
        self, cast: Cast
    ) -> None:
        # What two agents handing off at the same moment meet: the unique indexes.
        social = complaint(cast)
        handoff = hand_to_billing(cast, social)
        other = complaint(cast, "ana.example")
        Conversation.objects.filter(pk=other.pk).update(contact=social.contact)

        for conversation_id in (social.pk, other.pk):
            with pytest.raises(IntegrityError), transaction.atomic():
                Handoff.objects.create(
                    workspace=cast.brightwave,
                    conversation_id=conversation_id,
                    contact_id=social.contact_id,
                    department=cast.billing,
                    department_name="Billing",
                    what_happened="x",
                    customer_needs="y",
                )
        handoffs.withdraw(actor=cast.cara, handoff_id=handoff.pk)
        other.refresh_from_db()
        assert hand_to_billing(cast, other).is_open  # closed ones do not count


class TestWhoSeesWhat:
    def test_a_department_member_never_sees_the_care_teams_conversations(self, cast: Cast) -> None:
        unteamed = arrives(cast, "tom.example", 0, text="Where is my parcel?")
        bill = signed_in(cast.bill)

        assert unteamed.team_id is None
        assert bill.get(reverse("care:conversation", args=[unteamed.pk])).status_code == 404
        with pytest.raises(NotFound):
            handoffs.publish_update(actor=cast.bill, conversation_id=unteamed.pk, text="hi")
