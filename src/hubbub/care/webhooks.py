"""Inbound webhooks: forms, review sites and the brand's own systems post customer messages.

A delivery is verified (Standard Webhooks, see connectors.webhooks) before
its body is read, then stored and filed in one transaction: the sender
gets 2xx only once the message is in a conversation, and may retry
anything else. The same webhook-id twice is answered as done and files
nothing. A refused delivery is counted on its endpoint with the reason,
for the admin to see; its body is not kept (anyone can post junk).

The body, JSON:
    {"customer": {"id": "crm-881", "name": "Ana Ruiz", "email": "ana@example.com"},
     "message": {"text": "…", "subject": "…"},
     "conversation_id": 123,              # optional: continue this conversation
     "source": "Trustpilot", "url": "https://…"}   # optional: where it came from
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from hubbub.care import inbound
from hubbub.care.models import WEBHOOK, Message
from hubbub.connectors import webhooks as signatures
from hubbub.connectors.models import WebhookDelivery, WebhookEndpoint
from hubbub.core import clock
from hubbub.core.errors import HubbubError, NotFound, ValidationFailed

MAX_BODY_BYTES = 256 * 1024
MAX_TEXT = 20_000
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


@dataclass(frozen=True, slots=True)
class Delivered:
    message: Message | None  # None for a delivery seen before
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Payload:
    """What Hubbub reads of a delivery's body, checked."""

    customer_id: str
    customer_name: str
    email: str
    text: str
    subject: str
    conversation_id: int | None
    source: str
    url: str  # http(s) only, else ""


def endpoint_for(key: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(key=key, enabled=True).first()
    if endpoint is None:
        raise NotFound("No such webhook.", code="webhook_not_found")
    return endpoint


def receive_delivery(
    *, endpoint: WebhookEndpoint, headers: Mapping[str, str], body: bytes
) -> Delivered:
    """Verify, store and file one delivery; refusals are recorded on the endpoint."""
    try:
        if len(body) > MAX_BODY_BYTES:
            raise ValidationFailed(f"The body is over {MAX_BODY_BYTES // 1024} KB.")
        webhook_id = signatures.verify(endpoint.secret, headers, body, now=clock.now())
        return _file(endpoint, webhook_id, body)
    except HubbubError as error:
        _record_refusal(endpoint, error.message)
        raise


@transaction.atomic
def _file(endpoint: WebhookEndpoint, webhook_id: str, body: bytes) -> Delivered:
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint, webhook_id=webhook_id, body=body.decode("utf-8", "replace")
            )
    except IntegrityError:
        return Delivered(message=None, duplicate=True)  # a retry of what was filed
    payload = _payload(body)
    received = inbound.receive(
        inbound.CustomerMessage(
            workspace_id=endpoint.workspace_id,
            channel=WEBHOOK,
            handle=f"{endpoint.pk}:{payload.customer_id}",
            name=payload.customer_name,
            body=payload.text,
            subject=payload.subject,
            received_at=clock.now(),
            external_id=webhook_id,
            details={
                "endpoint_id": endpoint.pk,
                "source": payload.source or endpoint.name,
                "url": payload.url,
                "webhook_id": webhook_id,
            },
            team_id=endpoint.team_id,
            conversation_id=_continued(endpoint, payload.conversation_id),
            # Signed by the sender, but what a form's user typed is theirs to type: the
            # address is where to answer, and merges no one.
            email=payload.email,
        )
    )
    delivery.message = received.message
    delivery.save(update_fields=["message"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_received_at=clock.now())
    return Delivered(message=received.message, duplicate=False)


def _continued(endpoint: WebhookEndpoint, conversation_id: int | None) -> int | None:
    """A conversation a delivery continues: only one this endpoint has posted to."""
    if conversation_id is None:
        return None
    posted_here = Message.objects.filter(
        conversation_id=conversation_id,
        conversation__workspace_id=endpoint.workspace_id,
        platform=WEBHOOK,
        details__endpoint_id=endpoint.pk,
    ).exists()
    if not posted_here:
        raise ValidationFailed(
            "conversation_id names no conversation this webhook has posted to.",
            field="conversation_id",
        )
    return conversation_id


def _text(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string.", field=name)
    return value.strip()[:limit]


def _payload(body: bytes) -> Payload:
    """The fields Hubbub reads, checked; a clear error for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed("The body is not JSON.") from error
    if not isinstance(data, dict):
        raise ValidationFailed("The body is not a JSON object.")
    customer = data.get("customer")
    message = data.get("message")
    if not isinstance(customer, dict) or not isinstance(message, dict):
        raise ValidationFailed("The body needs a customer object and a message object.")
    text = _text(message, "text", MAX_TEXT)
    if not text:
        raise ValidationFailed("message.text is empty.", field="message.text")
    email = _text(customer, "email", 254).lower()
    if email and not EMAIL.match(email):
        raise ValidationFailed("customer.email is not an email address.", field="customer.email")
    customer_id = _text(customer, "id", 200) or email
    if not customer_id:
        raise ValidationFailed("The customer needs an id or an email.", field="customer.id")
    conversation_id = data.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, int) or isinstance(conversation_id, bool)
    ):
        raise ValidationFailed("conversation_id must be a number.", field="conversation_id")
    url = _text(data, "url", 2000)
    return Payload(
        customer_id=customer_id,
        customer_name=_text(customer, "name", 200),
        email=email,
        text=text,
        subject=_text(message, "subject", 300),
        conversation_id=conversation_id,
        source=_text(data, "source", 80),
        url=url if url.lower().startswith(("https://", "http://")) else "",
    )


def _record_refusal(endpoint: WebhookEndpoint, reason: str) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        rejected_count=F("rejected_count") + 1,
        last_rejected_at=clock.now(),
        last_rejected_reason=reason[:300],
    )
