"""The Mastodon sender against a local server that speaks Mastodon's REST API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from hubbub.connectors.mastodon.connector import send
from hubbub.connectors.mastodon.tests.fake import TOKEN, FakeMastodon, running_mastodon
from hubbub.connectors.outbound import Account, Outgoing, SendError, Visibility


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with running_mastodon() as fake, override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.1"]):
        yield fake


def account(fake: FakeMastodon, secret: str = TOKEN) -> Account:
    return Account(
        platform="mastodon",
        transport="live",
        handle="@brightwave@social.brightwave.test",
        base_url=fake.url,
        secret=secret,
    )


def reply(text: str = "@tom@mastodon.example So sorry – Cara", **fields: str) -> Outgoing:
    values = {
        "text": text,
        "visibility": Visibility.PUBLIC,
        "recipient_handle": "tom@mastodon.example",
        "in_reply_to": "109998877",
        "idempotency_key": "hubbub-message-7",
        **fields,
    }
    return Outgoing(**values)  # type: ignore[arg-type]


def test_a_public_reply_is_threaded_under_the_customer_s_post(mastodon: FakeMastodon) -> None:
    delivered = send(account(mastodon), reply())
    (request,) = mastodon.posted()
    assert request.body == {
        "status": "@tom@mastodon.example So sorry – Cara",
        "visibility": "public",
        "in_reply_to_id": "109998877",
    }
    assert request.headers["Idempotency-Key"] == "hubbub-message-7"
    assert delivered.external_id == "113000000000000001"
    assert delivered.url == "https://social.brightwave.test/@brightwave/113000000000000001"


def test_a_private_message_is_a_direct_status(mastodon: FakeMastodon) -> None:
    send(account(mastodon), reply(visibility=Visibility.DIRECT, in_reply_to=""))
    assert mastodon.posted()[0].body["visibility"] == "direct"
    assert "in_reply_to_id" not in mastodon.posted()[0].body


def test_a_retry_with_the_same_key_gets_the_same_status(mastodon: FakeMastodon) -> None:
    first = send(account(mastodon), reply())
    again = send(account(mastodon), reply())
    assert first == again
    assert len(mastodon.statuses) == 1


@pytest.mark.parametrize(
    ("status", "error", "headers", "transient"),
    [
        (503, "Service Unavailable", {}, True),
        (429, "Too many requests", {"X-RateLimit-Reset": "2099-01-01T00:00:00.000Z"}, True),
        (422, "Validation failed: Text character limit of 500 exceeded", {}, False),
        (404, "Record not found", {}, False),
    ],
)
def test_errors_say_whether_trying_again_can_help(
    mastodon: FakeMastodon, status: int, error: str, headers: dict[str, str], transient: bool
) -> None:
    mastodon.fail_next(status, error, headers)
    with pytest.raises(SendError) as failed:
        send(account(mastodon), reply())
    assert failed.value.transient is transient
    if status == 429:
        assert failed.value.retry_after_seconds is not None
        assert failed.value.retry_after_seconds > 3600
    if status == 422:
        assert "character limit of 500 exceeded" in failed.value.message


def test_a_bad_token_asks_for_the_account_to_be_reconnected(mastodon: FakeMastodon) -> None:
    with pytest.raises(SendError, match="Reconnect the account") as failed:
        send(account(mastodon, secret="stale"), reply())
    assert not failed.value.transient


def test_an_instance_that_does_not_answer_is_a_transient_failure() -> None:
    with override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.1"]):
        closed = Account("mastodon", "live", "", "http://127.0.0.1:9", TOKEN)
        with pytest.raises(SendError) as failed:
            send(closed, reply())
    assert failed.value.transient


def test_an_instance_on_a_private_address_is_refused_for_good() -> None:
    private = Account("mastodon", "live", "", "http://10.0.0.8", TOKEN)
    with pytest.raises(SendError, match="private address") as failed:
        send(private, reply())
    assert not failed.value.transient


def test_a_reply_to_a_status_uri_is_threaded_under_the_brand_instance_s_id_for_it(
    mastodon: FakeMastodon,
) -> None:
    customer = mastodon.status("@brightwave my router died", user="tom", domain="m.example")
    mastodon.remote[customer["uri"]] = customer  # not seen here yet: resolving fetches it
    delivered = send(account(mastodon), reply(in_reply_to=customer["uri"]))
    (lookup,) = mastodon.requests_to("/api/v2/search")
    assert lookup.query["q"] == [customer["uri"]]
    assert lookup.query["resolve"] == ["true"]
    assert lookup.query["type"] == ["statuses"]
    assert lookup.headers["Authorization"] == f"Bearer {TOKEN}"
    local = next(s for s in mastodon.known if s["uri"] == customer["uri"])
    assert local["id"] != customer["id"]
    (request,) = mastodon.posted()
    assert request.body["in_reply_to_id"] == local["id"]
    assert delivered.external_id == "113000000000000001"


def test_a_retried_reply_to_a_uri_still_posts_once(mastodon: FakeMastodon) -> None:
    customer = mastodon.publish(mastodon.status("@brightwave still no signal", user="ann"))
    first = send(account(mastodon), reply(in_reply_to=customer["uri"]))
    again = send(account(mastodon), reply(in_reply_to=customer["uri"]))
    assert first == again
    assert len(mastodon.statuses) == 1
    assert [r.body["in_reply_to_id"] for r in mastodon.posted()] == [customer["id"]] * 2


def test_a_post_the_instance_cannot_find_is_not_answered_now_but_may_be_later(
    mastodon: FakeMastodon,
) -> None:
    gone = "https://m.example/users/tom/statuses/110000000000000999"
    with pytest.raises(SendError, match="could not find the post being answered") as failed:
        send(account(mastodon), reply(in_reply_to=gone))
    assert failed.value.transient
    assert mastodon.posted() == []


def test_resolving_with_a_stale_token_asks_for_the_account_to_be_reconnected(
    mastodon: FakeMastodon,
) -> None:
    uri = "https://m.example/users/tom/statuses/110000000000000999"
    with pytest.raises(SendError, match="Reconnect the account") as failed:
        send(account(mastodon, secret="stale"), reply(in_reply_to=uri))
    assert not failed.value.transient
    assert mastodon.posted() == []
