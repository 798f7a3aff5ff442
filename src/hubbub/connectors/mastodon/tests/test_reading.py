"""Reading a Mastodon source by polling: hashtags, mentions, search, paging, limits, bad input."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import (
    AuthenticationFailed,
    Batch,
    ConnectorError,
    SourceConfig,
    read_cursor,
)
from hubbub.connectors.mastodon import connector
from hubbub.connectors.mastodon.tests.conftest import config_for, make_source
from hubbub.connectors.mastodon.tests.fake import FakeMastodon, customer_texts
from hubbub.listening.models import InboundPost, RejectedItem, Source, SourceStatus

pytestmark = pytest.mark.django_db


def publish_tagged(fake: FakeMastodon, count: int, start: int = 0) -> list[dict[str, Any]]:
    """`count` customers' posts tagged #brightwave, from the `start`th customer text on."""
    texts = customer_texts(start + count)[start:]
    return [
        fake.publish(fake.status(f"{text} #brightwave", user=f"customer{start + n}"))
        for n, text in enumerate(texts)
    ]


def stored_uris(source: Source) -> list[str]:
    return sorted(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))


def poll_until_caught_up(source: Source) -> int:
    """Poll and store as the loop does, until the platform has no more; the number of polls."""
    polls = 0
    while True:
        config = polling.config_of(Source.objects.get(pk=source.pk))
        batch = connector.poll(config)
        polling.store_batch(config, batch)
        polls += 1
        if not batch.more:
            return polls


def test_a_hashtag_source_pages_forward_from_its_cursor_and_misses_nothing(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    source = make_source(cast, mastodon, token=None)
    first = publish_tagged(mastodon, 3)
    mastodon.publish(mastodon.status("no tag here, just a customer"))
    assert poll_until_caught_up(source) == 1
    assert stored_uris(source) == sorted(s["uri"] for s in first)
    # Away for a while: 95 new posts, more than two pages of 40.
    later = publish_tagged(mastodon, 95, start=3)
    polls = poll_until_caught_up(source)
    assert polls == 3
    assert stored_uris(source) == sorted(s["uri"] for s in first + later)
    assert InboundPost.objects.filter(source=source).count() == 98
    source.refresh_from_db()
    assert read_cursor(source.cursor) == {"tag": later[-1]["id"]}
    pages = mastodon.requests_to("/api/v1/timelines/tag/brightwave")
    assert [r.query.get("min_id") for r in pages[:2]] == [None, [first[-1]["id"]]]
    assert all(r.query["limit"] == ["40"] for r in pages)
    assert all("Authorization" not in r.headers for r in pages)  # public: no token needed


def test_a_poll_with_nothing_new_keeps_the_cursor(cast: Cast, mastodon: FakeMastodon) -> None:
    publish_tagged(mastodon, 2)
    source = make_source(cast, mastodon)
    poll_until_caught_up(source)
    cursor = Source.objects.get(pk=source.pk).cursor
    batch = connector.poll(polling.config_of(Source.objects.get(pk=source.pk)))
    assert (batch.posts, batch.cursor, batch.more) == ([], cursor, False)


def test_the_rate_limit_headers_become_the_batch_s_budget(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    batch = connector.poll(config_for(cast, mastodon))
    assert batch.budget is not None
    assert batch.budget.limit == 300
    assert batch.budget.remaining == mastodon.remaining  # as the last answer said
    assert batch.budget.reset_at is not None
    assert batch.budget.reset_at > dt.datetime.now(dt.UTC)


def test_mentions_are_read_from_mention_notifications(cast: Cast, mastodon: FakeMastodon) -> None:
    texts = customer_texts(3, "@")
    mentions = [
        mastodon.publish(mastodon.status(f"@brightwave {text}", user=f"c{n}"), mention=True)
        for n, text in enumerate(texts)
    ]
    source = make_source(cast, mastodon, mode="mentions")
    poll_until_caught_up(source)
    assert stored_uris(source) == sorted(s["uri"] for s in mentions)
    (request,) = mastodon.requests_to("/api/v1/notifications")
    assert request.query["types[]"] == ["mention"]
    assert request.headers["Authorization"] == "Bearer fake-mastodon-token"
    source.refresh_from_db()
    assert read_cursor(source.cursor) == {"mentions": mastodon.notifications[-1]["id"]}


def test_other_notifications_are_passed_over_and_broken_mentions_rejected(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    mention = mastodon.publish(mastodon.status("@brightwave help", user="tom"), mention=True)
    notifications = [
        {"id": "900000000000000001", "type": "favourite", "account": mention["account"]},
        {"id": "900000000000000002", "type": "mention", "status": None},
        {"id": "900000000000000003", "type": "mention", "status": {**mention, "uri": 12}},
        mastodon.notifications[0],
    ]
    mastodon.raw_next("/api/v1/notifications", json.dumps(notifications))
    batch = connector.poll(config_for(cast, mastodon, mode="mentions"))
    assert [post.external_id for post in batch.posts] == [mention["uri"]]
    assert [r.reason for r in batch.rejected] == [
        "The mention notification has no status.",
        "The status has no uri (the id every server gives it).",
    ]
    assert read_cursor(batch.cursor) == {"mentions": "900000000000000003"}


def test_mentions_without_a_token_ask_for_one(cast: Cast, mastodon: FakeMastodon) -> None:
    with pytest.raises(ConnectorError, match="needs the brand account's access token") as error:
        connector.poll(config_for(cast, mastodon, mode="mentions", token=None))
    assert not error.value.transient


def test_a_search_source_reads_statuses_that_match(cast: Cast, mastodon: FakeMastodon) -> None:
    found = mastodon.publish(mastodon.status("Brightwave broadband is down in Leeds"))
    mastodon.publish(mastodon.status("Lovely weather"))
    batch = connector.poll(config_for(cast, mastodon, mode="search", query="broadband"))
    assert [post.external_id for post in batch.posts] == [found["uri"]]
    (request,) = mastodon.requests_to("/api/v2/search")
    assert (request.query["q"], request.query["type"]) == (["broadband"], ["statuses"])


def test_a_server_that_refuses_search_says_so_clearly(cast: Cast, mastodon: FakeMastodon) -> None:
    mastodon.search = "refused"
    with pytest.raises(ConnectorError, match="does not offer full-text search") as error:
        connector.poll(config_for(cast, mastodon, mode="search", query="broadband"))
    assert not error.value.transient
    assert error.value.code == "search_unsupported"


def test_a_server_without_full_text_search_finds_nothing_and_check_says_why(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    mastodon.search = "none"
    mastodon.publish(mastodon.status("Brightwave broadband is down in Leeds"))
    config = config_for(cast, mastodon, mode="search", query="broadband")
    assert connector.poll(config).posts == []
    assert "a server without full-text search never finds any" in connector.check(config)


def test_a_rate_limited_source_waits_until_the_reset_the_server_named(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    reset = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=4)
    mastodon.fail_next(
        429,
        "Too many requests",
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()},
    )
    source = make_source(cast, mastodon, cursor='{"tag":"113000000000001000"}')
    stop = threading.Event()

    def poll_once(config: SourceConfig) -> Batch:
        try:
            return connector.poll(config)
        finally:
            stop.set()

    polling.run(source.pk, stop, poll_once, interval=0.01)
    source.refresh_from_db()
    assert source.status == SourceStatus.ACTIVE
    assert source.cursor == '{"tag":"113000000000001000"}'
    assert "rate limit" in source.last_error
    assert source.rate_limited_until is not None
    assert source.rate_limited_until >= reset - dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("status", "transient"), [(503, True), (500, True), (401, False), (404, False)]
)
def test_server_errors_say_whether_trying_again_can_help(
    cast: Cast, mastodon: FakeMastodon, status: int, transient: bool
) -> None:
    mastodon.fail_next(status, "Something went wrong", path="/api/v1/timelines")
    with pytest.raises(ConnectorError) as error:
        connector.poll(config_for(cast, mastodon))
    assert error.value.transient is transient
    assert isinstance(error.value, AuthenticationFailed) is (status == 401)


def test_a_wrong_token_is_refused_for_good(cast: Cast, mastodon: FakeMastodon) -> None:
    with pytest.raises(AuthenticationFailed):
        connector.poll(config_for(cast, mastodon, mode="mentions", token="expired"))


@pytest.mark.parametrize(
    "body", ["<html>Bad gateway</html>", '{"error": "oops"}', "[1, 2", '"statuses"']
)
def test_a_page_that_is_not_a_list_of_statuses_keeps_the_cursor_and_tries_again(
    cast: Cast, mastodon: FakeMastodon, body: str
) -> None:
    mastodon.raw_next("/api/v1/timelines", body)
    with pytest.raises(ConnectorError) as error:
        connector.poll(config_for(cast, mastodon))
    assert error.value.transient
    assert error.value.code == "malformed"


def test_bad_statuses_are_rejected_and_the_good_ones_around_them_kept(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    good = publish_tagged(mastodon, 2)
    broken = [
        "a string",
        {**good[0], "id": "113000000000090001", "uri": None},
        {**good[0], "id": "113000000000090002", "created_at": 12},
        {**good[0], "id": "113000000000090003", "content": "<p>" + "x" * 100_001},
        {**good[0], "id": "113000000000090004", "account": None},
    ]
    mastodon.raw_next("/api/v1/timelines", json.dumps([*broken, *good]))
    source = make_source(cast, mastodon)
    poll_until_caught_up(source)
    source.refresh_from_db()
    assert stored_uris(source) == sorted(s["uri"] for s in good)
    reasons = sorted(RejectedItem.objects.filter(source=source).values_list("reason", flat=True))
    assert len(reasons) == 5
    assert any("more than the 100,000" in reason for reason in reasons)
    assert any(reason.startswith("The status is a str") for reason in reasons)
    assert source.rejected_count == 5
    # The cursor covers the rejected ones too: they are not read again.
    assert read_cursor(source.cursor) == {"tag": "113000000000090004"}


def test_the_same_post_seen_from_two_servers_is_stored_once(
    cast: Cast, mastodon: FakeMastodon, other_instance: FakeMastodon
) -> None:
    text = customer_texts(1, "internet")[0]
    original = mastodon.publish(mastodon.status(f"{text} #brightwave", user="tom"))
    federated = other_instance.publish(other_instance.copy_of(original, mastodon))
    assert federated["id"] != original["id"]
    here = make_source(cast, mastodon)
    there = make_source(cast, other_instance)
    poll_until_caught_up(here)
    poll_until_caught_up(there)
    rows = InboundPost.objects.filter(workspace=cast.brightwave, platform="mastodon")
    assert list(rows.values_list("external_id", flat=True)) == [original["uri"]]
    assert rows.get().post["author_handle"] == f"tom@{mastodon.host}"
    # Each source keeps its own server's ids.
    assert read_cursor(Source.objects.get(pk=here.pk).cursor) == {"tag": original["id"]}
    assert read_cursor(Source.objects.get(pk=there.pk).cursor) == {"tag": federated["id"]}


def test_check_names_the_signed_in_account_or_the_server(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    host = "127.0.0.1"
    assert connector.check(config_for(cast, mastodon)) == f"Signed in as @brightwave on {host}."
    assert connector.check(config_for(cast, mastodon, token=None)) == (
        f"Connected to Brightwave Social ({host}) without signing in."
    )
    with pytest.raises(ConnectorError, match="needs the brand account's access token"):
        connector.check(config_for(cast, mastodon, mode="stream", token=None))
    with pytest.raises(AuthenticationFailed):
        connector.check(config_for(cast, mastodon, token="expired"))
    with pytest.raises(ConnectorError, match="Enter the hashtag"):
        connector.check(config_for(cast, mastodon, hashtag=" # "))
