"""The Hacker News connector against a local HN Search that speaks Algolia's wire format."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hubbub.connectors.base import Batch, ConnectorError, SourceConfig, read_cursor
from hubbub.connectors.hackernews import connector
from hubbub.connectors.hackernews.tests.fake import FakeAlgolia, customer_texts, running_algolia

BRAND = "AppleSupport"
# Within the default look-back of a new source (24 hours).
NOW = int(time.time())
T0 = NOW - 3600


@pytest.fixture
def algolia(settings: Any) -> Iterator[FakeAlgolia]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_algolia() as fake:
        yield fake


def config(fake: FakeAlgolia, cursor: str = "", **settings: Any) -> SourceConfig:
    return SourceConfig(
        source_id=7,
        workspace_id=3,
        kind="hackernews",
        settings={"base_url": fake.url, "query": BRAND, "overlap_seconds": 0, **settings},
        credentials={},
        cursor=cursor,
    )


def texts(count: int, start: int = 0) -> list[str]:
    return list(customer_texts(BRAND.lower())[start : start + count])


def comments(fake: FakeAlgolia, count: int, *, start: int = 0, at: int = T0) -> list[str]:
    """`count` comments one second apart from `at`; their objectIDs, oldest first."""
    return [
        fake.add_comment(at + n, text)["objectID"] for n, text in enumerate(texts(count, start))
    ]


def ids(batch: Batch) -> list[str]:
    return [post.external_id for post in batch.posts]


def poll_until_caught_up(fake: FakeAlgolia, cursor: str, **settings: Any) -> tuple[list[str], str]:
    """Poll while the connector says there is more; every id delivered, and the last cursor."""
    delivered: list[str] = []
    for _ in range(50):
        batch = connector.poll(config(fake, cursor, **settings))
        delivered += ids(batch)
        cursor = batch.cursor
        if not batch.more:
            return delivered, cursor
    raise AssertionError("the connector never caught up")


# --- what a hit becomes ---


def test_a_comment_becomes_a_post_with_plain_text_sanitised_html_and_its_thread(
    algolia: FakeAlgolia,
) -> None:
    story = algolia.add_story(T0 - 600, title="Ask HN: Is Apple support getting worse?")
    text = next(t for t in customer_texts(BRAND.lower()) if "'" in t and "&" not in t)
    hit = algolia.add_comment(T0, text, author="maria_k", story=story)
    batch = connector.poll(config(algolia))
    (post,) = [p for p in batch.posts if p.external_id == hit["objectID"]]
    assert post.platform == "hackernews"
    assert post.text == text.strip()
    assert "&#x27;" in hit["comment_text"]
    assert post.html.startswith(hit["comment_text"][:10])
    assert post.url == f"https://news.ycombinator.com/item?id={hit['objectID']}"
    assert post.posted_at.timestamp() == T0
    assert (post.author_handle, post.author_external_id) == ("maria_k", "maria_k")
    assert post.reply_to_external_id == story["objectID"]
    assert post.thread_root_external_id == story["objectID"]
    assert "_highlightResult" not in post.payload
    assert post.payload["story_title"] == "Ask HN: Is Apple support getting worse?"


def test_a_story_holds_its_title_its_text_and_its_link(algolia: FakeAlgolia) -> None:
    body = texts(1)[0]
    hit = algolia.add_story(
        T0,
        title="Show HN: A status page for @AppleSupport outages",
        url="https://status.example.org/apple",
        story_text=f"<p>{body.replace('&', '&amp;')}</p>",
    )
    (post,) = connector.poll(config(algolia)).posts
    assert post.external_id == hit["objectID"]
    assert post.text == (
        f"Show HN: A status page for @AppleSupport outages\n\n{body}\n\n"
        "https://status.example.org/apple"
    )
    assert post.expanded_urls == ("https://status.example.org/apple",)
    assert (post.reply_to_external_id, post.thread_root_external_id) == ("", "")


def test_markup_in_an_author_name_stays_out_of_the_text_fields(algolia: FakeAlgolia) -> None:
    algolia.add_comment(T0, texts(1)[0], author="<b>eve</b><script>x()</script>")
    (post,) = connector.poll(config(algolia)).posts
    assert post.author_handle == "eve"


def test_the_search_asks_for_the_query_the_tags_and_the_time_after_the_cursor(
    algolia: FakeAlgolia,
) -> None:
    comments(algolia, 1)
    first = connector.poll(config(algolia, page_size=50))
    connector.poll(config(algolia, first.cursor, page_size=50))
    initial, resumed = algolia.searches()
    assert initial["query"] == BRAND
    assert initial["tags"] == "(story,comment)"
    assert initial["hitsPerPage"] == "50"
    assert initial["page"] == "0"
    assert resumed["numericFilters"] == f"created_at_i>={T0}"


# --- paging and resuming ---


def test_every_page_is_read_and_the_next_poll_brings_only_new_items(
    algolia: FakeAlgolia,
) -> None:
    first_ids = comments(algolia, 7)
    batch = connector.poll(config(algolia, page_size=2))
    assert sorted(ids(batch)) == sorted(first_ids)
    assert [s["page"] for s in algolia.searches()] == ["0", "1", "2", "3"]
    assert batch.more is False

    later_ids = comments(algolia, 3, start=7, at=T0 + 100)
    again = connector.poll(config(algolia, batch.cursor, page_size=2))
    assert sorted(ids(again)) == sorted(later_ids)
    assert connector.poll(config(algolia, again.cursor, page_size=2)).posts == []


def test_a_read_longer_than_one_poll_goes_on_from_the_backlog_without_gaps_or_repeats(
    algolia: FakeAlgolia,
) -> None:
    all_ids = comments(algolia, 23)
    first = connector.poll(config(algolia, page_size=2))
    assert first.more is True
    assert len(first.posts) == connector.PAGES_PER_POLL * 2
    assert read_cursor(first.cursor)["backlog"]["from"] <= T0
    # Items arrive while the backlog is read: they wait for the next read from the top.
    newer = comments(algolia, 2, start=23, at=T0 + 500)
    delivered, cursor = poll_until_caught_up(algolia, first.cursor, page_size=2)
    delivered = ids(first) + delivered
    assert sorted(delivered) == sorted(all_ids)
    assert len(delivered) == len(set(delivered))
    following = connector.poll(config(algolia, cursor, page_size=2))
    assert sorted(ids(following)) == sorted(newer)


def test_hits_beyond_algolia_s_paging_cap_are_reached_by_time(algolia: FakeAlgolia) -> None:
    algolia.pagination_limit = 4  # 1,000 on the real service
    all_ids = comments(algolia, 11)
    delivered, _ = poll_until_caught_up(algolia, "", page_size=2)
    assert sorted(delivered) == sorted(all_ids)
    assert len(delivered) == len(set(delivered))


def test_an_item_deleted_while_paging_does_not_hide_the_ones_after_it(
    algolia: FakeAlgolia,
) -> None:
    all_ids = comments(algolia, 14)
    first = connector.poll(config(algolia, page_size=2))
    assert first.more
    # The newest unread item goes away: offset paging would now skip one.
    unread = sorted(set(all_ids) - set(ids(first)), key=int)
    algolia.remove(next(i.hit for i in algolia.items if i.hit["objectID"] == unread[-1]))
    delivered, _ = poll_until_caught_up(algolia, first.cursor, page_size=2)
    assert sorted(ids(first) + delivered) == sorted(set(all_ids) - {unread[-1]})


def test_an_item_in_the_same_second_as_the_newest_read_is_not_lost_or_repeated(
    algolia: FakeAlgolia,
) -> None:
    first_text, second_text = texts(2)
    seen = algolia.add_comment(T0, first_text)["objectID"]
    batch = connector.poll(config(algolia))
    assert ids(batch) == [seen]
    late = algolia.add_comment(T0, second_text)["objectID"]  # same second, indexed later
    again = connector.poll(config(algolia, batch.cursor))
    assert ids(again) == [late]


def test_an_item_indexed_late_inside_the_overlap_is_still_read(algolia: FakeAlgolia) -> None:
    first_text, late_text = texts(2)
    algolia.add_comment(T0, first_text)
    batch = connector.poll(config(algolia, overlap_seconds=120))
    late = algolia.add_comment(T0 - 30, late_text)["objectID"]  # written earlier, indexed now
    again = connector.poll(config(algolia, batch.cursor, overlap_seconds=120))
    assert ids(again) == [late]
    assert read_cursor(again.cursor)["newest"] == T0


def test_a_new_source_starts_at_its_look_back(algolia: FakeAlgolia) -> None:
    algolia.add_comment(NOW - 3 * 86_400, texts(1)[0])
    recent = comments(algolia, 1, start=1)
    assert ids(connector.poll(config(algolia))) == recent
    assert len(connector.poll(config(algolia, lookback_hours=100)).posts) == 2


# --- bad input ---


def bad_hit(fake: FakeAlgolia, at: int, **fields: Any) -> None:
    """A comment hit with `fields` replaced, indexed at `at` and matching the query."""
    hit = {
        "objectID": str(41_000_000 + at - T0),
        "created_at_i": at,
        "created_at": None,
        "author": "customer_x",
        "comment_text": "fine",
        "story_id": 40_000_001,
        "parent_id": 40_000_001,
        "_tags": ["comment", "author_customer_x", "story_40000001"],
        **fields,
    }
    fake.add_hit(hit, created_at_i=at, kind="comment", searchable=BRAND.lower())


def test_bad_hits_are_rejected_with_their_reason_and_the_rest_are_kept(
    algolia: FakeAlgolia,
) -> None:
    good = comments(algolia, 2)
    bad_hit(algolia, T0 + 10, created_at_i="yesterday")
    bad_hit(algolia, T0 + 11, objectID=None)
    bad_hit(algolia, T0 + 12, comment_text=42)
    bad_hit(algolia, T0 + 13, comment_text="<p></p>")
    bad_hit(algolia, T0 + 14, comment_text="@AppleSupport " * 4_000)
    algolia.add_hit("not an object", created_at_i=T0 + 15, kind="comment", searchable=BRAND)  # type: ignore[arg-type]
    batch = connector.poll(config(algolia))
    assert sorted(ids(batch)) == sorted(good)
    reasons = {r.external_id: r.reason for r in batch.rejected}
    assert reasons == {
        "41000010": "The hit has no valid creation time (created_at_i).",
        "": reasons[""],
        "41000012": "The hit's comment_text is not text.",
        "41000013": "The comment has no text (deleted?).",
        "41000014": "The item is 55,999 characters long, more than Hacker News allows.",
    }
    assert sorted(r.reason for r in batch.rejected if not r.external_id) == [
        "The hit has no objectID.",
        "The hit is not a JSON object.",
    ]
    assert all(r.excerpt for r in batch.rejected)
    # The cursor moved past them all: the next poll neither repeats nor rejects them again.
    again = connector.poll(config(algolia, batch.cursor))
    assert (again.posts, again.rejected) == ([], [])


# --- errors ---


def test_no_query_is_a_setting_a_person_must_fix(algolia: FakeAlgolia) -> None:
    with pytest.raises(ConnectorError) as refused:
        connector.poll(config(algolia, query=" "))
    assert refused.value.transient is False
    assert refused.value.code == "no_query"
    assert algolia.requests == []


def test_a_rate_limit_is_transient_and_says_when_to_come_back(algolia: FakeAlgolia) -> None:
    algolia.fail_next(429, {"message": "Too many requests", "status": 429}, {"Retry-After": "90"})
    with pytest.raises(ConnectorError) as limited:
        connector.poll(config(algolia))
    assert limited.value.transient is True
    assert limited.value.code == "rate_limited"
    assert limited.value.retry_after_seconds == 90


@pytest.mark.parametrize(
    ("status", "body", "transient", "code"),
    [
        (503, {"message": "Service Unavailable", "status": 503}, True, "server_error"),
        (400, {"message": "Invalid syntax for numeric value", "status": 400}, False, "refused"),
        (200, b"<html>Bad gateway</html>", True, "malformed"),
        (200, {"message": "ok"}, True, "malformed"),
        (200, {"hits": [], "page": 0}, True, "malformed"),
    ],
)
def test_a_failed_or_malformed_answer_is_an_error_that_keeps_the_cursor(
    algolia: FakeAlgolia, status: int, body: dict[str, Any] | bytes, transient: bool, code: str
) -> None:
    comments(algolia, 1)
    algolia.fail_next(status, body)
    with pytest.raises(ConnectorError) as failed:
        connector.poll(config(algolia))
    assert (failed.value.transient, failed.value.code) == (transient, code)


def test_a_failure_on_a_later_page_fails_the_whole_read_and_the_retry_gets_everything(
    algolia: FakeAlgolia,
) -> None:
    all_ids = comments(algolia, 6)
    algolia.fail_next(502, {"message": "Bad Gateway", "status": 502}, page=1)
    with pytest.raises(ConnectorError) as failed:
        connector.poll(config(algolia, page_size=2))
    assert failed.value.transient is True
    assert sorted(ids(connector.poll(config(algolia, page_size=2)))) == sorted(all_ids)


# --- check and profiles ---


def test_check_runs_the_search_and_counts_recent_results(algolia: FakeAlgolia) -> None:
    comments(algolia, 4)
    algolia.add_comment(NOW - 30 * 86_400, texts(1, 10)[0])
    assert connector.check(config(algolia)) == (
        f"Hacker News search for “{BRAND}” works (4 recent results)"
    )


def test_a_profile_has_karma_about_and_creation_time(algolia: FakeAlgolia) -> None:
    algolia.users["maria_k"] = {
        "username": "maria_k",
        "about": 'Support lead. <a href="https://example.org">example.org</a>&#x2F;me',
        "karma": 4521,
        "created_at": "2012-03-04T05:06:07.000Z",
        "created_at_i": 1330837567,
        "avg": 3.1,
        "objectID": "maria_k",
    }
    profile = connector.fetch_profile(config(algolia), "@maria_k")
    assert profile.handle == "maria_k"
    assert profile.extra == {"karma": 4521}
    assert profile.followers is None
    assert profile.description == "Support lead. example.org/me"
    assert profile.url == "https://news.ycombinator.com/user?id=maria_k"
    assert profile.created_at == dt.datetime(2012, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def test_an_unknown_user_or_a_bad_name_is_a_permanent_error(algolia: FakeAlgolia) -> None:
    with pytest.raises(ConnectorError) as unknown:
        connector.fetch_profile(config(algolia), "nobody_here")
    assert (unknown.value.code, unknown.value.transient) == ("not_found", False)
    with pytest.raises(ConnectorError) as bad:
        connector.fetch_profile(config(algolia), "../admin")
    assert bad.value.code == "bad_handle"


def test_hacker_news_is_read_only_with_a_link_to_answer_there() -> None:
    capabilities = connector.CAPABILITIES
    assert (capabilities.listen, capabilities.reply, capabilities.private_message) == (
        True,
        False,
        False,
    )
    assert capabilities.profile is True
    assert capabilities.answer_on_platform_label == "Open on Hacker News"
