"""Live events reach browsers over server-sent events, across server processes.

These run real `hubbub serve` processes against the test database.
"""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from hubbub.accounts import services
from hubbub.accounts.models import Status, User
from hubbub.accounts.tests.factories import Cast
from hubbub.testing import RunningServer, start_server, stop_server
from tests.e2e.sse import EventStream

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user: User) -> dict[str, str]:
    client = Client()
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")
    return {"sessionid": client.cookies["sessionid"].value}


def set_status_over_api(server: RunningServer, user: User, status: str) -> None:
    _, raw = services.create_api_token(actor=user, name="test")
    response = httpx.put(
        f"{server.url}/api/v1/me/status",
        json={"status": status},
        headers={"Authorization": f"Bearer {raw}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_status_change_reaches_an_open_stream(
    live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    with EventStream(live_hubbub.url, session_cookie(cast.lee)) as stream:
        assert stream.status_code == 200
        set_status_over_api(live_hubbub, cast.cara, "away")
        event = stream.next()
    assert event.kind == "agent_status_changed"
    assert event.payload == {"user_id": cast.cara.pk, "display_name": "Cara", "status": "away"}


def test_the_stream_sends_heartbeats(live_hubbub: RunningServer, committed_cast: Cast) -> None:
    with EventStream(live_hubbub.url, session_cookie(committed_cast.cara)) as stream:
        assert stream.comments.get(timeout=10) == ": heartbeat"


def test_a_reconnecting_tab_gets_exactly_what_it_missed(
    live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    cookies = session_cookie(cast.lee)
    with EventStream(live_hubbub.url, cookies) as stream:
        services.set_status(actor=cast.cara, status=Status.ONLINE)
        seen = stream.next()
    services.set_status(actor=cast.cara, status=Status.AWAY)
    services.set_status(actor=cast.nico, status=Status.ONLINE)
    with EventStream(live_hubbub.url, cookies, last_event_id=seen.id) as resumed:
        assert resumed.status_code == 200
        missed = [resumed.next(), resumed.next()]
        assert resumed.nothing_within(1.5)
    assert [(e.payload["display_name"], e.payload["status"]) for e in missed] == [
        ("Cara", "away"),
        ("Nico", "online"),
    ]
    assert seen.id is not None
    assert missed[0].id is not None
    assert missed[0].id > seen.id


def test_streams_carry_only_what_the_person_may_see(
    live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    with (
        EventStream(live_hubbub.url, session_cookie(cast.nico)) as nights_agent,
        EventStream(live_hubbub.url, session_cookie(cast.otto)) as other_brand,
    ):
        assert (nights_agent.status_code, other_brand.status_code) == (200, 200)
        services.save_team(actor=cast.lee, team_id=cast.care.pk, name="Care (day)", kind="team")
        services.set_status(actor=cast.cara, status=Status.AWAY)  # Cara is in Care only
        services.set_status(actor=cast.lee, status=Status.AWAY)  # Lee is in Care and Nights
        first = nights_agent.next()
        assert other_brand.nothing_within(1.5)
    # Nico (Nights) hears neither of the Care team's change nor of Cara, only of Lee.
    assert (first.kind, first.payload["display_name"]) == ("agent_status_changed", "Lee")


def test_signing_out_closes_an_open_stream(
    live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    browser = Client()
    browser.force_login(committed_cast.lee, backend="hubbub.accounts.backends.AccountBackend")
    with EventStream(live_hubbub.url, {"sessionid": browser.cookies["sessionid"].value}) as stream:
        assert stream.status_code == 200
        browser.logout()  # deletes the session, as signing out in another tab does
        assert stream.closed.wait(timeout=10)


def test_deactivation_closes_an_open_stream(
    live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    with EventStream(live_hubbub.url, session_cookie(cast.nico)) as stream:
        assert stream.status_code == 200
        services.set_member_active(actor=cast.ada, member_id=cast.nico.pk, active=False)
        assert stream.closed.wait(timeout=10)


@pytest.mark.parametrize("resume", ["²", "99999999999999999999999", "-5", "abc"])
def test_a_malformed_resume_point_starts_from_now(
    live_hubbub: RunningServer, committed_cast: Cast, resume: str
) -> None:
    services.set_status(actor=committed_cast.cara, status=Status.AWAY)
    url = f"{live_hubbub.url}/events/stream?last_event_id={resume}"
    with httpx.stream(
        "GET", url, cookies=session_cookie(committed_cast.lee), timeout=5
    ) as response:
        assert response.status_code == 200
        first_lines = []
        for line in response.iter_lines():
            first_lines.append(line)
            if line.startswith(": heartbeat"):
                break
    assert not any(line.startswith("data:") for line in first_lines)


def test_the_stream_needs_a_signed_in_person(live_hubbub: RunningServer) -> None:
    with EventStream(live_hubbub.url, {}) as stream:
        assert stream.status_code == 401


@pytest.mark.redis
def test_an_event_published_by_one_server_reaches_a_browser_on_another(
    committed_cast: Cast, redis_url: str
) -> None:
    cast = committed_cast
    # A long heartbeat: only the Redis wake-up can deliver the event in time.
    shared = {"HUBBUB_REDIS_URL": redis_url, "HUBBUB_SSE_HEARTBEAT_SECONDS": "60"}
    server_a = start_server(extra_env=shared, name="redis-a")
    server_b = start_server(extra_env=shared, name="redis-b")
    try:
        with EventStream(server_b.url, session_cookie(cast.lee)) as on_b:
            assert on_b.status_code == 200
            set_status_over_api(server_a, cast.cara, "away")
            event = on_b.next(timeout=15)
        assert (event.kind, event.payload["status"]) == ("agent_status_changed", "away")
    finally:
        stop_server(server_a)
        stop_server(server_b)


def test_without_redis_another_servers_event_waits_for_the_poll(committed_cast: Cast) -> None:
    """The control for the test above: without the bus, process B does not hear of it."""
    cast = committed_cast
    alone = {"HUBBUB_REDIS_URL": "", "HUBBUB_SSE_HEARTBEAT_SECONDS": "60"}
    server_a = start_server(extra_env=alone, name="alone-a")
    server_b = start_server(extra_env=alone, name="alone-b")
    try:
        with EventStream(server_b.url, session_cookie(cast.lee)) as on_b:
            assert on_b.status_code == 200
            set_status_over_api(server_a, cast.cara, "away")
            assert on_b.nothing_within(3)
    finally:
        stop_server(server_a)
        stop_server(server_b)
