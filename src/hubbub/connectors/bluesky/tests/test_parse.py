"""Post views and notifications become RawPosts; what is broken is left out or refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hubbub.connectors.bluesky import parse
from hubbub.connectors.bluesky.connector import record_key
from hubbub.connectors.bluesky.tests.fake import FakeBluesky, customer_texts
from hubbub.listening.types import RawPost

AT = dt.datetime(2026, 11, 20, 14, 5, 9, tzinfo=dt.UTC)


def post_of(view: Any) -> RawPost:
    return parse.post_of(view, workspace_id=1, source_id=2)


@pytest.fixture
def fake() -> FakeBluesky:
    return FakeBluesky()


def test_a_post_view_maps_to_a_raw_post(fake: FakeBluesky) -> None:
    text = customer_texts("@VerizonSupport", 1)[0]
    author = fake.customer(115722, "Dana", followers=310, follows=122)
    view = fake.publish(text, author, at=AT, langs=("en", "es"))
    view["author"].update(followersCount=310, followsCount=122)
    post = post_of(view)
    rkey = view["uri"].rsplit("/", 1)[1]
    assert post.external_id == view["uri"]
    assert post.platform == "bluesky"
    assert post.text == text
    assert post.posted_at == AT
    assert post.url == f"https://bsky.app/profile/customer115722.bsky.social/post/{rkey}"
    assert (post.author_handle, post.author_name) == ("customer115722.bsky.social", "Dana")
    assert post.author_external_id == author.did
    assert (post.author_followers, post.author_following) == (310, 122)
    assert post.lang == "en"
    assert post.html == ""
    assert post.payload is view


def test_a_reply_names_its_parent_and_its_thread_s_root(fake: FakeBluesky) -> None:
    first, second, third = customer_texts("@sprintcare", 3)
    customer = fake.customer(115712)
    top = fake.publish(first, customer, at=AT)
    middle = fake.publish(second, fake.brand, at=AT + dt.timedelta(minutes=1), reply_to=top["uri"])
    last = fake.publish(third, customer, at=AT + dt.timedelta(minutes=2), reply_to=middle["uri"])
    post = post_of(last)
    assert post.reply_to_external_id == middle["uri"]
    assert post.thread_root_external_id == top["uri"]


def test_link_facets_and_link_cards_become_expanded_urls(fake: FakeBluesky) -> None:
    text = "Désolé 😩 le débit s'effondre: brightwave.test/status… encore"
    start = len("Désolé 😩 le débit s'effondre: ".encode())
    end = start + len("brightwave.test/status…".encode())
    facets = [
        {
            "index": {"byteStart": start, "byteEnd": end},
            "features": [
                {"$type": parse.LINK_FEATURE, "uri": "https://brightwave.test/status/fibre-outage"}
            ],
        }
    ]
    view = fake.publish(text, fake.customer(1), at=AT, facets=facets)
    view["record"]["embed"] = {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": "https://news.example/brightwave-outage",
            "title": "",
            "description": "",
        },
    }
    assert post_of(view).expanded_urls == (
        "https://brightwave.test/status/fibre-outage",
        "https://news.example/brightwave-outage",
    )


@pytest.mark.parametrize(
    "index",
    [
        {"byteStart": 0, "byteEnd": 4000},  # past the end of the text
        {"byteStart": 8, "byteEnd": 2},  # backwards
        {"byteStart": 1, "byteEnd": 9},  # starts inside "é" (two bytes)
        {"byteStart": "0", "byteEnd": 9},  # not a number
        {"byteStart": True, "byteEnd": 9},  # JSON true is not an offset
    ],
)
def test_bad_facets_are_ignored_and_the_post_is_kept(
    fake: FakeBluesky, index: dict[str, Any]
) -> None:
    facets = [
        {"index": index, "features": [{"$type": parse.LINK_FEATURE, "uri": "https://evil.example"}]}
    ]
    view = fake.publish("éé broken facets here", fake.customer(2), at=AT, facets=facets)
    post = post_of(view)
    assert post.expanded_urls == ()
    assert post.text == "éé broken facets here"


def test_only_web_links_are_expanded(fake: FakeBluesky) -> None:
    facets = [
        {
            "index": {"byteStart": 0, "byteEnd": 5},
            "features": [{"$type": parse.LINK_FEATURE, "uri": "javascript:alert(1)"}],
        }
    ]
    assert (
        post_of(fake.publish("click here", fake.customer(3), at=AT, facets=facets)).expanded_urls
        == ()
    )


def test_a_display_name_with_html_stays_plain_text(fake: FakeBluesky) -> None:
    author = fake.customer(4, '<img src=x onerror="alert(1)"> Jane & <b>Co</b>')
    post = post_of(fake.publish("hello @brightwave", author, at=AT))
    assert post.author_name == '<img src=x onerror="alert(1)"> Jane & <b>Co</b>'
    assert post.html == ""


def test_counts_of_the_wrong_type_are_left_out(fake: FakeBluesky) -> None:
    view = fake.publish("my bill doubled", fake.customer(5), at=AT)
    view["author"].update(followersCount="lots", followsCount=-3)
    view["record"]["langs"] = "en"
    post = post_of(view)
    assert (post.author_followers, post.author_following, post.lang) == (None, None, "")


def test_a_post_without_created_at_takes_its_indexed_time(fake: FakeBluesky) -> None:
    view = fake.publish("no date", fake.customer(6), at=AT)
    del view["record"]["createdAt"]
    assert post_of(view).posted_at == AT + dt.timedelta(milliseconds=850)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda v: v.pop("uri"), "no at:// URI"),
        (lambda v: v.update(uri="https://bsky.app/x"), "no at:// URI"),
        (lambda v: v.pop("author"), "no author"),
        (lambda v: v.update(author={"displayName": "?"}), "neither a DID nor a handle"),
        (lambda v: v.pop("record"), "no record"),
        (lambda v: v["record"].update(text=42), "no text"),
        (lambda v: v["record"].update(text="x" * 10_001), "10,001 characters"),
        (
            lambda v: (v["record"].update(createdAt="yesterday"), v.update(indexedAt=None)),
            "neither a createdAt nor an indexedAt",
        ),
    ],
)
def test_unusable_posts_are_refused_with_a_reason(
    fake: FakeBluesky, change: Any, reason: str
) -> None:
    view = fake.publish("my order never arrived", fake.customer(7), at=AT)
    change(view)
    with pytest.raises(parse.Unusable, match=reason):
        post_of(view)


def test_a_profile_view_maps_to_a_profile(fake: FakeBluesky) -> None:
    actor = fake.customer(8, "Ana Lúcia", followers=1200, follows=300, posts=4521, verified=True)
    profile = parse.profile_of(actor.detailed())
    assert profile.handle == "customer8.bsky.social"
    assert profile.name == "Ana Lúcia"
    assert (profile.followers, profile.following, profile.posts) == (1200, 300, 4521)
    assert profile.verified is True
    assert profile.created_at == dt.datetime(2023, 5, 2, 18, 4, 11, tzinfo=dt.UTC)
    assert profile.url == "https://bsky.app/profile/customer8.bsky.social"
    assert profile.avatar_url.startswith("https://cdn.bsky.app/")


def test_record_keys_are_valid_tids_and_the_same_for_the_same_message() -> None:
    key = record_key("hubbub-message-7", "at://did:plc:x/app.bsky.feed.post/3k", "Sorry!")
    assert key == record_key("hubbub-message-7", "at://did:plc:x/app.bsky.feed.post/3k", "Sorry!")
    assert key != record_key("hubbub-message-8", "at://did:plc:x/app.bsky.feed.post/3k", "Sorry!")
    assert len(key) == 13
    assert key[0] in "234567abcdefghij"  # the top bit is 0
    assert set(key) <= set("234567abcdefghijklmnopqrstuvwxyz")
