"""The demo workspace is generated through the real services, once."""

from __future__ import annotations

import pytest

from hubbub.accounts.models import Role, User
from hubbub.demo.seed import seed_demo
from hubbub.listening.models import Query
from hubbub.listening.query import parse

pytestmark = pytest.mark.django_db


def test_the_demo_has_one_login_per_role_and_valid_queries() -> None:
    logins = seed_demo()
    assert [login.role for login in logins] == [
        r.label for r in (Role.ADMIN, Role.LEAD, Role.AGENT, Role.DEPARTMENT, Role.READONLY)
    ]
    assert User.objects.count() == 18
    queries = list(Query.objects.all())
    assert len(queries) == 5
    for query in queries:
        parse(query.expression)
    assert User.objects.get(email="agent@brightwave.example").check_password("brightwave-demo-2026")


def test_seeding_twice_changes_nothing() -> None:
    seed_demo()
    seed_demo()
    assert User.objects.count() == 18


def test_the_demo_has_email_chat_and_webhook_customers_one_of_them_on_two_channels() -> None:
    from hubbub.care.models import Conversation, Message, MessageKind

    seed_demo()

    platforms = set(Conversation.objects.values_list("platform", flat=True))
    assert {"email", "chat", "webhook"} <= platforms
    priya = Conversation.objects.get(customer_name="Priya Norsen")
    channels = list(
        Message.objects.filter(conversation=priya, kind=MessageKind.CUSTOMER)
        .order_by("id")
        .values_list("platform", flat=True)
    )
    assert channels == ["email", "chat", "email"]  # and, once it was sorted, her thanks


def test_the_demo_answers_by_email_through_its_sandbox_mailbox() -> None:
    from hubbub.care import outbound
    from hubbub.care.models import Conversation, DeliveryState

    seed_demo()
    ines = Conversation.objects.get(customer_name="Ines Calley")
    sam = User.objects.get(email="agent@brightwave.example")

    reply = outbound.send_direct(
        actor=sam,
        conversation_id=ines.pk,
        body="Refunded today.",
        channel="email",
        confirm_not_mine=True,  # round-robin gave it to a colleague
    )
    outbound.deliver(message_id=reply.pk)

    reply.refresh_from_db()
    assert reply.state == DeliveryState.SENT
    assert reply.sandbox is True
    assert reply.details["to"] == "ines.calley@example.net"


def test_the_demo_has_a_problem_with_billing_and_an_update_on_its_status_page() -> None:
    from hubbub.care import case_links, status_page
    from hubbub.care.models import Conversation, HandoffState

    seed_demo()
    conversation = Conversation.objects.get(customer_handle="ines.calley@example.net")
    [handoff] = conversation.handoffs.all()
    page = status_page.status_page(conversation)

    assert handoff.department_name == "Billing"
    assert handoff.state == HandoffState.IN_PROGRESS
    assert [stage.label for stage in page.stages if stage.reached] == [
        "Received",
        "With Billing",
        "Fix in progress",
    ]
    assert "refund goes out tonight" in page.updates[0].text
    assert "RF-20931" not in page.updates[0].text  # the department's own words stay inside
    assert case_links.conversation_for(case_links.token_for(conversation)) == conversation


def test_the_demo_has_a_rated_case_and_a_thankful_customer_offered_as_advocate() -> None:
    from hubbub.care.models import Conversation, ConversationStatus
    from hubbub.crm.models import Advocacy

    seed_demo()
    conversation = Conversation.objects.get(customer_handle="priya.norsen@example.net")

    assert conversation.status == ConversationStatus.RESOLVED
    assert conversation.survey.score == 5
    assert conversation.praise_captured_at is not None
    assert conversation.contact is not None
    assert conversation.contact.advocacy == Advocacy.CANDIDATE
