"""Settings › Web chat and Webhooks: admins set them up; secrets stay with the brand."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.models import ChatWidget, WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_an_admin_adds_a_chat_and_gets_its_script_tag(client: Client, cast: Cast) -> None:
    client.force_login(cast.ada)

    created = client.post(
        "/settings/chat/",
        {
            "name": "Website",
            "allowed_origins": "https://www.brightwave.example/\nhttps://shop.brightwave.example",
            "team": str(cast.care.pk),
            "greeting": "Hi there",
        },
    )

    widget = ChatWidget.objects.get()
    assert created.status_code == 302
    assert widget.allowed_origins == [
        "https://www.brightwave.example",
        "https://shop.brightwave.example",
    ]
    assert len(widget.key) >= 12
    assert len(widget.identity_secret) == 64
    page = client.get(f"/settings/chat/{widget.pk}/").content.decode()
    assert f'data-widget="{widget.key}"' in page
    assert "chat-widget.js" in page


def test_a_site_address_with_a_path_or_plain_http_is_refused(client: Client, cast: Cast) -> None:
    client.force_login(cast.ada)

    with_path = client.post(
        "/settings/chat/", {"name": "W", "allowed_origins": "https://a.example/page"}
    )
    plain = client.post("/settings/chat/", {"name": "W", "allowed_origins": "http://a.example"})
    local = client.post(
        "/settings/chat/", {"name": "W", "allowed_origins": "http://localhost:8080"}
    )

    assert with_path.status_code == 422
    assert plain.status_code == 422
    assert local.status_code == 302
    assert ChatWidget.objects.get().allowed_origins == ["http://localhost:8080"]


def test_replacing_the_identity_secret_makes_a_new_one(client: Client, cast: Cast) -> None:
    client.force_login(cast.ada)
    client.post("/settings/chat/", {"name": "W", "allowed_origins": "https://a.example"})
    widget = ChatWidget.objects.get()
    before = widget.identity_secret

    client.post(f"/settings/chat/{widget.pk}/", {"action": "rotate"})

    widget.refresh_from_db()
    assert widget.identity_secret != before


def test_an_admin_adds_a_webhook_and_sees_where_to_send(client: Client, cast: Cast) -> None:
    client.force_login(cast.ada)

    created = client.post("/settings/webhooks/", {"name": "Contact form", "team": ""})

    endpoint = WebhookEndpoint.objects.get()
    assert created.status_code == 302
    assert endpoint.secret.startswith("whsec_")
    page = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert f"/hooks/{endpoint.key}" in page


def test_agents_and_other_workspaces_cannot_open_chat_or_webhook_settings(
    client: Client, cast: Cast
) -> None:
    client.force_login(cast.ada)
    client.post("/settings/chat/", {"name": "W", "allowed_origins": "https://a.example"})
    client.post("/settings/webhooks/", {"name": "Form"})
    widget, endpoint = ChatWidget.objects.get(), WebhookEndpoint.objects.get()

    for person in (cast.cara, cast.otto):
        client.force_login(person)
        assert client.get(f"/settings/chat/{widget.pk}/").status_code == 404
        assert client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 404
    client.force_login(cast.otto)
    assert "Form" not in client.get("/settings/webhooks/").content.decode()
