"""Fixtures shared by every test: components, personas, a real server.

Under CI=true a test whose component (PostgreSQL, Redis, Chromium) is
missing fails; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent
ARTIFACTS = REPO / "test-artifacts"
REDIS_URL = os.environ.get("HUBBUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = "/usr/bin/chromium"


def missing_component(reason: str) -> None:
    """Fail under CI (the component must be there), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required component missing: {reason}")
    pytest.skip(reason)


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


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        missing_component(f"Redis at {REDIS_URL}: {error}")
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_for_subprocess() -> str:
    """The URL of the test database pytest-django created, for server processes."""
    from django.db import connection

    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    port = conf.get("PORT") or 5432
    user = conf.get("USER") or "postgres"
    return f"postgres://{user}@{conf.get('HOST') or '127.0.0.1'}:{port}/{conf['NAME']}"


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(*, extra_env: dict[str, str] | None = None, name: str = "server") -> RunningServer:
    """Start a real `hubbub serve` on a free port against the test database."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"{name}-{port}.log"
    env = {**os.environ, "HUBBUB_DATABASE_URL": database_url_for_subprocess(),
           "HUBBUB_SSE_HEARTBEAT_SECONDS": "1", **(extra_env or {})}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hubbub.cli.main", "serve", "--port", str(port),
             "--no-with-worker", "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/login/", timeout=1).status_code == 200:
                return RunningServer(url, process, log)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


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
