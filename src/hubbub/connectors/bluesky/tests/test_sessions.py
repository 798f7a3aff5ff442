"""One session per account, kept between calls: refreshed when it expires, created anew
only when the refresh is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from hubbub.connectors.base import AuthenticationFailed, ConnectorError, SourceConfig
from hubbub.connectors.bluesky import connector
from hubbub.connectors.bluesky.client import Client
from hubbub.connectors.bluesky.tests.fake import (
    APP_PASSWORD,
    BRAND_DID,
    BRAND_HANDLE,
    FakeBluesky,
    running_bluesky,
)

pytestmark = pytest.mark.django_db

CREATE = "com.atproto.server.createSession"
REFRESH = "com.atproto.server.refreshSession"


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    with running_bluesky() as fake, override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.0/8"]):
        yield fake


def config(fake: FakeBluesky, password: str = APP_PASSWORD, **settings: object) -> SourceConfig:
    return SourceConfig(
        source_id=1,
        workspace_id=1,
        kind="bluesky",
        settings={"service": fake.url, "mode": "mentions", **settings},
        credentials={"identifier": BRAND_HANDLE, "app_password": password},
        cursor="",
    )


def client(fake: FakeBluesky) -> Client:
    return Client(service=fake.url, identifier=BRAND_HANDLE, app_password=APP_PASSWORD)


def test_check_signs_in_and_says_as_whom(bluesky: FakeBluesky) -> None:
    assert connector.check(config(bluesky)) == f"Signed in as @{BRAND_HANDLE}"
    (created,) = bluesky.calls_to(CREATE)
    assert created.body == {"identifier": BRAND_HANDLE, "password": APP_PASSWORD}


def test_the_session_is_kept_between_clients(bluesky: FakeBluesky) -> None:
    client(bluesky).get("com.atproto.server.getSession")
    again = client(bluesky)
    again.get("com.atproto.server.getSession")
    assert len(bluesky.calls_to(CREATE)) == 1
    assert again.did == BRAND_DID


def test_an_expired_access_token_is_refreshed_not_signed_in_again(bluesky: FakeBluesky) -> None:
    client(bluesky).get("com.atproto.server.getSession")
    bluesky.expire_access_tokens()
    body = client(bluesky).get("com.atproto.server.getSession")
    assert body["handle"] == BRAND_HANDLE
    assert len(bluesky.calls_to(CREATE)) == 1
    (refresh,) = bluesky.calls_to(REFRESH)
    assert refresh.headers["authorization"] == "Bearer refresh-1"
    # The refreshed session is the one kept: the next client uses it at once.
    client(bluesky).get("com.atproto.server.getSession")
    assert len(bluesky.calls_to(REFRESH)) == 1
    assert bluesky.calls[-1].headers["authorization"] == "Bearer access-2"


def test_a_refused_refresh_signs_in_again(bluesky: FakeBluesky) -> None:
    client(bluesky).get("com.atproto.server.getSession")
    bluesky.expire_access_tokens()
    bluesky.expire_refresh_tokens()
    assert client(bluesky).get("com.atproto.server.getSession")["did"] == BRAND_DID
    assert len(bluesky.calls_to(REFRESH)) == 1
    assert len(bluesky.calls_to(CREATE)) == 2


def test_a_refresh_that_hits_a_server_error_does_not_sign_in_again(bluesky: FakeBluesky) -> None:
    client(bluesky).get("com.atproto.server.getSession")
    bluesky.expire_access_tokens()
    bluesky.fail_next(REFRESH, 502, {"error": "UpstreamFailure", "message": "Bad Gateway"})
    with pytest.raises(ConnectorError) as failed:
        client(bluesky).get("com.atproto.server.getSession")
    assert failed.value.transient
    assert len(bluesky.calls_to(CREATE)) == 1


def test_a_wrong_app_password_asks_for_new_credentials(bluesky: FakeBluesky) -> None:
    with pytest.raises(AuthenticationFailed, match="Enter them again") as failed:
        connector.check(config(bluesky, password="wrong-pass-word-here"))
    assert not failed.value.transient


def test_a_search_source_without_a_query_is_refused_before_signing_in(
    bluesky: FakeBluesky,
) -> None:
    with pytest.raises(ConnectorError, match="needs a query"):
        connector.check(config(bluesky, mode="search", query=" "))
    assert bluesky.calls == []


def test_sign_in_under_a_rate_limit_is_transient(bluesky: FakeBluesky) -> None:
    bluesky.rate_limit_next(CREATE, reset_in_seconds=240)
    with pytest.raises(ConnectorError) as failed:
        connector.check(config(bluesky))
    assert failed.value.transient
    assert failed.value.retry_after_seconds is not None
    assert 200 < failed.value.retry_after_seconds <= 240


def test_a_kept_session_is_never_lent_to_someone_with_another_password(
    bluesky: FakeBluesky,
) -> None:
    """A handle is public: knowing it must not be enough to use the brand's session."""
    assert connector.check(config(bluesky)).startswith("Signed in as")
    with pytest.raises(AuthenticationFailed):
        connector.check(config(bluesky, password="someone-elses-guess"))
