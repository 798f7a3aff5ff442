"""Inbound webhooks: signed deliveries become customer messages once; the rest is refused."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast
from hubbub.care.models import WEBHOOK, Conversation, Message, MessageKind
from hubbub.connectors import webhooks
from hubbub.connectors.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

REVIEW = {
    "customer": {"id": "tp-881", "name": "Ana Ruiz", "email": "Ana@Example.com"},
    "message": {"subject": "2 stars", "text": "Delivery took three weeks. Not again."},
    "source": "Trustpilot",
    "url": "https://www.trustpilot.com/reviews/881",
}


@pytest.fixture
def endpoint(cast: Cast) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        workspace=cast.brightwave,
        name="Reviews",
        key="rv8f2k1q9x",
        secret=webhooks.new_secret(),
        team=cast.care,
    )


def post(
    client: Client,
    endpoint: WebhookEndpoint,
    payload: dict[str, Any] | bytes,
    *,
    webhook_id: str = "msg_1",
    timestamp: int | None = None,
    secret: str | None = None,
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = webhooks.sign(
        secret or endpoint.secret, webhook_id=webhook_id, timestamp=timestamp, body=body
    )
    return client.post(
        f"/hooks/{endpoint.key}",
        data=body,
        content_type="application/json",
        headers={
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        },
    )


def test_a_signed_review_becomes_a_conversation_for_the_customer(
    client: Client, endpoint: WebhookEndpoint, cast: Cast
) -> None:
    answer = post(client, endpoint, REVIEW)

    assert answer.status_code == 201
    message = Message.objects.get(pk=answer.json()["message_id"])
    assert message.kind == MessageKind.CUSTOMER
    assert message.platform == WEBHOOK
    assert message.body == "Delivery took three weeks. Not again."
    assert message.details["source"] == "Trustpilot"
    conversation = message.conversation
    assert conversation.team_id == cast.care.pk
    assert conversation.subject == "2 stars"
    assert conversation.contact is not None
    assert conversation.contact.email == "ana@example.com"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).last_received_at is not None


def test_the_same_delivery_twice_files_one_message(
    client: Client, endpoint: WebhookEndpoint
) -> None:
    first = post(client, endpoint, REVIEW)
    again = post(client, endpoint, REVIEW)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert Message.objects.count() == 1


def test_a_forged_signature_is_refused_and_counted(
    client: Client, endpoint: WebhookEndpoint
) -> None:
    forged = post(client, endpoint, REVIEW, secret=webhooks.new_secret())

    assert forged.status_code == 401
    assert forged.json()["code"] == "bad_signature"
    assert Message.objects.count() == 0
    refused = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert refused.rejected_count == 1
    assert "signature" in refused.last_rejected_reason


def test_a_delivery_replayed_after_the_window_is_refused(
    client: Client, endpoint: WebhookEndpoint
) -> None:
    replayed = post(client, endpoint, REVIEW, timestamp=int(time.time()) - 600)

    assert replayed.status_code == 401
    assert replayed.json()["code"] == "stale"
    assert WebhookDelivery.objects.count() == 0


def test_a_bad_body_is_refused_with_the_reason_and_its_fixed_retry_is_filed(
    client: Client, endpoint: WebhookEndpoint
) -> None:
    broken = post(client, endpoint, {"customer": {"name": "Ana"}, "message": {"text": "hi"}})
    not_json = post(client, endpoint, b"{not json", webhook_id="msg_2")
    fixed = post(client, endpoint, REVIEW)

    assert broken.status_code == 422
    assert "id or an email" in broken.json()["error"]
    assert not_json.status_code == 422
    assert fixed.status_code == 201
    assert Message.objects.count() == 1


def test_a_delivery_can_continue_a_conversation(client: Client, endpoint: WebhookEndpoint) -> None:
    first = post(client, endpoint, REVIEW).json()

    follow_up = post(
        client,
        endpoint,
        {
            **REVIEW,
            "message": {"text": "Update: it arrived broken."},
            "conversation_id": first["conversation_id"],
        },
        webhook_id="msg_2",
    ).json()

    assert follow_up["conversation_id"] == first["conversation_id"]
    assert Conversation.objects.count() == 1


def test_an_unknown_or_disabled_endpoint_is_not_found(
    client: Client, endpoint: WebhookEndpoint
) -> None:
    endpoint.enabled = False
    endpoint.save()

    assert post(client, endpoint, REVIEW).status_code == 404
    assert (
        client.post("/hooks/nope", data=b"{}", content_type="application/json").status_code == 404
    )


def test_an_address_typed_into_a_form_merges_no_one(
    client: Client, endpoint: WebhookEndpoint, cast: Cast
) -> None:
    from hubbub.care.tests.factories import emailed

    vic = emailed(cast, "vic@example.com", "My new address is 1 Secret Lane", name="Vic")

    posted = post(
        client,
        endpoint,
        {"customer": {"email": "vic@example.com", "name": "Eve"}, "message": {"text": "Hi"}},
    ).json()

    assert posted["conversation_id"] != vic.conversation.pk


def test_a_delivery_may_continue_only_a_conversation_of_its_own_webhook(
    client: Client, endpoint: WebhookEndpoint, cast: Cast
) -> None:
    other = arrives_elsewhere(cast)

    refused = post(client, endpoint, {**REVIEW, "conversation_id": other.pk})

    assert refused.status_code == 422
    assert refused.json()["field"] == "conversation_id"
    assert Message.objects.filter(conversation=other).count() == 0


def test_a_timestamp_far_in_the_future_is_refused_not_an_error(
    client: Client, endpoint: WebhookEndpoint
) -> None:
    future = post(client, endpoint, REVIEW, timestamp=99_999_999_999)

    assert future.status_code == 401
    assert future.json()["code"] == "stale"


def arrives_elsewhere(cast: Cast) -> Conversation:
    from hubbub.care.tests.factories import arrives

    return arrives(cast, "someone.example", team=cast.care)
