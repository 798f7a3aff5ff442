"""The web chat's endpoints: what the widget on the brand's site may do, and nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from hubbub.accounts.models import Status
from hubbub.accounts.tests.factories import Cast
from hubbub.care import chat, merging, outbound, services
from hubbub.care.models import CHAT, Conversation, Message, MessageKind
from hubbub.connectors.models import ChatVisitor, ChatWidget

pytestmark = pytest.mark.django_db

SITE = "https://www.brightwave.example"


@pytest.fixture
def widget(cast: Cast) -> ChatWidget:
    return ChatWidget.objects.create(
        workspace=cast.brightwave,
        name="Website",
        key="k7f3a9c1d2e4",
        allowed_origins=[SITE],
        team=cast.care,
        greeting="Hi! How can we help?",
        identity_secret="site-secret",
    )


def call(
    client: Client,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str = "",
    origin: str = SITE,
    method: str = "post",
) -> Any:
    headers: dict[str, str] = {"Origin": origin} if origin else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"/chat/k7f3a9c1d2e4/{path}"
    if method == "get":
        return client.get(url, headers=headers)
    return client.post(
        url, data=json.dumps(body or {}), content_type="application/json", headers=headers
    )


def start(client: Client, **fields: str) -> dict[str, Any]:
    response = call(client, "session", {"page_url": f"{SITE}/pricing", **fields})
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_a_visitor_starts_a_chat_and_their_message_opens_a_conversation(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    session = start(client, name="Ana")

    sent = call(client, "messages", {"body": "Do you ship to Portugal?"}, token=session["token"])

    assert sent.status_code == 200
    assert sent["Access-Control-Allow-Origin"] == SITE
    message = sent.json()["message"]
    assert message["from"] == "customer"
    assert message["body"] == "Do you ship to Portugal?"
    conversation = Conversation.objects.get(messages__pk=message["id"])
    assert conversation.platform == CHAT
    assert conversation.team_id == cast.care.pk
    assert conversation.customer_name == "Ana"
    assert session["greeting"] == "Hi! How can we help?"


def test_the_visitor_reads_the_agents_answer_with_the_agents_name_and_never_a_note(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    session = start(client, name="Ana")
    call(client, "messages", {"body": "Do you ship to Portugal?"}, token=session["token"])
    conversation = Conversation.objects.get(platform=CHAT)
    services.add_note(actor=cast.cara, conversation_id=conversation.pk, body="Check with logistics")
    outbound.send_direct(
        actor=cast.cara, conversation_id=conversation.pk, body="Yes, in 3 days.", channel=CHAT
    )

    read = call(client, "messages", token=session["token"], method="get").json()

    assert [m["from"] for m in read["messages"]] == ["customer", "agent"]
    answer = read["messages"][1]
    assert answer["body"].startswith("Yes, in 3 days.")
    assert answer["agent"]["name"] == "Cara"
    assert "logistics" not in json.dumps(read)


def test_a_site_that_may_not_embed_the_chat_is_refused_without_cors(
    client: Client, widget: ChatWidget
) -> None:
    response = call(client, "session", {}, origin="https://evil.example")

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


def test_a_preflight_from_the_brands_site_is_answered(client: Client, widget: ChatWidget) -> None:
    response = client.options("/chat/k7f3a9c1d2e4/messages", headers={"Origin": SITE})

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SITE
    assert "Authorization" in response["Access-Control-Allow-Headers"]


def test_a_made_up_token_reads_nothing(client: Client, widget: ChatWidget) -> None:
    session = start(client)
    call(client, "messages", {"body": "my address is 1 Main St"}, token=session["token"])

    response = call(client, "messages", token="not-the-token", method="get")

    assert response.status_code == 403
    assert response.json()["code"] == "bad_token"


def test_a_signed_in_user_is_verified_by_the_sites_hmac(client: Client, widget: ChatWidget) -> None:
    good = chat.user_hash(widget, "u-42")

    session = start(client, user_id="u-42", user_hash=good, email="ana@example.com")
    forged = call(client, "session", {"user_id": "u-43", "user_hash": good})

    assert session["visitor"]["verified"] is True
    assert forged.status_code == 403
    assert forged.json()["code"] == "identity_not_verified"
    visitor = ChatVisitor.objects.get(user_id="u-42")
    assert visitor.contact.email == "ana@example.com"


def test_a_verified_user_on_a_second_device_continues_the_same_conversation(
    client: Client, widget: ChatWidget
) -> None:
    proof = chat.user_hash(widget, "u-42")
    laptop = start(client, user_id="u-42", user_hash=proof)
    call(client, "messages", {"body": "Hello from my laptop"}, token=laptop["token"])

    phone = start(client, user_id="u-42", user_hash=proof)
    call(client, "messages", {"body": "And from my phone"}, token=phone["token"])

    assert laptop["token"] != phone["token"]
    assert Conversation.objects.filter(platform=CHAT).count() == 1
    assert Message.objects.filter(platform=CHAT, kind=MessageKind.CUSTOMER).count() == 2


def test_a_visitor_who_sends_too_fast_is_slowed_down_and_keeps_what_was_accepted(
    client: Client, widget: ChatWidget
) -> None:
    session = start(client)
    answers = [
        call(client, "messages", {"body": f"message {n}"}, token=session["token"]).status_code
        for n in range(chat.MESSAGES_PER_MINUTE + 2)
    ]

    assert answers[: chat.MESSAGES_PER_MINUTE] == [200] * chat.MESSAGES_PER_MINUTE
    assert answers[-1] == 429
    assert Message.objects.filter(platform=CHAT).count() == chat.MESSAGES_PER_MINUTE


def test_the_widget_says_whether_anyone_is_online(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    assert start(client)["online"] is False

    cast.cara.profile.status = Status.ONLINE
    cast.cara.profile.save()

    assert start(client)["online"] is True


def test_an_offline_visitor_leaves_an_email_address_and_the_agent_can_answer_by_email(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    session = start(client, name="Ana")
    call(client, "messages", {"body": "Call me back please"}, token=session["token"])

    left = call(client, "contact", {"email": "Ana@Example.com"}, token=session["token"])
    bad = call(client, "contact", {"email": "not an address"}, token=session["token"])

    assert left.status_code == 200
    assert left.json()["visitor"]["email"] == "ana@example.com"
    assert bad.status_code == 422
    conversation = Conversation.objects.get(platform=CHAT)
    assert conversation.contact is not None
    assert conversation.contact.email == "ana@example.com"


def test_an_empty_or_overlong_message_is_refused_with_a_reason(
    client: Client, widget: ChatWidget
) -> None:
    session = start(client)

    empty = call(client, "messages", {"body": "   "}, token=session["token"])
    long = call(client, "messages", {"body": "x" * 6000}, token=session["token"])
    not_json = client.post(
        "/chat/k7f3a9c1d2e4/messages",
        data="{",
        content_type="application/json",
        headers={"Origin": SITE, "Authorization": f"Bearer {session['token']}"},
    )

    assert empty.status_code == 422
    assert long.status_code == 422
    assert not_json.status_code == 422
    assert Message.objects.count() == 0


def test_a_client_that_names_no_origin_still_needs_the_visitors_token(
    client: Client, widget: ChatWidget
) -> None:
    session = start(client)
    call(client, "messages", {"body": "hello"}, token=session["token"])

    same_origin = call(client, "messages", token=session["token"], origin="", method="get")
    no_token = call(client, "messages", origin="", method="get")

    assert same_origin.status_code == 200
    assert len(same_origin.json()["messages"]) == 1
    assert "Access-Control-Allow-Origin" not in same_origin
    assert no_token.status_code == 403


def test_an_address_the_site_does_not_sign_joins_no_one_elses_history(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    # Vic emailed the team; Eve signs in to the site as herself and claims Vic's address.
    from hubbub.care.tests.factories import emailed

    vic = emailed(cast, "vic@example.test", "My new address is 1 Secret Lane", name="Vic")
    eve = start(
        client, user_id="u-eve", user_hash=chat.user_hash(widget, "u-eve"), email="vic@example.test"
    )
    call(client, "messages", {"body": "What did I tell you about my address?"}, token=eve["token"])

    eves = ChatVisitor.objects.get(user_id="u-eve")
    assert eves.contact_id != vic.conversation.contact_id
    assert eves.conversation_id != vic.conversation.pk
    assert "Secret Lane" not in json.dumps(
        call(client, "messages", token=eve["token"], method="get").json()
    )


def test_an_address_the_site_signs_is_the_same_person_as_whoever_wrote_from_it(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    from hubbub.care.tests.factories import emailed

    emailed = emailed(cast, "ana@example.test", "Where is my order?", name="Ana")
    ana = start(
        client,
        user_id="u-ana",
        user_hash=chat.user_hash(widget, "u-ana"),
        email="ana@example.test",
        email_hash=chat.user_hash(widget, "ana@example.test"),
    )
    call(client, "messages", {"body": "Any news on my order?"}, token=ana["token"])

    assert ChatVisitor.objects.get(user_id="u-ana").conversation_id == emailed.conversation.pk


def test_a_signed_in_users_chat_does_not_open_for_whoever_uses_the_browser_next(
    client: Client, widget: ChatWidget
) -> None:
    ana = start(client, user_id="u-ana", user_hash=chat.user_hash(widget, "u-ana"))
    call(client, "messages", {"body": "My card ends 4242"}, token=ana["token"])

    after_sign_out = start(client, token=ana["token"])

    assert after_sign_out["token"] != ana["token"]
    assert after_sign_out["messages"] == []


def test_odd_identity_input_is_refused_with_a_reason_not_an_error(
    client: Client, widget: ChatWidget
) -> None:
    long_id = call(client, "session", {"user_id": "u" * 300, "user_hash": "x"})
    odd_hash = call(client, "session", {"user_id": "u-1", "user_hash": "é" * 64})
    long_email = call(client, "session", {"email": "a" * 60 + "@" + "b" * 250 + ".com"})
    odd_after = call(client, "messages?after=²", token=start(client)["token"], method="get")

    assert long_id.status_code == 422
    assert odd_hash.status_code == 403
    assert long_email.status_code == 422
    assert odd_after.status_code == 200


def test_merging_conversations_keeps_the_chat_visitor_on_the_merged_one(
    client: Client, widget: ChatWidget, cast: Cast
) -> None:
    from hubbub.care.tests.factories import arrives

    session = start(client, name="Ana")
    call(client, "messages", {"body": "Hello from the chat"}, token=session["token"])
    chatted = Conversation.objects.get(platform=CHAT)
    posted = arrives(cast, "ana.example", team=cast.care)

    merging.merge_conversations(actor=cast.cara, conversation_id=chatted.pk, into_id=posted.pk)
    outbound.send_direct(
        actor=cast.cara, conversation_id=posted.pk, body="Still here?", channel=CHAT
    )

    read = call(client, "messages", token=session["token"], method="get").json()
    assert [m["body"].split("\n")[0] for m in read["messages"]] == [
        "Hello from the chat",
        "Still here?",
    ]
    posted.refresh_from_db()
    assert posted.contact_id == ChatVisitor.objects.get().contact_id
