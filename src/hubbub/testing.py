"""Test support, loaded by pytest before Django (`-p hubbub.testing` in pyproject.toml).

At import it sets the environment the test settings are read from: a
private data directory, so tests never touch a real installation's database
or keys. It also holds the helpers that start real server processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hubbub.cli.serve import child_command, free_port

os.environ.setdefault("HUBBUB_DATA_DIR", tempfile.mkdtemp(prefix="hubbub-test-"))
# Playwright's sync API runs an event loop in the test thread; the ORM calls
# the tests make between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
REDIS_URL = os.environ.get("HUBBUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = "/usr/bin/chromium"


def missing_component(reason: str) -> None:
    """Fail under CI (the component must be there), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required component missing: {reason}")
    pytest.skip(reason)


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
    env = child_env({"HUBBUB_SSE_HEARTBEAT_SECONDS": "1", **(extra_env or {})})
    with log.open("wb") as out:
        process = subprocess.Popen(
            child_command(port=port),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
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


def child_env(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child `hubbub` process that uses the test database."""
    env = {**os.environ, "HUBBUB_DATABASE_URL": database_url_for_subprocess(), **(extra_env or {})}
    # The test process needs this for Playwright; a real server must not run with it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def hubbub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hubbub.cli.main", *args]


def run_hubbub(
    *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a `hubbub` command to its end in a child process against the test database."""
    return subprocess.run(
        hubbub_command(*args),
        env=child_env(extra_env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start_hubbub(*args: str) -> subprocess.Popen[bytes]:
    """Start a long-running `hubbub` command (such as `listen`) against the test database."""
    return subprocess.Popen(
        hubbub_command(*args), env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _retry_flush_after_deadlock() -> None:
    """Let a test's closing flush survive a deadlock with a live server process.

    Tests against a real server end by emptying every table (TRUNCATE). The
    server may still be finishing a request or a timer's transaction, and
    PostgreSQL then breaks the deadlock by failing one side, sometimes the
    flush. The next test would start with the last one's rows, so the flush is
    tried again: the server's transaction has ended by then.
    """
    from django.core.management.base import CommandError
    from django.db.utils import OperationalError
    from django.test import TransactionTestCase

    flush = getattr(TransactionTestCase, "_fixture_teardown")  # noqa: B009 (not in the stubs)

    def flush_again_after_deadlock(self: TransactionTestCase) -> None:
        for attempt in range(1, 4):
            try:
                flush(self)
                return
            except CommandError as error:
                if attempt == 3 or not isinstance(error.__cause__, OperationalError):
                    raise
                time.sleep(0.5 * attempt)

    setattr(TransactionTestCase, "_fixture_teardown", flush_again_after_deadlock)  # noqa: B010


def pytest_configure(config: pytest.Config) -> None:
    _retry_flush_after_deadlock()
