"""Sending one message through the mail server an admin configured (SMTP submission).

One connection per message: replies go out one at a time, when an agent
sends them, so a kept-open connection would mostly be a stale one.

Guarantees:
- The socket comes from `network.connect_checked` (SSRF guard, pinned
  address); TLS, implicit or STARTTLS, is checked against the host name.
- The message goes out as `as_bytes(policy=SMTP)`: CRLF line ends, headers
  folded for SMTP; SMTPUTF8 only when an address needs it.
- The result names the recipients the server accepted and its final answer
  (which often carries the queue id). Once the server has said 250 to the
  message, nothing after it (QUIT, a dropped connection) raises: the message
  is on its way, and sending it again would deliver it twice.
- Errors are `SmtpError`s: 4xx answers and connection trouble are transient,
  5xx answers are permanent; none of them contains the password.
"""

from __future__ import annotations

import email.message
import email.policy
import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from hubbub.connectors.base import ConnectorError
from hubbub.connectors.email import network
from hubbub.connectors.email.network import MailConnectionError, MailSecurity

TIMEOUT_SECONDS = 30.0


class SmtpError(ConnectorError):
    """The mail server did not take the message; `transient`: trying later may work.

    `smtp_code` is the server's reply code when it gave one (451, 550, …).
    `code`: "authentication_failed", "authentication_required",
    "recipients_refused", "sender_refused", "message_refused", "refused",
    "tls_unavailable", "auth_unavailable", "smtputf8_unavailable",
    "connection_lost", or one of
    MailConnectionError's.
    """

    def __init__(
        self, message: str, *, transient: bool, code: str = "", smtp_code: int | None = None
    ) -> None:
        super().__init__(message, transient=transient, code=code)
        self.smtp_code = smtp_code


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    security: MailSecurity
    username: str = ""  # Empty: send without logging in (a relay that trusts the network).
    password: str = field(default="", repr=False)  # Never in a repr: those end up in logs.
    # Hosts, addresses or ranges that may be private, on top of HUBBUB_SAFE_HTTP_ALLOW.
    allow_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefusedRecipient:
    address: str
    smtp_code: int
    reply: str


@dataclass(frozen=True, slots=True)
class SmtpResult:
    """What the server accepted. `response`: its answer to the message ("250 2.0.0 Ok: …")."""

    accepted: tuple[str, ...]
    response: str
    refused: tuple[RefusedRecipient, ...] = ()


def send_message(
    settings: SmtpSettings,
    message: email.message.EmailMessage,
    *,
    envelope_from: str,
    recipients: Sequence[str],
    timeout: float = TIMEOUT_SECONDS,
) -> SmtpResult:
    """Send `message` to `recipients` (the envelope, not the headers). Raises SmtpError.

    Some recipients refused and others accepted is a success: the result
    lists both. All of them refused raises, transient only if every refusal
    was a 4xx (greylisting, a full mailbox).
    """
    if not recipients:
        raise ValueError("A message needs at least one recipient.")
    needs_utf8 = not all(address.isascii() for address in (envelope_from, *recipients))
    policy = email.policy.SMTPUTF8 if needs_utf8 else email.policy.SMTP
    content = message.as_bytes(policy=policy)
    with _smtp_errors(settings.host), _session(settings, timeout=timeout) as session:
        options = _mail_options(session, settings, needs_utf8=needs_utf8)
        _reply_or_raise(session.mail(envelope_from, options), code="sender_refused")
        accepted, refused = _offer_recipients(session, recipients)
        code, reply = session.data(content)
        if code != 250:
            raise _reply_error(code, reply, code_name="message_refused")
        return SmtpResult(
            accepted=tuple(accepted),
            response=f"{code} {_text(reply)}",
            refused=tuple(refused),
        )


def check_login(settings: SmtpSettings, *, timeout: float = TIMEOUT_SECONDS) -> str:
    """Connect, say EHLO, start TLS and log in as configured, then hang up; send nothing.

    For the settings page's "Test connection". Returns the server's greeting
    ("220 mail.example.com ESMTP"); raises SmtpError with words for the admin.
    """
    with _smtp_errors(settings.host), _session(settings, timeout=timeout) as session:
        return session.greeting


class _CheckedSMTP(smtplib.SMTP):
    """smtplib on a socket from `connect_checked`, with TLS first if asked.

    STARTTLS needs nothing here: smtplib wraps the socket with
    `server_hostname=self._host`, which is the name the admin typed.
    """

    def __init__(self, settings: SmtpSettings, *, timeout: float) -> None:
        self._settings = settings
        self.greeting = ""
        super().__init__(timeout=timeout)  # No host: connect() is called explicitly.
        # The name STARTTLS checks the certificate against; smtplib sets it only
        # when given a host above, and connecting there would skip the guard.
        self._host = settings.host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = network.connect_checked(
            host, port, timeout=timeout, allow_hosts=self._settings.allow_hosts
        )
        if self._settings.security is MailSecurity.TLS:
            return network.wrap_tls(sock, host)
        return sock


@contextmanager
def _session(settings: SmtpSettings, *, timeout: float) -> Iterator[_CheckedSMTP]:
    """A connection past EHLO, STARTTLS and AUTH, as the settings ask; QUIT at the end."""
    session = _CheckedSMTP(settings, timeout=timeout)
    try:
        code, greeting = session.connect(settings.host, settings.port)
        session.greeting = f"{code} {_text(greeting)}"
        session.ehlo()
        if settings.security is MailSecurity.STARTTLS:
            _start_tls(session, settings)
        if settings.username:
            _log_in(session, settings)
        yield session
    finally:
        _hang_up(session)


def _start_tls(session: _CheckedSMTP, settings: SmtpSettings) -> None:
    if not session.has_extn("starttls"):
        raise SmtpError(
            f"The mail server {settings.host} does not offer STARTTLS on port {settings.port}: "
            "choose TLS (usually port 465) or ask its administrator.",
            transient=False,
            code="tls_unavailable",
        )
    session.starttls(context=network.tls_context())
    session.ehlo()


def _log_in(session: _CheckedSMTP, settings: SmtpSettings) -> None:
    if not session.has_extn("auth"):
        raise SmtpError(
            f"The mail server {settings.host} does not offer a login on port {settings.port}"
            + (" before STARTTLS" if settings.security is MailSecurity.NONE else "")
            + ": check the port and the security setting, or leave the user name empty.",
            transient=False,
            code="auth_unavailable",
        )
    try:
        session.login(settings.username, settings.password)
    except smtplib.SMTPAuthenticationError as error:
        # The server's words stay out of the message: some servers repeat what they were sent.
        transient = 400 <= error.smtp_code < 500
        raise SmtpError(
            "The mail server could not check the password just now; Hubbub will try again."
            if transient
            else "The mail server refused the user name or password.",
            transient=transient,
            code="unavailable" if transient else "authentication_failed",
            smtp_code=error.smtp_code,
        ) from error


def _mail_options(session: _CheckedSMTP, settings: SmtpSettings, *, needs_utf8: bool) -> list[str]:
    if not needs_utf8:
        return []
    if not session.has_extn("smtputf8"):
        raise SmtpError(
            f"An address has non-ASCII characters, and the mail server {settings.host} "
            "cannot take those (no SMTPUTF8).",
            transient=False,
            code="smtputf8_unavailable",
        )
    return ["SMTPUTF8", "BODY=8BITMIME"]


def _offer_recipients(
    session: _CheckedSMTP, recipients: Sequence[str]
) -> tuple[list[str], list[RefusedRecipient]]:
    """RCPT TO for each recipient; raises SmtpError when the server takes none of them."""
    accepted: list[str] = []
    refused: list[RefusedRecipient] = []
    for address in recipients:
        code, reply = session.rcpt(address)
        if code in (250, 251):
            accepted.append(address)
        else:
            refused.append(RefusedRecipient(address=address, smtp_code=code, reply=_text(reply)))
    if not accepted:
        first = refused[0]
        raise SmtpError(
            "The mail server refused every recipient: "
            + "; ".join(f"{r.address} ({r.smtp_code} {r.reply})" for r in refused),
            transient=all(400 <= r.smtp_code < 500 for r in refused),
            code="recipients_refused",
            smtp_code=first.smtp_code,
        )
    return accepted, refused


def _hang_up(session: _CheckedSMTP) -> None:
    """QUIT, ignoring any trouble: what was sent is settled by then."""
    with suppress(smtplib.SMTPException, OSError):
        session.quit()
    session.close()


def _reply_or_raise(answer: tuple[int, bytes], *, code: str) -> None:
    smtp_code, reply = answer
    if smtp_code == 530:  # RFC 4954: "Authentication required".
        raise SmtpError(
            "The mail server wants a login before it sends mail: enter the user name and password.",
            transient=False,
            code="authentication_required",
            smtp_code=smtp_code,
        )
    if not 200 <= smtp_code < 300:
        raise _reply_error(smtp_code, reply, code_name=code)


def _reply_error(smtp_code: int, reply: bytes | str, *, code_name: str) -> SmtpError:
    what = {
        "sender_refused": "refused the sender address",
        "message_refused": "refused the message",
    }.get(code_name, "refused the request")
    return SmtpError(
        f"The mail server {what}: {smtp_code} {_text(reply)}",
        transient=400 <= smtp_code < 500,
        code=code_name,
        smtp_code=smtp_code,
    )


@contextmanager
def _smtp_errors(host: str) -> Iterator[None]:
    """Turn what smtplib, ssl and sockets raise into SmtpErrors."""
    try:
        yield
    except SmtpError:
        raise
    except MailConnectionError as error:
        raise SmtpError(error.message, transient=error.transient, code=error.code) from error
    except smtplib.SMTPServerDisconnected as error:
        raise _connection_lost(host, error) from error
    except smtplib.SMTPResponseException as error:
        raise _reply_error(error.smtp_code, error.smtp_error, code_name="refused") from error
    except smtplib.SMTPException as error:
        raise SmtpError(
            f"The mail server {host} and Hubbub could not agree ({error}).",
            transient=False,
            code="protocol_error",
        ) from error
    except ssl.SSLError as error:
        failure = network.tls_failed(host, error)
        raise SmtpError(failure.message, transient=failure.transient, code=failure.code) from error
    except TimeoutError as error:
        raise SmtpError(
            f"The mail server {host} stopped answering.", transient=True, code="timed_out"
        ) from error
    except OSError as error:
        raise _connection_lost(host, error) from error


def _connection_lost(host: str, error: OSError | smtplib.SMTPException) -> SmtpError:
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return SmtpError(
        f"The connection to the mail server {host} broke ({reason}).",
        transient=True,
        code="connection_lost",
    )


def _text(reply: bytes | str) -> str:
    """A server's reply as text; it is ASCII by the standard, but is not trusted to be."""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply
