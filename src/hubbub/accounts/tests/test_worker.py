"""A real `hubbub worker` process sends the invitation over a real SMTP conversation."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hubbub.accounts import services
from hubbub.accounts.models import Role
from hubbub.accounts.tests.factories import Cast
from hubbub.testing import free_port, run_hubbub

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def test_the_worker_sends_the_invitation_through_smtp(committed_cast: Cast) -> None:
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        _, token = services.invite_member(
            actor=committed_cast.ada, email="new.agent@example.test", role=Role.AGENT
        )
        result = run_hubbub(
            "worker",
            "--batch",
            extra_env={
                "HUBBUB_EMAIL_URL": f"smtp://127.0.0.1:{port}",
                "HUBBUB_EMAIL_FROM": "Brightwave Care <care@brightwave.test>",
            },
        )
        assert result.returncode == 0, result.stderr
    finally:
        smtp.stop()
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "new.agent@example.test"
    assert message["From"] == "Brightwave Care <care@brightwave.test>"
    assert "Brightwave" in message["Subject"]
    assert f"/invite/{token}/" in message.get_payload(decode=True).decode()  # type: ignore[union-attr]
