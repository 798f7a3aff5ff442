"""The connectors' one HTTP call: errors that say whether to try again, and rate budgets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.test import override_settings

from hubbub.connectors import http
from hubbub.connectors.base import AuthenticationFailed, ConnectorError, RateBudget
from hubbub.connectors.tests.scripted import Reply, Scripted, scripted_server
from hubbub.core import safe_http

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def server() -> Iterator[Scripted]:
    with scripted_server() as script, override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.0/8"]):
        yield script


def test_a_good_answer_comes_back_with_its_body(server: Scripted) -> None:
    server.then(Reply(200, b'{"posts": []}'))
    response = http.call(
        "GET", http.url_with(server.url, "/x", {"q": "a b", "n": None}), platform="P"
    )
    assert http.json_of(response, platform="P") == {"posts": []}
    assert server.seen[0][1] == "/x?q=a+b"


def test_429_is_transient_and_waits_for_retry_after(server: Scripted) -> None:
    server.then(Reply(429, b'{"error":"RateLimitExceeded"}', {"Retry-After": "42"}))
    with pytest.raises(ConnectorError) as raised:
        http.call("GET", server.url + "/x", platform="Bluesky")
    assert raised.value.transient
    assert raised.value.retry_after_seconds == 42
    assert raised.value.code == "rate_limited"


def test_429_without_retry_after_waits_for_the_rate_limit_reset(server: Scripted) -> None:
    reset = int(dt.datetime.now(dt.UTC).timestamp()) + 120
    server.then(Reply(429, b"{}", {"RateLimit-Reset": str(reset), "RateLimit-Remaining": "0"}))
    with pytest.raises(ConnectorError) as raised:
        http.call("GET", server.url + "/x", platform="Bluesky")
    assert raised.value.retry_after_seconds is not None
    assert 100 < raised.value.retry_after_seconds <= 120


def test_refused_credentials_need_a_person(server: Scripted) -> None:
    server.then(Reply(401, b'{"error":"AuthenticationRequired","message":"Invalid token"}'))
    with pytest.raises(AuthenticationFailed) as raised:
        http.call("GET", server.url + "/x", platform="Bluesky")
    assert not raised.value.transient
    assert "Invalid token" in raised.value.message


def test_server_errors_are_transient_and_client_errors_are_not(server: Scripted) -> None:
    server.then(Reply(502, b"bad gateway")).then(Reply(400, b'{"message":"Bad query"}'))
    with pytest.raises(ConnectorError) as first:
        http.call("GET", server.url + "/x", platform="P")
    with pytest.raises(ConnectorError) as second:
        http.call("GET", server.url + "/x", platform="P")
    assert first.value.transient
    assert not second.value.transient
    assert "Bad query" in second.value.message


def test_a_body_that_is_not_json_is_a_transient_fault(server: Scripted) -> None:
    server.then(Reply(200, b"<html>maintenance</html>"))
    response = http.call("GET", server.url + "/x", platform="P")
    with pytest.raises(ConnectorError) as raised:
        http.json_of(response, platform="P")
    assert raised.value.transient
    assert raised.value.code == "malformed"


def test_an_address_that_is_not_allowed_is_a_permanent_error() -> None:
    with scripted_server() as script, pytest.raises(ConnectorError) as raised:
        http.call("GET", script.url + "/x", platform="P")
    assert not raised.value.transient
    assert raised.value.code == "unsafe_url"
    assert script.seen == []


def budget(headers: dict[str, str]) -> RateBudget:
    import httpx

    return http.budget_of(safe_http.SafeResponse(200, httpx.Headers(headers), b"", "http://x"))


def test_budgets_read_the_headers_of_each_platform() -> None:
    bluesky = budget(
        {"RateLimit-Limit": "3000", "RateLimit-Remaining": "2990", "RateLimit-Reset": "1795000000"}
    )
    assert (bluesky.remaining, bluesky.limit) == (2990, 3000)
    assert bluesky.reset_at == dt.datetime.fromtimestamp(1795000000, tz=dt.UTC)
    mastodon = budget(
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": "2026-11-24T10:05:00.000Z",
        }
    )
    assert mastodon.reset_at == dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC)
    reddit = budget(
        {"X-Ratelimit-Used": "4", "X-Ratelimit-Remaining": "96.0", "X-Ratelimit-Reset": "300"}
    )
    assert (reddit.remaining, reddit.limit) == (96, 100)
    assert reddit.reset_at is not None


def test_a_budget_is_spread_over_the_time_to_its_reset() -> None:
    half_empty = RateBudget(remaining=10, limit=100, reset_at=NOW + dt.timedelta(seconds=100))
    assert half_empty.spread_seconds(NOW) == 10
    spent = RateBudget(remaining=0, limit=100, reset_at=NOW + dt.timedelta(seconds=30))
    assert spent.spread_seconds(NOW) == 30
    assert RateBudget().spread_seconds(NOW) == 0


def test_backoff_doubles_with_jitter_and_respects_the_platform() -> None:
    assert 4 <= http.backoff_seconds(1) <= 6
    assert 16 <= http.backoff_seconds(3) <= 24
    assert http.backoff_seconds(30) <= 15 * 60 * 1.2
    assert http.backoff_seconds(1, retry_after_seconds=90) == 90


def test_a_stream_arrives_line_by_line(server: Scripted) -> None:
    server.then(
        Reply(
            200,
            headers={"Content-Type": "text/event-stream"},
            chunks=[b":thump\n\n", b'event: update\ndata: {"id": 1}\n\n'],
        )
    )
    with safe_http.stream("GET", server.url + "/stream", read_timeout=5) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines == [":thump", "event: update", 'data: {"id": 1}']


def test_a_websocket_connection_is_checked_like_any_fetch(server: Scripted) -> None:
    port = server.url.rsplit(":", 1)[1]
    connection, host = safe_http.open_connection(f"ws://127.0.0.1:{port}/subscribe")
    connection.close()
    assert host == "127.0.0.1"
    with override_settings(HUBBUB_SAFE_HTTP_ALLOW=[]), pytest.raises(safe_http.BlockedAddress):
        safe_http.open_connection(f"wss://127.0.0.1:{port}/subscribe")


def test_only_web_ports_unless_allowed(server: Scripted) -> None:
    with pytest.raises(safe_http.UnsafeUrl, match="ports 80 and 443"):
        safe_http.check_url("https://93.184.215.14:8443/feed")
