"""Real mail servers for tests: a throwaway Dovecot (IMAP) and an aiosmtpd sink (SMTP).

The email channel is tested against the servers it will meet, not against
fakes of them. `start_dovecot` runs Debian's Dovecot 2.3 from a temporary
directory on free loopback ports (IMAP with STARTTLS, and IMAPS), with users
in a passwd-file that it reads at each login, so tests add users while it
runs. `SmtpSink` is aiosmtpd on a free loopback port that keeps what it is
sent, and can ask for a login, speak TLS, refuse recipients or answer the
first messages with an error. `Dovecot.deliver` puts what the sink received
into the recipients' mailboxes, for "sent over SMTP, read back over IMAP".

Both certificates are made here for "localhost"; a test trusts them by
replacing `network.tls_context` (see `trusting`).

The root conftest.py offers them as fixtures: `dovecot` (one per session),
`mail_account` (a fresh user in it) and `smtp_server`.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from imapclient import IMAPClient  # type: ignore[import-untyped]

from hubbub.cli.serve import free_port
from hubbub.connectors.email import network
from hubbub.connectors.email.imap import ImapSettings
from hubbub.connectors.email.network import MailSecurity
from hubbub.testing import missing_component

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
MAIL_USER = "vmail"  # Dovecot refuses to touch mail as root.
LOOPBACK = "127.0.0.1"
START_SECONDS = 10.0
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


@dataclass(frozen=True, slots=True)
class SelfSignedCertificate:
    """A certificate for `name` that signs itself, and its key, both PEM."""

    name: str
    certificate_pem: bytes
    key_pem: bytes = field(repr=False)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """The certificate and key as files in `directory` (readable by root only)."""
        certificate, key = directory / f"{self.name}.crt", directory / f"{self.name}.key"
        certificate.write_bytes(self.certificate_pem)
        key.touch(mode=0o600)
        key.write_bytes(self.key_pem)
        return certificate, key

    def server_context(self, directory: Path) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.write(directory))
        return context

    def client_context(self) -> ssl.SSLContext:
        """A context that trusts this certificate, and nothing else."""
        return ssl.create_default_context(cadata=self.certificate_pem.decode("ascii"))


def make_certificate(name: str = "localhost") -> SelfSignedCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SelfSignedCertificate(
        name=name,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def trusting(monkeypatch: pytest.MonkeyPatch, certificate: SelfSignedCertificate) -> None:
    """Make mail connections trust `certificate` instead of the public authorities."""
    monkeypatch.setattr(network, "tls_context", certificate.client_context)


# --- SMTP -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One message as the SMTP sink received it: the envelope and the exact bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None  # The user name it logged in with, if it did.


class SmtpSink:
    """aiosmtpd on a free loopback port that keeps every message it accepts.

    - `credentials`: require AUTH (PLAIN/LOGIN) with this user name and password;
    - `certificate`: offer STARTTLS with it, or with `implicit_tls` speak TLS
      from the first byte (SMTPS);
    - `refuse_recipients`: answer RCPT TO for these addresses with 550;
    - `replies`: answer the first messages with these replies instead of
      accepting them ("451 4.3.0 Try again later", "550 5.7.1 Rejected").
    """

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        certificate: SelfSignedCertificate | None = None,
        implicit_tls: bool = False,
        refuse_recipients: Collection[str] = (),
        replies: Sequence[str] = (),
    ) -> None:
        from aiosmtpd.controller import Controller

        self._credentials = credentials
        self._refused = frozenset(refuse_recipients)
        self._replies = list(replies)
        self._received: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._directory = Path(tempfile.mkdtemp(prefix="hubbub-smtp-"))
        context = certificate.server_context(self._directory) if certificate else None
        self.port = free_port()
        self.host = LOOPBACK
        self._controller = Controller(
            _SinkHandler(self),
            hostname=LOOPBACK,
            port=self.port,
            server_hostname="sink.hubbub.test",
            ssl_context=context if implicit_tls else None,
            tls_context=None if implicit_tls else context,
            authenticator=self._authenticate if credentials else None,
            # The login is required by the handler (at MAIL FROM), not by
            # aiosmtpd, which would warn on every connection that it is
            # allowed without TLS: these tests log in both ways.
            auth_require_tls=False,
            enable_SMTPUTF8=True,
        )
        self._controller.start()

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    def stop(self) -> None:
        self._controller.stop()
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert self._credentials is not None
        user, password = self._credentials
        if isinstance(auth_data, LoginPassword) and auth_data == (user.encode(), password.encode()):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    def _refuses(self, address: str) -> bool:
        return address in self._refused

    def _requires_login(self) -> bool:
        return self._credentials is not None

    def _reply_for_next(self, mail: ReceivedMail) -> str:
        """The reply a message gets: a scripted error while there are any, else accepted."""
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
            self._received.append(mail)
            return f"250 2.0.0 Ok: queued as {len(self._received)}"


class _SinkHandler:
    """aiosmtpd's handler protocol: coroutines named for the SMTP commands."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's name)
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self._sink._requires_login() and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self._sink._refuses(address):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=bytes(envelope.original_content or envelope.content),
            login=session.auth_data if session.authenticated else None,
        )
        return self._sink._reply_for_next(mail)


# --- IMAP -------------------------------------------------------------------


@dataclass
class Dovecot:
    """A running throwaway Dovecot. `imap_port` offers STARTTLS; `imaps_port` is TLS."""

    root: Path
    imap_port: int
    imaps_port: int
    certificate: SelfSignedCertificate
    process: subprocess.Popen[bytes]
    passwords: dict[str, str] = field(default_factory=dict)
    host: str = LOOPBACK

    def add_user(
        self, address: str | None = None, password: str | None = None, *, idle: bool = True
    ) -> ImapSettings:
        """A new user with an empty INBOX; settings for a plain-text login on loopback.

        Without an address or password, a new unique one is made up.

        `idle=False` hides IDLE from this user's session (for the polling fallback).
        Each user has a passwd-file of their own, which Dovecot reads at the
        first login: no reload is needed. (One shared file would not do: Dovecot
        looks at a file again at most once a second, so a user added just after
        another one's login would not be found.)
        """
        address = address or f"agent-{uuid.uuid4().hex[:10]}@hubbub.test"
        password = password or secrets.token_urlsafe(12)
        if any(c in address + password for c in ":\n\r") or any(c in address for c in " /"):
            raise ValueError("No ':' or line breaks, nor ' ' or '/' in addresses: passwd-file.")
        # One word only: passwd-file separates extra fields with spaces.
        extra = "" if idle else "::::::userdb_imap_capability=IMAP4rev1"
        if address in self.passwords:
            raise ValueError(f"{address} is a user already.")
        users = self.root / "users" / address
        users.write_text(f"{address}:{{PLAIN}}{password}{extra}\n")
        users.chmod(0o644)
        self.passwords[address] = password
        return self.settings_for(address)

    def settings_for(
        self, address: str, *, security: MailSecurity = MailSecurity.NONE, folder: str = "INBOX"
    ) -> ImapSettings:
        """Settings for `address`; TLS and STARTTLS use "localhost", the certificate's name."""
        secure = security is not MailSecurity.NONE
        host = "localhost" if secure else self.host
        return ImapSettings(
            host=host,
            port=self.imaps_port if security is MailSecurity.TLS else self.imap_port,
            security=security,
            username=address,
            password=self.passwords[address],
            folder=folder,
            allow_hosts=(host,),
        )

    def append(self, account: ImapSettings | str, raw: bytes, folder: str | None = None) -> int:
        """Store `raw` in the account's folder (created if need be), as its mail app would.

        Returns the new message's UID.
        """
        address = account if isinstance(account, str) else account.username
        target = folder or ("INBOX" if isinstance(account, str) else account.folder)
        with self._client(address) as client:
            if not client.folder_exists(target):
                client.create_folder(target)
            answer = client.append(target, raw)
        found = _APPENDUID.search(answer)
        if found is None:
            raise RuntimeError(f"Dovecot did not say which UID it gave the message: {answer!r}")
        return int(found.group(1))

    def flags(self, account: ImapSettings, uid: int) -> set[bytes]:
        """The flags of a message in the account's folder (b"\\Seen", …), looked at read-only."""
        with self._client(account.username) as client:
            client.select_folder(account.folder, readonly=True)
            return set(client.get_flags([uid]).get(uid, ()))

    def deliver(self, mail: ReceivedMail) -> list[str]:
        """Put a message the SMTP sink received into each recipient's INBOX that exists here."""
        delivered = [address for address in mail.rcpt_tos if address in self.passwords]
        for address in delivered:
            self.append(address, mail.content)
        return delivered

    def kick(self, address: str) -> None:
        """End every session of `address`, as a server going down for maintenance does."""
        subprocess.run(
            [str(DOVEADM), "-c", str(self.root / "dovecot.conf"), "kick", address],
            check=True,
            capture_output=True,
            timeout=10,
        )

    @contextmanager
    def _client(self, address: str) -> Iterator[Any]:
        """IMAPClient logged in as `address`: the test's side, not the code under test."""
        with IMAPClient(self.host, self.imap_port, ssl=False, timeout=10) as client:
            client.login(address, self.passwords[address])
            yield client

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot() -> Dovecot:
    """Start Dovecot from a new temporary directory and wait until it answers.

    Skips (fails under CI) when Dovecot or the vmail user is missing, or when
    not running as root. Raises RuntimeError with Dovecot's log if it does
    not start within 10 seconds.
    """
    mail_user = _mail_user()
    root = Path(tempfile.mkdtemp(prefix="hubbub-dovecot-"))
    root.chmod(0o755)  # Dovecot's processes run as other users and must reach the mail.
    for name in ("run", "state", "mail", "tls"):
        (root / name).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    (root / "tls").chmod(0o700)
    (root / "users").mkdir(mode=0o755)
    certificate = make_certificate("localhost")
    certificate_file, key_file = certificate.write(root / "tls")
    imap_port, imaps_port = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(
        _CONFIG.format(
            root=root,
            imap_port=imap_port,
            imaps_port=imaps_port,
            certificate=certificate_file,
            key=key_file,
            user=MAIL_USER,
        )
    )
    log = root / "dovecot.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    dovecot = Dovecot(
        root=root,
        imap_port=imap_port,
        imaps_port=imaps_port,
        certificate=certificate,
        process=process,
    )
    try:
        _wait_for(process, log, [imap_port, imaps_port])
    except BaseException:
        dovecot.stop()
        raise
    return dovecot


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    dovecot = start_dovecot()
    try:
        yield dovecot
    finally:
        dovecot.stop()


def _mail_user() -> pwd.struct_passwd:
    if not DOVECOT.exists():
        missing_component(
            "Dovecot (dovecot-imapd) is not installed: run scripts/install-test-deps.sh"
        )
    if os.geteuid() != 0:
        missing_component("Dovecot for the email tests starts as root (it switches to vmail)")
    try:
        return pwd.getpwnam(MAIL_USER)
    except KeyError:
        missing_component(f"the user {MAIL_USER} is missing: run scripts/install-test-deps.sh")
        raise


def _wait_for(process: subprocess.Popen[bytes], log: Path, ports: list[int]) -> None:
    deadline = time.monotonic() + START_SECONDS
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            raise RuntimeError(f"Dovecot exited at start:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"Dovecot did not listen within {START_SECONDS:g} s:\n{log.read_text()[-3000:]}"
            )
        try:
            socket.create_connection((LOOPBACK, waiting[0]), timeout=0.5).close()
        except OSError:
            time.sleep(0.05)
        else:
            waiting.pop(0)


# Dovecot 2.3 syntax (Debian 12). Plain-text logins are allowed without TLS:
# the tests log in both ways. No delay after a wrong password: tests try one.
_CONFIG = """\
instance_name = hubbub-test-{imap_port}
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = /dev/stderr
ssl = yes
ssl_cert = <{certificate}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
# Nor on the next login: Dovecot makes an address that failed wait (the
# "auth penalty") unless it cannot reach this socket.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
