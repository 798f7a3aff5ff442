"""A real server refuses an oversized upload before reading it, and keeps working."""

from __future__ import annotations

import httpx
import pytest

from hubbub.testing import RunningServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_oversized_body_gets_413_and_the_server_carries_on(live_hubbub: RunningServer) -> None:
    eleven_megabytes = b"\0" * (11 * 1024 * 1024)
    response = httpx.post(live_hubbub.url + "/login/", content=eleven_megabytes, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert httpx.get(live_hubbub.url + "/login/", timeout=10).status_code == 200
