"""Reading searches and subreddits' new comments: paging, resuming, mapping, bad input, limits."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import ConnectorError, read_cursor
from hubbub.connectors.reddit import connector, parse
from hubbub.connectors.reddit.tests.fake import FIRST_TIME, FakeReddit, customer_texts
from hubbub.connectors.reddit.tests.support import config, make_source
from hubbub.listening.models import InboundPost, RejectedItem, Source, SourceStatus

pytestmark = pytest.mark.django_db


def iphone_texts() -> list[str]:
    """Customer tweets that mention the iPhone: what a search for "iphone" finds."""
    return [text for text in customer_texts() if "iphone" in text.lower()]


def test_a_search_asks_for_new_submissions_and_maps_them_to_raw_posts(
    reddit: FakeReddit, cast: Cast
) -> None:
    text = iphone_texts()[2]
    name = reddit.add_submission(text, subreddit="apple", author="maya_k")
    source = make_source(cast, reddit, query="iphone")
    batch = connector.poll(config(source))
    (request,) = reddit.requests_to("/search")
    assert request.query == {
        "q": "iphone",
        "sort": "new",
        "type": "link",
        "t": "all",
        "limit": "100",
        "raw_json": "1",
    }
    (post,) = batch.posts
    title = text.split("\n")[0][:120]
    assert post.external_id == name
    assert post.platform == "reddit"
    assert post.text == f"{title}\n\n{text}"
    assert post.author_handle == "maya_k"
    assert post.author_external_id.startswith("t2_")
    assert post.url.startswith(f"https://www.reddit.com/r/apple/comments/{name[3:]}/")
    assert post.posted_at == dt.datetime.fromtimestamp(FIRST_TIME + 60, tz=dt.UTC)
    assert post.payload["data"]["subreddit"] == "apple"
    assert (post.workspace_id, post.source_id) == (cast.brightwave.pk, source.pk)
    assert (batch.rejected, batch.more) == ([], False)


def test_subreddit_comments_are_read_per_subreddit_as_replies_in_their_thread(
    reddit: FakeReddit, cast: Cast
) -> None:
    texts = customer_texts()
    thread = reddit.add_submission(texts[10], subreddit="brightwave")
    first = reddit.add_comment(texts[11], parent=thread)
    answer = reddit.add_comment(texts[12], parent=first, author="sam_p")
    elsewhere = reddit.add_comment(texts[13], parent=thread, subreddit="brightwavehelp")
    reddit.things[-1]["data"]["subreddit"] = "BrightwaveHelp"
    reddit.add_comment(texts[14], parent="t3_zzzzz", subreddit="unrelated")
    source = make_source(
        cast, reddit, mode="subreddit_comments", subreddits=["brightwave", "r/BrightwaveHelp"]
    )
    batch = connector.poll(config(source))
    assert [r.path for r in reddit.received if r.method == "GET"] == [
        "/r/brightwave/comments",
        "/r/BrightwaveHelp/comments",
    ]
    posts = {post.external_id: post for post in batch.posts}
    assert set(posts) == {first, answer, elsewhere}
    assert posts[answer].text == texts[12]
    assert (posts[answer].reply_to_external_id, posts[answer].thread_root_external_id) == (
        first,
        thread,
    )
    assert posts[first].reply_to_external_id == thread
    assert set(read_cursor(batch.cursor)["feeds"]) == {
        "comments:r/brightwave",
        "comments:r/brightwavehelp",
    }


def test_search_pages_with_after_and_a_later_poll_reads_only_what_is_new(
    reddit: FakeReddit, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector, "PAGE_SIZE", 10)
    texts = iphone_texts()
    for text in texts[:3]:
        reddit.add_submission(text)
    source = make_source(cast, reddit)
    first = connector.poll(config(source))
    polling.store_batch(config(source), first)
    assert len(first.posts) == 3
    for text in texts[3:28]:
        reddit.add_submission(text)
    second = connector.poll(config(source))
    polling.store_batch(config(source), second)
    afters = [r.query.get("after") for r in reddit.requests_to("/search")[1:]]
    assert len(afters) == 3
    assert afters[0] is None
    assert all(afters[1:])
    assert len(second.posts) == 25
    assert not second.more
    third = connector.poll(config(source))
    assert third.posts == []
    newest = reddit.add_submission(texts[30])
    fourth = connector.poll(config(source))
    assert [p.external_id for p in fourth.posts] == [newest]
    seen = [p.external_id for b in (first, second, third, fourth) for p in b.posts]
    assert len(seen) == len(set(seen)) == 29


def test_a_walk_longer_than_the_page_budget_goes_on_at_the_next_poll_without_gaps(
    reddit: FakeReddit, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector, "PAGE_SIZE", 10)
    monkeypatch.setattr(connector, "MAX_PAGES", 2)
    texts = iphone_texts()
    reddit.add_submission(texts[0])
    source = make_source(cast, reddit)
    polling.store_batch(config(source), connector.poll(config(source)))
    added = {reddit.add_submission(text) for text in texts[1:46]}
    batches, late = [], set()
    for _ in range(3):
        batch = connector.poll(config(source))
        polling.store_batch(config(source), batch)
        batches.append(batch)
        if len(batches) == 1:
            # Posted while the walk is under way: read by the next walk from the top.
            late = {reddit.add_submission(text) for text in texts[46:48]}
    assert [len(b.posts) for b in batches] == [20, 20, 5]
    assert [b.more for b in batches] == [True, True, False]
    assert read_cursor(batches[0].cursor)["feeds"]["search:iphone"]["after"]
    assert {p.external_id for b in batches for p in b.posts} == added
    last = connector.poll(config(source))
    assert {p.external_id for p in last.posts} == late
    assert InboundPost.objects.filter(source=source).count() == 46


def test_a_post_the_search_index_adds_late_is_still_read(reddit: FakeReddit, cast: Cast) -> None:
    texts = iphone_texts()
    for text in texts[:3]:
        reddit.add_submission(text)
    source = make_source(cast, reddit)
    polling.store_batch(config(source), connector.poll(config(source)))
    newest = reddit.things[-1]["data"]["created_utc"]
    late = reddit.add_submission(texts[5], created=newest - 240)
    batch = connector.poll(config(source))
    assert [p.external_id for p in batch.posts] == [late]


def test_text_arrives_as_written_and_html_is_sanitised(reddit: FakeReddit, cast: Cast) -> None:
    text = next(t for t in customer_texts() if ">All of VERIZON IS DOWN<" in t)
    reddit.add_submission(
        text,
        title="Verizon & iphone: all down?",
        selftext_html='<div class="md"><p>All down</p><script>steal()</script>'
        '<img src=x onerror="alert(1)"></div>',
    )
    source = make_source(cast, reddit)
    (post,) = connector.poll(config(source)).posts
    assert post.text == f"Verizon & iphone: all down?\n\n{text}"
    assert "<script>" not in post.html
    assert "onerror" not in post.html
    assert "<p>All down</p>" in post.html


def test_html_still_escaped_by_a_server_that_ignores_raw_json_is_unescaped_once() -> None:
    escaped = '&lt;div class="md"&gt;&lt;p&gt;Fish &amp;amp; chips&lt;/p&gt;&lt;/div&gt;'
    assert parse.thing_html(escaped) == "<div><p>Fish &amp; chips</p></div>"


def test_bad_items_become_rejected_items_and_the_good_ones_are_stored(
    reddit: FakeReddit, cast: Cast
) -> None:
    texts = iphone_texts()
    good = reddit.add_submission(texts[0])
    gone = {"id": "g1", "name": "t1_g1", "created_utc": FIRST_TIME, "author": "[deleted]"}
    reddit.inject(
        "/search",
        {"kind": "t3"},
        {"kind": "t3", "data": None},
        "t3_abc",
        {"kind": "t3", "data": {"name": "t3_typo1", "title": "iphone", "created_utc": "soon"}},
        {"kind": "t3", "data": {"name": "t3_typo2", "title": ["iphone"], "created_utc": 1.7e9}},
        {"kind": "t5", "data": {"name": "t5_2qh1i", "display_name": "iphone"}},
        {"kind": "t1", "data": {**gone, "body": "[deleted]"}},
        {
            "kind": "t3",
            "data": {
                "name": "t3_big",
                "title": "iphone",
                "created_utc": 1.7e9,
                "selftext": "x" * 40_001,
            },
        },
    )
    source = make_source(cast, reddit)
    batch = connector.poll(config(source))
    polling.store_batch(config(source), batch)
    assert [p.external_id for p in batch.posts] == [good]
    reasons = RejectedItem.objects.filter(source=source).values_list("reason", flat=True)
    assert sorted(reasons) == sorted(
        [
            "a listing item without data",
            "a listing item without data",
            "a listing item without data",
            "created_utc is missing or not a time",
            "the submission has no title",
            "not a post or a comment (kind 't5')",
            "the comment was deleted before Hubbub read it",
            "text of 40,001 characters, longer than Reddit allows (40,000)",
        ]
    )
    source.refresh_from_db()
    assert source.rejected_count == 8
    assert source.status == SourceStatus.ACTIVE
    assert InboundPost.objects.filter(source=source, external_id=good).exists()
    # Read again, the same broken items are not refused a second time.
    polling.store_batch(config(source), connector.poll(config(source)))
    assert Source.objects.get(pk=source.pk).rejected_count == 8


def test_a_comment_whose_author_deleted_the_account_keeps_its_text(
    reddit: FakeReddit, cast: Cast
) -> None:
    thread = reddit.add_submission(customer_texts()[20])
    comment = reddit.add_comment(customer_texts()[21], parent=thread, author="[deleted]")
    source = make_source(cast, reddit, mode="subreddit_comments", subreddits=["brightwave"])
    (post,) = connector.poll(config(source)).posts
    assert (post.external_id, post.author_handle, post.author_external_id) == (comment, "", "")
    assert post.text == customer_texts()[21]


def test_the_rate_limit_budget_from_reddit_s_headers_rides_on_the_batch(
    reddit: FakeReddit, cast: Cast
) -> None:
    reddit.ratelimit_remaining, reddit.ratelimit_reset = 100.0, 300
    source = make_source(cast, reddit)
    batch = connector.poll(config(source))
    assert batch.budget is not None
    assert (batch.budget.remaining, batch.budget.limit) == (99, 600)
    assert batch.budget.reset_at is not None
    polling.store_batch(config(source), batch)
    source.refresh_from_db()
    assert (source.rate_limit_remaining, source.rate_limit_limit) == (99, 600)


def test_429_is_transient_and_waits_until_x_ratelimit_reset(reddit: FakeReddit, cast: Cast) -> None:
    reddit.fail_next(
        "/search",
        429,
        {"message": "Too Many Requests", "error": 429},
        {"X-Ratelimit-Used": "600", "X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "212"},
    )
    source = make_source(cast, reddit)
    with pytest.raises(ConnectorError) as caught:
        connector.poll(config(source))
    assert caught.value.transient
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after_seconds is not None
    assert caught.value.retry_after_seconds == pytest.approx(212, abs=5)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_transient(reddit: FakeReddit, cast: Cast, status: int) -> None:
    reddit.fail_next("/search", status, b"<html><body>all our servers are busy</body></html>")
    with pytest.raises(ConnectorError) as caught:
        connector.poll(config(make_source(cast, reddit)))
    assert caught.value.transient


def test_a_body_that_is_not_json_is_transient_and_the_cursor_stays(
    reddit: FakeReddit, cast: Cast
) -> None:
    source = make_source(cast, reddit)
    reddit.fail_next("/search", 200, b'{"kind": "Listing", "data": {"children": [')
    with pytest.raises(ConnectorError, match="not JSON") as caught:
        connector.poll(config(source))
    assert caught.value.transient
    reddit.fail_next("/search", 200, {"kind": "t2", "data": {"name": "someone"}})
    with pytest.raises(ConnectorError, match="not a listing"):
        connector.poll(config(source))
    assert config(source).cursor == ""


def test_a_private_subreddit_fails_the_source_for_good_with_the_reason(
    reddit: FakeReddit, cast: Cast
) -> None:
    reddit.fail_next(
        "/r/brightwavestaff/comments", 403, {"reason": "private", "message": "Forbidden"}
    )
    source = make_source(cast, reddit, mode="subreddit_comments", subreddits=["brightwavestaff"])
    with pytest.raises(ConnectorError, match="private or banned community") as caught:
        connector.poll(config(source))
    assert not caught.value.transient


def test_an_empty_search_answered_with_an_empty_object_is_an_empty_batch(
    reddit: FakeReddit, cast: Cast
) -> None:
    reddit.fail_next("/search", 200, {})
    batch = connector.poll(config(make_source(cast, reddit)))
    assert (batch.posts, batch.rejected) == ([], [])
    assert json.loads(batch.cursor) == {"feeds": {"search:iphone": {"newest": None, "seen": {}}}}


def test_a_walk_whose_resume_point_was_deleted_starts_again_from_the_top_without_gaps(
    reddit: FakeReddit, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector, "PAGE_SIZE", 10)
    monkeypatch.setattr(connector, "MAX_PAGES", 2)
    texts = iphone_texts()
    reddit.add_submission(texts[0])
    source = make_source(cast, reddit)
    polling.store_batch(config(source), connector.poll(config(source)))
    added = {reddit.add_submission(text) for text in texts[1:36]}
    walk = connector.poll(config(source))
    polling.store_batch(config(source), walk)
    anchor = read_cursor(walk.cursor)["feeds"]["search:iphone"]["after"]
    reddit.things = [t for t in reddit.things if t["data"]["name"] != anchor]  # deleted
    read = [p.external_id for p in walk.posts]
    for _ in range(5):
        batch = connector.poll(config(source))
        polling.store_batch(config(source), batch)
        read += [p.external_id for p in batch.posts]
        if not batch.more:
            break
    assert walk.more
    assert len(read) == len(set(read))
    assert set(read) == added
    assert InboundPost.objects.filter(source=source).count() == 36
