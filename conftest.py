"""Fixtures shared by every test: components, personas, a real server.

Under CI=true a test whose component (PostgreSQL, Redis, Chromium, Dovecot)
is missing fails; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from hubbub.testing import REDIS_URL, RunningServer, missing_component, start_server, stop_server

if TYPE_CHECKING:
    from hubbub.connectors.email.imap import ImapSettings
    from hubbub.connectors.email.testing import Dovecot, SmtpSink


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback only."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])
            if not (host.startswith("127.") or host in {"::1", "localhost"}):
                raise OSError(f"network access to {host} blocked in tests")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: cached reads never leak between tests."""
    yield
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        missing_component(f"Redis at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture(scope="session")
def live_hubbub(django_db_setup: None, django_db_blocker: object) -> Iterator[RunningServer]:
    """One real server process for the session's end-to-end tests."""
    server = start_server(name="live")
    yield server
    stop_server(server)


@pytest.fixture
def cast(db: None) -> object:
    """The named personas of two workspaces (see accounts/tests/factories.py)."""
    from hubbub.accounts.tests.factories import make_cast

    return make_cast()


@pytest.fixture
def committed_cast(transactional_db: None) -> object:
    """The personas, committed, for tests that talk to a real server process."""
    from hubbub.accounts.tests.factories import make_cast

    return make_cast()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One real Dovecot (IMAP) for the session; tests make their own users in it."""
    from hubbub.connectors.email.testing import running_dovecot

    with running_dovecot() as server:
        yield server


@pytest.fixture
def mail_account(dovecot: Dovecot) -> ImapSettings:
    """A new user in the session's Dovecot with an empty INBOX: IMAP settings to read it."""
    return dovecot.add_user()


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it is sent; no login."""
    from hubbub.connectors.email.testing import SmtpSink

    with SmtpSink() as sink:
        yield sink
