"""`hubbub bench inbox` loads a workspace into PostgreSQL and reports each action and live delivery.

The figures are checked for shape only: timings depend on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import psycopg
import pytest
from psycopg import sql

from hubbub.testing import hubbub_command, missing_component

ACTIONS = (
    "inbox",
    "inbox_lead",
    "inbox_unassigned_negative",
    "inbox_search",
    "open_conversation",
    "reply",
)
TINY = ("--mentions", "2000", "--conversations", "200", "--agents", "5", "--workers", "2")


def bench_database_url() -> str:
    """A scratch database of its own, on the PostgreSQL server the tests use."""
    configured = os.environ.get("HUBBUB_DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        server, name = configured.rsplit("/", 1)
        return f"{server}/{name}_bench_inbox"
    return "postgres://postgres@127.0.0.1:5432/hubbub_test_bench_inbox"


def bench(*args: str) -> dict[str, Any]:
    # The test process allows sync ORM calls in async code for Playwright; a server must not.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    done = subprocess.run(
        hubbub_command("bench", "inbox", *args, "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def positive_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.mark.redis
def test_the_inbox_bench_reports_each_action_and_live_delivery(redis_url: str) -> None:
    url = bench_database_url()
    server, name = url.rsplit("/", 1)
    try:
        psycopg.connect(f"{server}/postgres", connect_timeout=3).close()
    except psycopg.Error as error:
        missing_component(f"PostgreSQL at {server}: {error}")
    common = ("--database-url", url, "--redis-url", redis_url, *TINY)
    try:
        first = bench(*common, "--reload", "--requests", "5", "--sse-clients", "5")
        again = bench(*common, "--requests", "1", "--sse-clients", "2", "--sse-events", "2")
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    assert (first["mentions"], first["conversations"], first["agents"]) == (2000, 200, 5)
    assert first["reloaded"] is True
    assert positive_number(first["load_s"])
    for action in ACTIONS:
        assert first[f"{action}_requests"] == 5
        assert first[f"{action}_errors"] == 0
        for figure in ("p50_ms", "p95_ms", "p99_ms", "queries", "slowest_query_ms"):
            assert positive_number(first[f"{action}_{figure}"]), f"{action}_{figure}"
    assert first["sse_clients"] == first["sse_clients_all_received"] == 5
    assert positive_number(first["sse_events"])
    for figure in ("sse_delivery_p50_ms", "sse_delivery_p95_ms", "sse_delivery_p99_ms"):
        assert positive_number(first[figure]), figure
    assert positive_number(first["server_peak_rss_mb"])

    # A second run finds the volume in place and works on conversations not yet answered.
    assert again["reloaded"] is False
    assert again["load_s"] is None
    assert again["reply_requests"] == 1
    assert again["reply_errors"] == 0
    assert again["sse_clients_all_received"] == 2
