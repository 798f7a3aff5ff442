"""Sending over SMTP, against a real server (aiosmtpd): delivery, login, TLS and refusals."""

from __future__ import annotations

import email.policy
from dataclasses import replace
from email.message import EmailMessage

import pytest

from hubbub.cli.serve import free_port
from hubbub.connectors.email.imap import ImapSettings, open_mailbox
from hubbub.connectors.email.network import MailSecurity
from hubbub.connectors.email.smtp import SmtpError, SmtpSettings, check_login, send_message
from hubbub.connectors.email.testing import (
    Dovecot,
    SmtpSink,
    make_certificate,
    trusting,
)

SUPPORT = "support@hubbub.test"
CUSTOMER = "cara@customer.test"


def reply(*, to: str = CUSTOMER, subject: str = "Re: Order 1") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Hubbub Support <{SUPPORT}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<reply-1@hubbub.test>"
    message["In-Reply-To"] = "<order-1@customer.test>"
    message["References"] = "<order-1@customer.test>"
    message.set_content("Your order is on its way.\n\n.A line that starts with a dot.\n")
    return message


def settings_for(sink: SmtpSink, **changes: object) -> SmtpSettings:
    settings = SmtpSettings(
        host=sink.host, port=sink.port, security=MailSecurity.NONE, allow_hosts=(sink.host,)
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def test_a_message_arrives_byte_for_byte_with_its_headers(smtp_server: SmtpSink) -> None:
    message = reply()

    result = send_message(
        settings_for(smtp_server), message, envelope_from=SUPPORT, recipients=[CUSTOMER]
    )

    [received] = smtp_server.messages()
    assert received.content == message.as_bytes(policy=email.policy.SMTP)
    assert b"\r\nIn-Reply-To: <order-1@customer.test>\r\n" in received.content
    assert b"\r\n.A line that starts with a dot.\r\n" in received.content
    assert (received.mail_from, received.rcpt_tos, received.login) == (SUPPORT, (CUSTOMER,), None)
    assert result.accepted == (CUSTOMER,)
    assert result.response == "250 2.0.0 Ok: queued as 1"
    assert result.refused == ()


def test_the_envelope_not_the_headers_decides_who_gets_the_message(
    smtp_server: SmtpSink,
) -> None:
    send_message(
        settings_for(smtp_server),
        reply(),
        envelope_from="bounces@hubbub.test",
        recipients=[CUSTOMER, "archive@hubbub.test"],
    )

    [received] = smtp_server.messages()
    assert received.mail_from == "bounces@hubbub.test"
    assert received.rcpt_tos == (CUSTOMER, "archive@hubbub.test")


def test_a_user_name_makes_it_log_in_first() -> None:
    with SmtpSink(credentials=("agent", "s3cret-pass")) as sink:
        settings = settings_for(sink, username="agent", password="s3cret-pass")

        send_message(settings, reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])
        greeting = check_login(settings)

        [received] = sink.messages()
    assert received.login == "agent"
    assert greeting.startswith("220 ")


def test_a_wrong_password_is_a_permanent_error_that_does_not_repeat_the_password() -> None:
    with SmtpSink(credentials=("agent", "s3cret-pass")) as sink:
        settings = settings_for(sink, username="agent", password="wrong-pass-4711")

        with pytest.raises(SmtpError) as refused:
            send_message(settings, reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert sink.messages() == []
    assert refused.value.message == "The mail server refused the user name or password."
    assert refused.value.code == "authentication_failed"
    assert refused.value.smtp_code == 535
    assert not refused.value.transient
    for text in (str(refused.value), repr(refused.value), repr(settings)):
        assert "wrong-pass-4711" not in text


def test_a_451_is_transient_and_the_next_attempt_goes_through() -> None:
    with SmtpSink(replies=["451 4.3.0 Try again later"]) as sink:
        with pytest.raises(SmtpError) as deferred:
            send_message(settings_for(sink), reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])
        send_message(settings_for(sink), reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert len(sink.messages()) == 1
    assert deferred.value.transient
    assert deferred.value.smtp_code == 451
    assert "Try again later" in deferred.value.message


def test_a_550_is_permanent() -> None:
    with SmtpSink(replies=["550 5.7.1 Message rejected as spam"]) as sink:
        with pytest.raises(SmtpError) as rejected:
            send_message(settings_for(sink), reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert sink.messages() == []
    assert not rejected.value.transient
    assert rejected.value.smtp_code == 550
    assert rejected.value.code == "message_refused"


def test_refused_recipients_are_reported_and_the_others_still_get_the_message() -> None:
    with SmtpSink(refuse_recipients=["gone@customer.test"]) as sink:
        result = send_message(
            settings_for(sink),
            reply(),
            envelope_from=SUPPORT,
            recipients=["gone@customer.test", CUSTOMER],
        )

        [received] = sink.messages()
    assert received.rcpt_tos == (CUSTOMER,)
    assert result.accepted == (CUSTOMER,)
    [refused] = result.refused
    assert (refused.address, refused.smtp_code) == ("gone@customer.test", 550)


def test_every_recipient_refused_is_a_permanent_error() -> None:
    with SmtpSink(refuse_recipients=[CUSTOMER]) as sink:
        with pytest.raises(SmtpError) as refused:
            send_message(settings_for(sink), reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert sink.messages() == []
    assert refused.value.code == "recipients_refused"
    assert refused.value.smtp_code == 550
    assert not refused.value.transient
    assert CUSTOMER in refused.value.message


def test_an_address_with_non_ascii_characters_goes_out_with_smtputf8(
    smtp_server: SmtpSink,
) -> None:
    recipient = "jürgen@kunde.test"
    message = reply(to=f"Jürgen <{recipient}>", subject="Re: Bestellung ✓")

    send_message(settings_for(smtp_server), message, envelope_from=SUPPORT, recipients=[recipient])

    [received] = smtp_server.messages()
    assert received.rcpt_tos == (recipient,)
    assert "Subject: Re: Bestellung ✓".encode() in received.content


@pytest.mark.parametrize(
    ("security", "implicit_tls"), [(MailSecurity.STARTTLS, False), (MailSecurity.TLS, True)]
)
def test_tls_checks_the_certificate_for_the_host_name(
    security: MailSecurity, implicit_tls: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = make_certificate("localhost")
    with SmtpSink(
        certificate=certificate, implicit_tls=implicit_tls, credentials=("agent", "pw-1")
    ) as sink:
        settings = settings_for(
            sink,
            host="localhost",
            allow_hosts=("localhost",),
            security=security,
            username="agent",
            password="pw-1",
        )
        with pytest.raises(SmtpError) as untrusted:
            send_message(settings, reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])
        trusting(monkeypatch, certificate)
        result = send_message(settings, reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert len(sink.messages()) == 1
    assert untrusted.value.code == "tls_failed"
    assert not untrusted.value.transient
    assert result.accepted == (CUSTOMER,)


def test_a_certificate_for_another_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = make_certificate("mail.elsewhere.test")
    trusting(monkeypatch, certificate)
    with SmtpSink(certificate=certificate) as sink:
        settings = settings_for(
            sink, host="localhost", allow_hosts=("localhost",), security=MailSecurity.STARTTLS
        )
        with pytest.raises(SmtpError) as refused:
            send_message(settings, reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert sink.messages() == []
    assert refused.value.code == "tls_failed"


def test_starttls_the_server_does_not_offer_is_a_permanent_error(smtp_server: SmtpSink) -> None:
    settings = settings_for(smtp_server, security=MailSecurity.STARTTLS)

    with pytest.raises(SmtpError) as refused:
        check_login(settings)

    assert refused.value.code == "tls_unavailable"
    assert not refused.value.transient


def test_a_server_that_does_not_answer_on_the_port_is_a_transient_error() -> None:
    settings = SmtpSettings(
        host="127.0.0.1", port=free_port(), security=MailSecurity.NONE, allow_hosts=("127.0.0.1",)
    )

    with pytest.raises(SmtpError) as failed:
        send_message(settings, reply(), envelope_from=SUPPORT, recipients=[CUSTOMER], timeout=5)

    assert failed.value.transient
    assert failed.value.code == "unreachable"


def test_a_server_on_a_private_address_is_refused_unless_allowed(smtp_server: SmtpSink) -> None:
    with pytest.raises(SmtpError) as refused:
        send_message(
            settings_for(smtp_server, allow_hosts=()),
            reply(),
            envelope_from=SUPPORT,
            recipients=[CUSTOMER],
        )

    assert refused.value.code == "blocked_address"
    assert smtp_server.messages() == []


def test_a_message_sent_over_smtp_is_read_back_over_imap(
    smtp_server: SmtpSink, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    message = reply(to=mail_account.username)
    send_message(
        settings_for(smtp_server),
        message,
        envelope_from=SUPPORT,
        recipients=[mail_account.username],
    )

    [received] = smtp_server.messages()
    assert dovecot.deliver(received) == [mail_account.username]
    with open_mailbox(mail_account) as mailbox:
        [fetched] = mailbox.fetch_new(0)

    assert fetched.raw == message.as_bytes(policy=email.policy.SMTP)


def test_a_server_that_wants_a_login_refuses_a_message_sent_without_one() -> None:
    with SmtpSink(credentials=("agent", "pw-1")) as sink:
        with pytest.raises(SmtpError) as refused:
            send_message(settings_for(sink), reply(), envelope_from=SUPPORT, recipients=[CUSTOMER])

        assert sink.messages() == []
    assert refused.value.smtp_code == 530
    assert refused.value.code == "authentication_required"
    assert not refused.value.transient
