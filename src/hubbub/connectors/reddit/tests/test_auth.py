"""Signing in as a script app: the token is fetched once, kept, and renewed when it must be."""

from __future__ import annotations

import base64

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import AuthenticationFailed
from hubbub.connectors.reddit import connector
from hubbub.connectors.reddit.tests.fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    USERNAME,
    FakeReddit,
    customer_texts,
)
from hubbub.connectors.reddit.tests.support import config, credentials, make_source

pytestmark = pytest.mark.django_db


def test_the_token_request_is_a_password_grant_with_the_app_in_basic_auth(
    reddit: FakeReddit, cast: Cast
) -> None:
    assert connector.check(config(make_source(cast, reddit))) == f"Signed in as u/{USERNAME}"
    (request,) = reddit.requests_to("/api/v1/access_token")
    assert request.method == "POST"
    assert request.form == {"grant_type": "password", "username": USERNAME, "password": PASSWORD}
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert (scheme, base64.b64decode(encoded).decode()) == ("Basic", f"{CLIENT_ID}:{CLIENT_SECRET}")
    (me,) = reddit.requests_to("/api/v1/me")
    assert me.headers["Authorization"] == "bearer 1-fakeBearerToken0001"
    assert me.headers["User-Agent"] == f"python:hubbub:0.1 (by /u/{USERNAME})"
    assert me.query["raw_json"] == "1"


def test_a_kept_token_is_reused_across_polls_and_sources(reddit: FakeReddit, cast: Cast) -> None:
    reddit.add_submission(customer_texts()[0] + " iphone")
    first, second = make_source(cast, reddit), make_source(cast, reddit, query="battery")
    connector.poll(config(first))
    connector.poll(config(second))
    connector.check(config(first))
    assert len(reddit.requests_to("/api/v1/access_token")) == 1
    assert len(reddit.requests_to("/search")) == 2


def test_a_token_about_to_expire_is_renewed_before_it_is_used(
    reddit: FakeReddit, cast: Cast
) -> None:
    reddit.token_lifetime = 60  # less than the margin the client keeps before expiry
    source = make_source(cast, reddit)
    connector.check(config(source))
    connector.check(config(source))
    assert len(reddit.requests_to("/api/v1/access_token")) == 2
    tokens = [r.headers["Authorization"] for r in reddit.requests_to("/api/v1/me")]
    assert tokens == ["bearer 1-fakeBearerToken0001", "bearer 2-fakeBearerToken0002"]


def test_a_token_reddit_no_longer_accepts_is_replaced_and_the_call_repeated_once(
    reddit: FakeReddit, cast: Cast
) -> None:
    source = make_source(cast, reddit)
    connector.check(config(source))
    reddit.expire_tokens()
    assert connector.check(config(source)) == f"Signed in as u/{USERNAME}"
    calls = [(r.path, r.headers.get("Authorization", "")[:8]) for r in reddit.received]
    assert [path for path, _ in calls] == [
        "/api/v1/access_token",
        "/api/v1/me",
        "/api/v1/me",  # 401: the kept token was revoked
        "/api/v1/access_token",
        "/api/v1/me",
    ]
    assert reddit.received[-1].headers["Authorization"] == "bearer 2-fakeBearerToken0002"


def test_a_wrong_password_is_refused_for_good_with_reddit_s_reason(
    reddit: FakeReddit, cast: Cast
) -> None:
    source = make_source(cast, reddit, creds=credentials(password="hunter2"))
    with pytest.raises(AuthenticationFailed, match="invalid_grant") as caught:
        connector.check(config(source))
    assert not caught.value.transient
    assert reddit.requests_to("/api/v1/me") == []


def test_a_wrong_client_secret_is_refused_for_good(reddit: FakeReddit, cast: Cast) -> None:
    source = make_source(cast, reddit, creds=credentials(client_secret="not-it"))
    with pytest.raises(AuthenticationFailed, match="client id or secret"):
        connector.check(config(source))


def test_missing_credentials_are_named_without_calling_reddit(
    reddit: FakeReddit, cast: Cast
) -> None:
    source = make_source(cast, reddit, creds={"client_id": CLIENT_ID, "username": USERNAME})
    with pytest.raises(AuthenticationFailed, match="client_secret, password"):
        connector.check(config(source))
    assert reddit.received == []


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"mode": "search", "query": ""}, "needs a query"),
        ({"mode": "subreddit_comments", "subreddits": []}, "at least one subreddit"),
        ({"mode": "subreddit_comments", "subreddits": ["../api/v1/me"]}, "not a subreddit"),
        ({"mode": "hot"}, "Unknown Reddit mode"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_signing_in(
    reddit: FakeReddit, cast: Cast, bad: dict[str, object], problem: str
) -> None:
    source = make_source(cast, reddit, **bad)
    with pytest.raises(connector.ConnectorError, match=problem) as caught:
        connector.check(config(source))
    assert not caught.value.transient
    assert reddit.received == []
