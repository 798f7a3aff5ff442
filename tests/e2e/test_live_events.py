"""Live events reach browsers over server-sent events, across server processes.

These run real `hubbub serve` processes against the test database.
"""

from __future__ import annotations

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
    import httpx

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
        services.save_team(actor=cast.lee, team_id=cast.care.pk, name="Care (day)", kind="team")
        services.set_status(actor=cast.cara, status=Status.AWAY)
        first = nights_agent.next()
        assert other_brand.nothing_within(1.5)
    # The Care team's change is not for a Nights agent; the workspace-wide status change is.
    assert first.kind == "agent_status_changed"


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
            set_status_over_api(server_a, cast.cara, "away")
            assert on_b.nothing_within(3)
    finally:
        stop_server(server_a)
        stop_server(server_b)
