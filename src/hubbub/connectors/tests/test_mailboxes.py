"""Settings › Mailboxes: an admin adds the address customers write to; passwords stay secret."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.models import Mailbox

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Support",
    "address": "Support@Brightwave.test",
    "brand_name": "Brightwave",
    "imap_host": "imap.brightwave.test",
    "imap_port": "993",
    "imap_security": "tls",
    "imap_username": "support",
    "imap_password": "imap-secret",
    "imap_folder": "INBOX",
    "smtp_host": "smtp.brightwave.test",
    "smtp_port": "587",
    "smtp_security": "starttls",
    "smtp_username": "support",
    "smtp_password": "smtp-secret",
    "personal_senders": "1",
}


def test_an_admin_adds_a_mailbox_and_its_passwords_are_never_shown_again(
    client: Client, cast: Cast
) -> None:
    client.force_login(cast.ada)

    saved = client.post("/settings/mailboxes/new/", {**FORM, "team": str(cast.care.pk)})

    mailbox = Mailbox.objects.get()
    assert saved.status_code == 302
    assert mailbox.address == "support@brightwave.test"
    assert mailbox.team_id == cast.care.pk
    assert mailbox.imap_password == "imap-secret"
    page = client.get(f"/settings/mailboxes/{mailbox.pk}/").content.decode()
    assert "imap-secret" not in page
    assert "smtp-secret" not in page
    assert "Saved — type to replace" in page
    assert "support@brightwave.test" in client.get("/settings/mailboxes/").content.decode()


def test_empty_password_fields_keep_the_saved_ones_unless_the_server_changed(
    client: Client, cast: Cast
) -> None:
    client.force_login(cast.ada)
    client.post("/settings/mailboxes/new/", FORM)
    mailbox = Mailbox.objects.get()

    kept = client.post(
        f"/settings/mailboxes/{mailbox.pk}/", {**FORM, "imap_password": "", "smtp_password": ""}
    )
    moved = client.post(
        f"/settings/mailboxes/{mailbox.pk}/",
        {**FORM, "imap_host": "imap.attacker.example", "imap_password": ""},
    )

    assert kept.status_code == 302
    mailbox.refresh_from_db()
    assert mailbox.imap_password == "imap-secret"
    assert moved.status_code == 422
    assert "type its password again" in moved.content.decode()
    mailbox.refresh_from_db()
    assert mailbox.imap_host == "imap.brightwave.test"


def test_bad_input_is_refused_with_a_reason_and_nothing_is_saved(
    client: Client, cast: Cast
) -> None:
    client.force_login(cast.ada)

    bad_address = client.post("/settings/mailboxes/new/", {**FORM, "address": "nope"})
    bad_port = client.post("/settings/mailboxes/new/", {**FORM, "smtp_port": "99999"})

    assert bad_address.status_code == 422
    assert "Type the address customers write to." in bad_address.content.decode()
    assert bad_port.status_code == 422
    assert Mailbox.objects.count() == 0


def test_agents_and_other_workspaces_cannot_see_or_change_a_mailbox(
    client: Client, cast: Cast
) -> None:
    client.force_login(cast.ada)
    client.post("/settings/mailboxes/new/", FORM)
    mailbox = Mailbox.objects.get()

    client.force_login(cast.cara)
    agent = client.post(f"/settings/mailboxes/{mailbox.pk}/", {**FORM, "name": "Mine"})
    client.force_login(cast.otto)
    other = client.get(f"/settings/mailboxes/{mailbox.pk}/")

    assert agent.status_code == 404
    assert other.status_code == 404
    assert Mailbox.objects.get().name == "Support"
