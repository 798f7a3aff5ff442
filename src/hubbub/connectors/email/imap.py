"""Reading a mailbox over IMAP: new mail by UID, and a wait for more (IDLE).

The caller (the email channel's sync loop) keeps a cursor of
`(uidvalidity, last_uid)` per mailbox and, in a loop, calls
`fetch_new(last_uid)`, stores what came, moves the cursor, and calls
`wait_for_new`. This module holds no state between sessions and writes
nothing: it reports UIDVALIDITY, and a change of it is the caller's business.

Guarantees:
- Mail is only read, never marked: the folder is opened read-only (EXAMINE)
  and bodies are fetched with BODY.PEEK[], so a person reading the same
  mailbox in their mail app still sees it as unread.
- `fetch_new` never returns a UID at or below the cursor (`n:*` always
  matches the highest message, even below n), returns UIDs in ascending
  order, and never skips a message silently: one too large to read comes back
  marked `too_large` so the cursor can pass it and the channel can say so.
- The socket comes from `network.connect_checked` (SSRF guard, pinned
  address) and TLS is checked against the host name the admin typed.
- Errors are `ImapError`s that say whether trying again later can help, in
  words for the settings page; none of them contains the password.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import selectors
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]

from hubbub.connectors.base import ConnectorError
from hubbub.connectors.email import network
from hubbub.connectors.email.network import MailConnectionError, MailSecurity

TIMEOUT_SECONDS = 30.0
MAX_MESSAGE_BYTES = 30 * 1024 * 1024
# RFC 2177: a server may drop an IDLE after 30 minutes, so clients restart it
# before 29; 25 leaves room for a slow network.
IDLE_RESTART_SECONDS = 25 * 60.0
# Response codes (RFC 5530) that mean "not now" rather than "not ever".
_TRANSIENT_CODES = ("[UNAVAILABLE]", "[INUSE]", "[SERVERBUG]", "[LIMIT]")
# An IDLE that keeps waking with nothing to read has lost its connection.
_EMPTY_WAKES_BEFORE_GIVING_UP = 3


class ImapError(ConnectorError):
    """The mail server did not do what was asked; `transient`: trying later may work.

    `code`: "authentication_failed", "no_such_folder", "tls_unavailable",
    "protocol_error", "connection_lost", or one of MailConnectionError's.
    """


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int
    security: MailSecurity
    username: str
    password: str = field(repr=False)  # Never in a repr: those end up in logs and tracebacks.
    folder: str = "INBOX"
    # Hosts, addresses or ranges that may be private, on top of HUBBUB_SAFE_HTTP_ALLOW.
    allow_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """The selected folder as the server described it when it was opened."""

    uidvalidity: int
    uidnext: int
    exists: int


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One message, exactly as stored (`raw`), or marked `too_large` with `raw` empty."""

    uid: int
    raw: bytes
    internaldate: dt.datetime | None
    size: int
    too_large: bool = False


class ImapMailbox:
    """A logged-in IMAP session with one folder open. Use it from one thread at a time.

    A context manager; `close` logs out. After an ImapError the session may be
    broken: close it and open a new one.
    """

    def __init__(self, client: _CheckedIMAPClient, settings: ImapSettings) -> None:
        self._client = client
        self._settings = settings
        self._status = _select(client, settings.folder)

    @property
    def status(self) -> MailboxStatus:
        return self._status

    def fetch_new(
        self,
        after_uid: int,
        *,
        limit: int = 100,
        max_bytes: int = MAX_MESSAGE_BYTES,
        max_total_bytes: int | None = None,
    ) -> list[FetchedMail]:
        """The messages with a UID above `after_uid`, ascending, at most `limit` of them.

        A message larger than `max_bytes` (as the server declares it, or as
        it arrives) comes back with `too_large` set and no bytes. A message
        deleted while this runs is left out: it is gone. `max_total_bytes`
        stops the list early once the messages' declared sizes reach it (one
        message at least), so memory stays bounded whatever waits.
        """
        if after_uid < 0 or limit < 1:
            raise ValueError("after_uid must be at least 0 and limit at least 1")
        with self._errors():
            # A server answers SEARCH from its view of the folder as of the last
            # sync; NOOP makes it look again, so mail that arrived since counts.
            self._client.noop()
            found = self._client.search(["UID", f"{after_uid + 1}:*"])
            uids = sorted(uid for uid in found if uid > after_uid)[:limit]
            if not uids:
                return []
            described = self._client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
            if max_total_bytes is not None:
                uids = _within(uids, described, max_total_bytes=max_total_bytes)
            return self._read(uids, described, max_bytes=max_bytes)

    def wait_for_new(self, timeout: float) -> bool:
        """Wait until the server announces new mail, or `timeout` seconds (at most 25 minutes).

        True when something arrived. Fetch after every return, True or
        False: mail can arrive just before the wait begins, and a server
        without IDLE is only asked at the end of the wait.
        """
        timeout = min(max(timeout, 0.0), IDLE_RESTART_SECONDS)
        with self._errors():
            if self._client.has_capability("IDLE"):
                return self._idle(timeout)
            return self._poll(timeout)

    def close(self) -> None:
        """Log out, or just drop the connection if the server is not listening any more."""
        _close(self._client)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _read(
        self, uids: list[int], described: dict[int, dict[bytes, Any]], *, max_bytes: int
    ) -> list[FetchedMail]:
        """Fetch the bodies of `uids` in batches of about `max_bytes`, and mark the rest."""
        sizes = {uid: _size(described[uid]) for uid in uids if uid in described}
        fits = [uid for uid, size in sizes.items() if size <= max_bytes]
        bodies: dict[int, bytes] = {}
        for batch in _batches(fits, sizes, max_bytes=max_bytes):
            for uid, data in self._client.fetch(batch, ["BODY.PEEK[]"]).items():
                raw = data.get(b"BODY[]")
                # NIL, or something else odd: kept as an empty message so the
                # channel records it rather than losing it.
                bodies[uid] = raw if isinstance(raw, bytes) else b""
        mails = []
        for uid, size in sizes.items():
            raw = bodies.get(uid)
            if size <= max_bytes and raw is None:
                continue  # Deleted between the two fetches.
            too_large = raw is None or len(raw) > max_bytes
            mails.append(
                FetchedMail(
                    uid=uid,
                    raw=b"" if too_large or raw is None else raw,
                    internaldate=_internaldate(described[uid]),
                    size=size if size >= 0 else len(raw or b""),
                    too_large=too_large,
                )
            )
        return mails

    def _idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        self._client.idle()
        arrived = self._idle_until(deadline)
        _, trailing = self._client.idle_done()
        return arrived or _announces_new(trailing)

    def _idle_until(self, deadline: float) -> bool:
        empty_wakes = 0
        while (remaining := deadline - time.monotonic()) > 0:
            responses = self._client.idle_check(timeout=remaining)
            if _announces_new(responses):
                return True
            if any(_is_goodbye(response) for response in responses):
                raise _connection_lost("The mail server ended the session.")
            empty_wakes = 0 if responses else empty_wakes + 1
            if empty_wakes >= _EMPTY_WAKES_BEFORE_GIVING_UP and deadline > time.monotonic():
                raise _connection_lost("The mail server closed the connection.")
        return False

    def _poll(self, timeout: float) -> bool:
        """Without IDLE: ask, wait on the socket (it wakes if the server speaks), ask again."""
        _, responses = self._client.noop()
        if _announces_new(responses):
            return True
        with selectors.DefaultSelector() as selector:
            selector.register(self._client.socket(), selectors.EVENT_READ)
            selector.select(timeout)
        _, responses = self._client.noop()
        return _announces_new(responses)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with _imap_errors(self._settings.host):
            yield


def open_mailbox(settings: ImapSettings, *, timeout: float = TIMEOUT_SECONDS) -> ImapMailbox:
    """Connect, log in and open `settings.folder` read-only. Raises ImapError.

    `timeout` bounds the connection and each wait for the server's answer.
    """
    with _imap_errors(settings.host):
        client = _CheckedIMAPClient(settings, timeout=timeout)
    try:
        with _imap_errors(settings.host):
            _log_in(client, settings)
            return ImapMailbox(client, settings)
    except BaseException:
        _close(client)
        raise


def check_login(settings: ImapSettings, *, timeout: float = TIMEOUT_SECONDS) -> MailboxStatus:
    """Connect, log in and open the folder, for the settings page's "Test connection".

    Returns what the folder holds; raises ImapError with words for the admin.
    """
    with open_mailbox(settings, timeout=timeout) as mailbox:
        return mailbox.status


@contextmanager
def _imap_errors(host: str) -> Iterator[None]:
    """Turn what IMAPClient, imaplib, ssl and sockets raise into ImapErrors."""
    try:
        yield
    except ImapError:
        raise
    except MailConnectionError as error:
        raise ImapError(error.message, transient=error.transient, code=error.code) from error
    except LoginError as error:
        raise _login_refused(str(error)) from error
    except imaplib.IMAP4.abort as error:
        raise _connection_lost(
            f"The connection to the mail server {host} broke ({error})."
        ) from error
    except imaplib.IMAP4.error as error:
        raise _refused(host, str(error)) from error
    except ssl.SSLError as error:
        failure = network.tls_failed(host, error)
        raise ImapError(failure.message, transient=failure.transient, code=failure.code) from error
    except TimeoutError as error:
        raise ImapError(
            f"The mail server {host} stopped answering.", transient=True, code="timed_out"
        ) from error
    except OSError as error:
        raise _connection_lost(
            f"The connection to the mail server {host} broke ({error.strerror or error})."
        ) from error
    except ValueError as error:  # IMAPClient's parser, on an answer that is not IMAP.
        raise ImapError(
            f"The mail server {host} sent an answer Hubbub could not read ({error}).",
            transient=False,
            code="protocol_error",
        ) from error


class _CheckedIMAP4(imaplib.IMAP4):
    """imaplib's protocol on a socket from `connect_checked`, with TLS first if asked.

    STARTTLS needs nothing here: imaplib wraps the socket with
    `server_hostname=self.host`, which is the name the admin typed.
    """

    def __init__(self, settings: ImapSettings, *, timeout: float | None) -> None:
        self._settings = settings
        super().__init__(settings.host, settings.port, timeout=timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = network.connect_checked(
            self.host,
            self.port,
            timeout=TIMEOUT_SECONDS if timeout is None else timeout,
            allow_hosts=self._settings.allow_hosts,
        )
        if self._settings.security is MailSecurity.TLS:
            return network.wrap_tls(sock, self.host)
        return sock


class _CheckedIMAPClient(IMAPClient):  # type: ignore[misc]  # IMAPClient has no type hints.
    """IMAPClient with the guarded socket: it makes its imaplib object in `_create_IMAP4`."""

    def __init__(self, settings: ImapSettings, *, timeout: float) -> None:
        self._settings = settings  # Read by _create_IMAP4, which the parent's __init__ calls.
        super().__init__(
            settings.host,
            settings.port,
            ssl=settings.security is MailSecurity.TLS,
            timeout=timeout,
        )
        # Dates as the server sent them (with their offset), not converted to local time.
        self.normalise_times = False

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 (IMAPClient's name)
        return _CheckedIMAP4(self._settings, timeout=self._timeout.connect)


def _close(client: _CheckedIMAPClient) -> None:
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError):
        # The server is not listening any more; closing our end is all that is left.
        with suppress(OSError):
            client.shutdown()


def _log_in(client: _CheckedIMAPClient, settings: ImapSettings) -> None:
    if settings.security is MailSecurity.STARTTLS:
        if not client.has_capability("STARTTLS"):
            raise ImapError(
                f"The mail server {settings.host} does not offer STARTTLS on port "
                f"{settings.port}: choose TLS (usually port 993) or ask its administrator.",
                transient=False,
                code="tls_unavailable",
            )
        client.starttls(network.tls_context())
    if client.has_capability("LOGINDISABLED"):
        raise ImapError(
            f"The mail server {settings.host} does not accept a password without encryption: "
            "choose TLS or STARTTLS.",
            transient=False,
            code="tls_unavailable",
        )
    client.login(settings.username, settings.password)


def _select(client: _CheckedIMAPClient, folder: str) -> MailboxStatus:
    try:
        selected = client.select_folder(folder, readonly=True)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as error:
        if any(code in str(error) for code in _TRANSIENT_CODES):
            raise
        raise ImapError(
            f"The mail server has no folder {folder!r} for this account (it said: {error}).",
            transient=False,
            code="no_such_folder",
        ) from error
    uidvalidity = _number(selected.get(b"UIDVALIDITY"))
    if uidvalidity is None:
        raise ImapError(
            f"The mail server did not give the UIDVALIDITY of {folder!r}; "
            "Hubbub cannot keep its place in the folder without it.",
            transient=False,
            code="protocol_error",
        )
    uidnext = _number(selected.get(b"UIDNEXT"))
    if uidnext is None:  # Optional before IMAP4rev2; STATUS knows it.
        status = client.folder_status(folder, [b"UIDNEXT"])
        uidnext = _number(status.get(b"UIDNEXT")) or 0
    return MailboxStatus(
        uidvalidity=uidvalidity, uidnext=uidnext, exists=_number(selected.get(b"EXISTS")) or 0
    )


def _within(
    uids: list[int], described: dict[int, dict[bytes, Any]], *, max_total_bytes: int
) -> list[int]:
    """The first `uids` whose declared sizes add up to `max_total_bytes` (one at least)."""
    kept: list[int] = []
    total = 0
    for uid in uids:
        size = max(_size(described.get(uid, {})), 0)
        if kept and total + size > max_total_bytes:
            break
        kept.append(uid)
        total += size
    return kept


def _batches(uids: list[int], sizes: dict[int, int], *, max_bytes: int) -> Iterator[list[int]]:
    """`uids` in order, grouped so that each group's declared size stays within `max_bytes`."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = max(sizes[uid], 0)
        if batch and total + size > max_bytes:
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _size(data: dict[bytes, Any]) -> int:
    """RFC822.SIZE, or -1 when the server left it out (the body's length decides then)."""
    size = _number(data.get(b"RFC822.SIZE"))
    return -1 if size is None else size


def _internaldate(data: dict[bytes, Any]) -> dt.datetime | None:
    """When the server received the message, in UTC (None if it did not say, or said nonsense)."""
    value = data.get(b"INTERNALDATE")
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        return None
    return value.astimezone(dt.UTC)


def _number(value: object) -> int | None:
    """A count or UID from a server's answer; None for anything that is not one."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _announces_new(responses: Sequence[Any]) -> bool:
    """Whether untagged responses include `* n EXISTS` or `* n RECENT`."""
    return any(
        isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
        for response in responses
    )


def _is_goodbye(response: object) -> bool:
    return isinstance(response, tuple) and bool(response) and response[0] == b"BYE"


def _login_refused(answer: str) -> ImapError:
    # The server's words stay out of the message: they are not for the admin,
    # and some servers repeat what they were sent.
    if any(code in answer for code in _TRANSIENT_CODES):
        return ImapError(
            "The mail server could not check the password just now; Hubbub will try again.",
            transient=True,
            code="unavailable",
        )
    return ImapError(
        "The mail server refused the user name or password.",
        transient=False,
        code="authentication_failed",
    )


def _refused(host: str, answer: str) -> ImapError:
    transient = any(code in answer for code in _TRANSIENT_CODES)
    return ImapError(
        f"The mail server {host} refused a request ({answer}).",
        transient=transient,
        code="unavailable" if transient else "protocol_error",
    )


def _connection_lost(message: str) -> ImapError:
    return ImapError(message, transient=True, code="connection_lost")
