"""The inbox's REST API: the pages' selectors and services, with tokens and JSON errors."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast, post, token
from hubbub.care.models import DeliveryState, Message
from hubbub.care.tests.factories import arrives
from hubbub.connectors.models import ChannelAccount, Transport

pytestmark = pytest.mark.django_db


def test_an_agent_lists_reads_answers_and_resolves_through_the_api(
    client: Client, cast: Cast
) -> None:
    ChannelAccount.objects.create(
        workspace=cast.brightwave, platform="bluesky", transport=Transport.SANDBOX, name="Sandbox"
    )
    conversation = arrives(
        cast, "tom.example", 0, text="Router dead", sentiment="negative", team=cast.care
    )
    arrives(cast, "maya.example", 0, text="Nights only", team=cast.nights)
    auth = token(cast.cara)
    listed = client.get("/api/v1/inbox/conversations?sentiment=negative", **auth).json()
    assert [c["subject"] for c in listed] == ["Router dead"]
    assert client.get("/api/v1/inbox/conversations/counts", **auth).json()["all"] == 1

    answered = post(
        client,
        f"/api/v1/inbox/conversations/{conversation.pk}/replies",
        {"body": "So sorry, Tom"},
        auth,
    )
    assert answered.status_code == 202
    assert answered.json()["state"] == DeliveryState.QUEUED
    again = post(
        client, f"/api/v1/inbox/conversations/{conversation.pk}/replies", {"body": "Me too"}, auth
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_answered"
    assert (
        post(
            client,
            f"/api/v1/inbox/conversations/{conversation.pk}/notes",
            {"body": "@Lee fyi"},
            auth,
        ).status_code
        == 201
    )
    assigned = post(
        client,
        f"/api/v1/inbox/conversations/{conversation.pk}/assign",
        {"assignee_id": cast.cara.pk},
        auth,
    )
    assert assigned.json()["assignee_id"] == cast.cara.pk
    resolved = post(
        client,
        f"/api/v1/inbox/conversations/{conversation.pk}/status",
        {"status": "resolved"},
        auth,
    )
    assert resolved.json()["status"] == "resolved"
    detail = client.get(f"/api/v1/inbox/conversations/{conversation.pk}", **auth).json()
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds.count("mention") == 1
    assert kinds.count("message") == 2
    assert "activity" in kinds
    assert Message.objects.count() == 2


def test_other_teams_and_workspaces_get_json_404s_and_bad_input_a_422(
    client: Client, cast: Cast
) -> None:
    conversation = arrives(cast, "tom.example", 0, team=cast.care)
    for outsider in (cast.nico, cast.otto):
        auth = token(outsider)
        missing = client.get(f"/api/v1/inbox/conversations/{conversation.pk}", **auth)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "conversation_not_found"
        assert client.get("/api/v1/inbox/conversations", **auth).json() == []
    auth = token(cast.cara)
    bad = post(
        client, f"/api/v1/inbox/conversations/{conversation.pk}/status", {"status": "gone"}, auth
    )
    assert bad.status_code == 422
    readonly = post(
        client,
        f"/api/v1/inbox/conversations/{conversation.pk}/notes",
        {"body": "hi"},
        token(cast.rita),
    )
    assert readonly.status_code == 403


def test_the_brands_system_adds_a_customers_message_to_a_conversation(
    client: Client, cast: Cast
) -> None:
    conversation = arrives(cast, "ana.example", author_name="Ana", team=cast.care)
    url = f"/api/v1/inbox/conversations/{conversation.pk}/customer-messages"

    added = post(
        client,
        url,
        {"text": "Ana called: the router still drops.", "source": "Phone"},
        token(cast.cara),
    )
    empty = post(client, url, {"text": "  "}, token(cast.cara))
    elsewhere = post(client, url, {"text": "hi"}, token(cast.otto))

    assert added.status_code == 201
    message = Message.objects.get(pk=added.json()["id"])
    assert message.conversation_id == conversation.pk
    assert message.kind == "customer"
    assert message.details["source"] == "Phone"
    assert empty.status_code == 422
    assert elsewhere.status_code == 404
