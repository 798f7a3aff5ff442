"""The feed connector against a local web server serving RSS 2.0 and Atom feeds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from hubbub.connectors.base import Batch, ConnectorError, SourceConfig, read_cursor
from hubbub.connectors.rss import connector, parse
from hubbub.connectors.rss.tests.fake import (
    PUBLISHED,
    Entry,
    FakeFeeds,
    Feed,
    alert_entries,
    customer_texts,
    forum_entries,
    render,
    review_entries,
    running_feeds,
)
from hubbub.core import clock


@pytest.fixture
def feeds(settings: Any) -> Iterator[FakeFeeds]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_feeds() as fake:
        yield fake


def config(url: str, cursor: str = "") -> SourceConfig:
    return SourceConfig(
        source_id=11,
        workspace_id=3,
        kind="rss",
        settings={"url": url, "poll_seconds": 300},
        credentials={},
        cursor=cursor,
    )


def ids(batch: Batch) -> list[str]:
    return [post.external_id for post in batch.posts]


def forum(feeds: FakeFeeds, count: int = 3) -> Feed:
    feeds.feeds["/forum.rss"] = Feed("rss", "Brightwave Community – Latest", forum_entries(count))
    return feeds.feeds["/forum.rss"]


# --- what an entry becomes ---


def test_an_rss_item_becomes_a_post_with_plain_text_and_sanitised_html(
    feeds: FakeFeeds,
) -> None:
    (entry,) = forum(feeds, 1).entries
    (post,) = connector.poll(config(feeds.at("/forum.rss"))).posts
    assert post.platform == "rss"
    assert post.external_id == entry.id
    assert post.url == entry.link
    assert post.text == f"{entry.title}\n\n{entry.text}"
    assert post.html == f"<p>{entry.text.replace('&', '&amp;')}</p>"
    assert post.posted_at == entry.published
    assert (post.author_name, post.author_handle) == (entry.author, entry.author)
    assert post.lang == "en-us"
    assert post.payload["feed_title"] == "Brightwave Community – Latest"
    assert post.payload["feed_url"] == feeds.at("/forum.rss")


def test_markup_in_entries_and_names_never_reaches_the_text_and_is_cleaned_from_html(
    feeds: FakeFeeds,
) -> None:
    text = customer_texts()[0]
    feed = Feed("atom", "Complaints blog")
    feed.publish(
        Entry(
            title="Outage again",
            text=text,
            id="tag:blog.example.org,2026:1",
            link="https://blog.example.org/outage",
            author="<b>Eve</b><script>steal()</script>",
        )
    )
    feed.raw = render(feed, feeds.at("/blog.atom")).replace(
        b"</content>", b"&lt;script&gt;alert(1)&lt;/script&gt;</content>"
    )
    feeds.feeds["/blog.atom"] = feed
    (post,) = connector.poll(config(feeds.at("/blog.atom"))).posts
    assert post.author_name == "Eve"
    assert "script" not in post.html
    assert "alert(1)" not in post.text
    assert post.text.startswith("Outage again\n\n")


def test_google_alerts_links_are_unwrapped_and_titles_lose_their_highlighting(
    feeds: FakeFeeds,
) -> None:
    feeds.feeds["/alerts/feeds/1784981069/1584246325"] = Feed(
        "alerts", "Google Alert - brightwave", alert_entries(2)
    )
    batch = connector.poll(config(feeds.at("/alerts/feeds/1784981069/1584246325")))
    first = batch.posts[-1]
    assert first.url == "https://news.example.org/2026/11/20/brightwave-story-0/"
    assert first.expanded_urls == (first.url,)
    assert first.external_id.startswith("tag:google.com,2013:googlealerts/feed:")
    assert "<b>" not in first.text
    assert first.text.startswith("Customers say Brightwave support:")
    assert first.lang == ""


@pytest.mark.parametrize(
    ("wrapped", "target"),
    [
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://www.theconcordinsider.com/2021/"
            "06/04/x/&ct=ga&cd=CAIyGjUw&usg=AFQjCNGc",
            "https://www.theconcordinsider.com/2021/06/04/x/",
        ),
        (
            "https://www.google.co.uk/url?q=https%3A%2F%2Fshop.example%2Fa%3Fb%3D1&sa=D",
            "https://shop.example/a?b=1",
        ),
        (
            "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=abc&url=https%3a%2f%2f"
            "news.example.org%2fstory&c=1&mkt=en-us",
            "https://news.example.org/story",
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.org%2F&h=AT0",
            "https://example.org/",
        ),
        ("https://www.youtube.com/redirect?q=https://example.org/x&v=1", "https://example.org/x"),
        (
            "https://www.google.com/url?url=https://l.facebook.com/l.php%3Fu%3Dhttps%253A%252F%252F"
            "example.org%252Fdeep",
            "https://example.org/deep",
        ),
        # Only an http(s) target is unwrapped; other links stay as they are.
        ("https://www.google.com/url?url=javascript:alert(1)", None),
        ("https://www.google.com/url?url=file:///etc/passwd", None),
        ("https://validator.w3.org/check?uri=https://example.org/", None),
        ("https://example.org/search?url=https://elsewhere.example/", None),
    ],
)
def test_links_are_unwrapped_from_known_redirectors_only(wrapped: str, target: str | None) -> None:
    assert parse.unwrap_link(wrapped) == (target or wrapped)


def test_app_store_reviews_keep_rating_and_author_and_their_ids_name_the_store(
    feeds: FakeFeeds,
) -> None:
    path = "/us/rss/customerreviews/id=284882215/sortby=mostrecent/xml"
    feeds.feeds[path] = Feed("appstore", "iTunes Store: Customer Reviews", review_entries(3))
    batch = connector.poll(config(feeds.at(path)))
    by_id = {post.external_id: post for post in batch.posts}
    review = feeds.feeds[path].entries[0]
    post = by_id[f"127.0.0.1:{review.id}"]
    assert post.text == f"{review.title}\n\n{review.text}"
    assert post.html == ""  # the review's HTML table repeats the text
    assert post.author_name == review.author
    assert post.author_external_id.startswith("https://itunes.apple.com/us/reviews/id")
    assert post.payload["rating"] == review.rating
    assert post.payload["app_version"] == "458.0"
    assert post.url == "https://itunes.apple.com/us/review?id=284882215&type=Purple%20Software"


def test_entries_without_a_date_get_the_time_they_were_fetched(feeds: FakeFeeds) -> None:
    feed = forum(feeds, 0)
    feed.publish(Entry(title="No date", text=customer_texts()[3], id="urn:x:1", published=None))
    before = clock.now()
    (post,) = connector.poll(config(feeds.at("/forum.rss"))).posts
    assert before <= post.posted_at <= clock.now()


def test_entries_without_an_id_are_known_by_link_or_by_title_and_date(feeds: FakeFeeds) -> None:
    feed = forum(feeds, 0)
    feed.publish(Entry(title="Linked", text="a", link="https://forum.brightwave.test/t/1"))
    feed.publish(Entry(title="Bare", text="b"))
    batch = connector.poll(config(feeds.at("/forum.rss")))
    by_title = {post.text.split("\n")[0]: post.external_id for post in batch.posts}
    assert by_title["Linked"] == "https://forum.brightwave.test/t/1"
    assert by_title["Bare"].startswith("127.0.0.1:")
    again = connector.poll(config(feeds.at("/forum.rss"), batch.cursor))
    assert again.posts == []


def test_an_entry_with_neither_title_nor_text_is_rejected_and_the_rest_kept(
    feeds: FakeFeeds,
) -> None:
    feed = forum(feeds, 2)
    feed.publish(Entry(title="", text="", id="https://forum.brightwave.test/t/empty"))
    batch = connector.poll(config(feeds.at("/forum.rss")))
    assert len(batch.posts) == 2
    (rejection,) = batch.rejected
    assert rejection.reason == "The entry has neither a title nor any text."
    assert rejection.external_id == "https://forum.brightwave.test/t/empty"
    again = connector.poll(config(feeds.at("/forum.rss"), batch.cursor))
    assert (again.posts, again.rejected) == ([], [])


# --- conditional GET and dedupe ---


def test_the_validators_are_sent_back_and_a_304_changes_nothing(feeds: FakeFeeds) -> None:
    forum(feeds, 2)
    first = connector.poll(config(feeds.at("/forum.rss")))
    state = read_cursor(first.cursor)
    assert state["etag"].startswith('"')
    assert state["modified"] == "Fri, 20 Nov 2026 08:00:00 GMT"
    second = connector.poll(config(feeds.at("/forum.rss"), first.cursor))
    request = feeds.requests_to("/forum.rss")[-1]
    assert request.headers["If-None-Match"] == state["etag"]
    assert request.headers["If-Modified-Since"] == state["modified"]
    assert request.status == 304
    assert (second.posts, second.rejected, second.cursor) == ([], [], first.cursor)


def test_a_changed_feed_brings_only_its_new_entries_and_new_validators(
    feeds: FakeFeeds,
) -> None:
    feed = forum(feeds, 2)
    first = connector.poll(config(feeds.at("/forum.rss")))
    (newer,) = forum_entries(1, start=2)
    feed.publish(newer)
    second = connector.poll(config(feeds.at("/forum.rss"), first.cursor))
    assert ids(second) == [newer.id]
    assert read_cursor(second.cursor)["etag"] != read_cursor(first.cursor)["etag"]


def test_a_server_without_validators_is_deduped_by_entry(feeds: FakeFeeds) -> None:
    feed = forum(feeds, 3)
    feed.validators = False
    first = connector.poll(config(feeds.at("/forum.rss")))
    assert "etag" not in read_cursor(first.cursor)
    assert "If-None-Match" not in feeds.requests_to("/forum.rss")[-1].headers
    second = connector.poll(config(feeds.at("/forum.rss"), first.cursor))
    assert second.posts == []
    assert feeds.requests_to("/forum.rss")[-1].status == 200


def test_a_feed_that_republishes_old_entries_does_not_repeat_them(feeds: FakeFeeds) -> None:
    feed = forum(feeds, 3)
    first = connector.poll(config(feeds.at("/forum.rss")))
    old = feed.entries[-1]
    # The site re-dates an old entry and puts it back on top (a common CMS habit).
    feed.entries.remove(old)
    feed.publish(Entry(**{**old.__dict__, "published": PUBLISHED + dt.timedelta(days=2)}))
    (fresh,) = forum_entries(1, start=3)
    feed.publish(fresh)
    second = connector.poll(config(feeds.at("/forum.rss"), first.cursor))
    assert ids(second) == [fresh.id]


def test_the_list_of_seen_entries_in_the_cursor_is_bounded(feeds: FakeFeeds) -> None:
    feed = forum(feeds, 0)
    for n in range(connector.SEEN_KEPT + 5):
        feed.entries.append(Entry(title=f"Topic {n}", text="", id=f"urn:topic:{n}"))
    batch = connector.poll(config(feeds.at("/forum.rss")))
    assert len(batch.posts) == connector.SEEN_KEPT + 5
    assert len(read_cursor(batch.cursor)["seen"]) == connector.SEEN_KEPT


# --- redirects, bad feeds, errors ---


def test_a_redirect_is_followed_and_its_target_is_read(feeds: FakeFeeds) -> None:
    forum(feeds, 2)
    feeds.redirects["/feed"] = (301, "/forum.rss")
    batch = connector.poll(config(feeds.at("/feed")))
    assert len(batch.posts) == 2
    assert [seen.path for seen in feeds.seen] == ["/feed", "/forum.rss"]


def break_xml(feeds: FakeFeeds, feed: Feed) -> None:
    """Serve the feed cut short and with a bare "&" in its first titles."""
    feed.raw = None
    written = render(feed, feeds.at("/forum.rss")).replace(b"</channel></rss>", b"")
    feed.raw = written.replace(b"<title>", b"<title>Fish & chips ", 2)


def test_malformed_xml_keeps_what_could_be_read_and_records_the_problem_once(
    feeds: FakeFeeds,
) -> None:
    feed = forum(feeds, 3)
    break_xml(feeds, feed)
    first = connector.poll(config(feeds.at("/forum.rss")))
    assert len(first.posts) == 3
    (problem,) = first.rejected
    assert problem.reason.startswith("The feed could be read only in part: the XML is not")
    assert problem.excerpt.startswith('<?xml version="1.0"')
    (newer,) = forum_entries(1, start=3)
    feed.publish(newer)
    break_xml(feeds, feed)
    second = connector.poll(config(feeds.at("/forum.rss"), first.cursor))
    assert ids(second) == [newer.id]
    assert second.rejected == []  # the same problem is not recorded on every poll


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body><h1>Welcome to our forum</h1></body></html>", "text/html"),
        (b'<?xml version="1.0"?><rss version="2.0"><chan', "application/rss+xml"),
        # feedparser must not take the body for a file name or a URL to open.
        (b"/etc/hostname", "text/plain"),
        (b"http://169.254.169.254/latest/meta-data/", "text/plain"),
    ],
)
def test_a_page_with_nothing_readable_is_an_error_that_keeps_the_cursor(
    feeds: FakeFeeds, body: bytes, content_type: str
) -> None:
    feeds.feeds["/feed"] = Feed("rss", "x", raw=body, content_type=content_type)
    with pytest.raises(ConnectorError) as failed:
        connector.poll(config(feeds.at("/feed"), '{"seen":["abc"]}'))
    assert failed.value.code == "not_a_feed"
    assert failed.value.transient is True
    assert failed.value.message.startswith("Nothing could be read from 127.0.0.1: ")


def test_an_oversize_feed_is_refused_with_a_clear_error(feeds: FakeFeeds) -> None:
    feed = forum(feeds, 1)
    feed.entries[0].text = "x" * (connector.MAX_FEED_BYTES + 1)
    with pytest.raises(ConnectorError) as refused:
        connector.poll(config(feeds.at("/forum.rss")))
    assert refused.value.code == "too_large"
    assert refused.value.transient is False
    assert "sent more than 5,000,000 bytes" in refused.value.message


@pytest.mark.parametrize(
    ("status", "transient", "code"),
    [
        (410, False, "gone"),
        (404, False, "gone"),
        (503, True, "server_error"),
        (429, True, "rate_limited"),
    ],
)
def test_http_failures_say_whether_trying_again_can_help(
    feeds: FakeFeeds, status: int, transient: bool, code: str
) -> None:
    feeds.fail_next(status, b"<html>nope</html>", {"Retry-After": "120"})
    with pytest.raises(ConnectorError) as failed:
        connector.poll(config(feeds.at("/forum.rss")))
    assert (failed.value.transient, failed.value.code) == (transient, code)


def test_a_source_without_a_url_must_be_fixed_by_a_person() -> None:
    with pytest.raises(ConnectorError) as refused:
        connector.poll(config(""))
    assert (refused.value.code, refused.value.transient) == ("no_url", False)


# --- check ---


def test_check_names_the_feed_and_counts_its_entries(feeds: FakeFeeds) -> None:
    forum(feeds, 4)
    assert connector.check(config(feeds.at("/forum.rss"))) == (
        "Feed “Brightwave Community – Latest” with 4 entries"
    )


def test_check_of_a_page_that_is_not_a_feed_says_so(feeds: FakeFeeds) -> None:
    feeds.feeds["/"] = Feed(
        "rss", "", raw=b"<html><body>Shop</body></html>", content_type="text/html"
    )
    with pytest.raises(ConnectorError, match="it is not an RSS or Atom feed"):
        connector.check(config(feeds.at("/")))


def test_feeds_are_read_only_with_a_link_to_the_page() -> None:
    capabilities = connector.CAPABILITIES
    assert (capabilities.listen, capabilities.reply, capabilities.private_message) == (
        True,
        False,
        False,
    )
    assert capabilities.profile is False
    assert capabilities.answer_on_platform_label == "Open the page"
