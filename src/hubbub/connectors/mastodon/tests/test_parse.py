"""Statuses, Link headers and server-sent events as the reader understands them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from hubbub.connectors.mastodon import parse
from hubbub.connectors.mastodon.client import parse_link_header, query_value
from hubbub.connectors.mastodon.stream import MAX_EVENT_CHARS, Event, events_of
from hubbub.connectors.mastodon.tests.fake import HOST, FakeMastodon, customer_texts
from hubbub.listening.types import RawPost


@pytest.fixture
def server() -> FakeMastodon:
    return FakeMastodon()  # only its status builder: no server runs


def post_of(status: object) -> RawPost:
    return parse.status_to_post(status, workspace_id=1, source_id=2, domain=HOST)


def test_a_status_becomes_a_post_keyed_by_its_uri_with_the_local_id_in_the_payload(
    server: FakeMastodon,
) -> None:
    text = customer_texts(1, "router")[0]
    status = server.status(text, user="tom", domain="mastodon.example", display_name="Tom")
    post = post_of(status)
    assert post.external_id == status["uri"]
    assert post.external_id.startswith("https://mastodon.example/users/tom/statuses/")
    assert post.payload["id"] == status["id"]
    assert post.text == text
    assert post.url == status["url"]
    assert post.posted_at.tzinfo == dt.UTC
    assert post.lang == "en"
    assert (post.author_handle, post.author_name) == ("tom@mastodon.example", "Tom")
    assert post.author_external_id == "https://mastodon.example/users/tom"
    assert post.author_followers == status["account"]["followers_count"]
    assert post.author_following == status["account"]["following_count"]


def test_the_instance_s_own_accounts_get_its_host_in_their_handle(server: FakeMastodon) -> None:
    post = post_of(server.status("@brightwave my bill doubled", user="Ruth"))
    assert post.author_handle == f"ruth@{HOST}"


def test_html_becomes_plain_text_with_line_breaks_entities_and_whole_links(
    server: FakeMastodon,
) -> None:
    text = (
        "@brightwave the outage map says <fine> & green\n"
        "but nothing loads #brightwave\n\n"
        "see https://status.example.com/incidents/2026/11/24/outage-north-region"
    )
    post = post_of(server.status(text))
    assert post.text == text
    assert post.expanded_urls == (
        "https://status.example.com/incidents/2026/11/24/outage-north-region",
    )
    assert "&lt;fine&gt;" in post.html


def test_scripts_in_content_are_dropped_from_text_and_html(server: FakeMastodon) -> None:
    status = server.status("x")
    status["content"] = '<p>Still down<script>alert("x")</script> <b onclick="x()">today</b></p>'
    post = post_of(status)
    assert post.text == "Still down today"
    assert "script" not in post.html
    assert "onclick" not in post.html


def test_a_display_name_that_looks_like_html_stays_plain_text(server: FakeMastodon) -> None:
    status = server.status("@brightwave hello", display_name='<img src=x onerror="a()">Tom\x07')
    assert post_of(status).author_name == '<img src=x onerror="a()">Tom'


def test_a_content_warning_leads_the_text(server: FakeMastodon) -> None:
    post = post_of(server.status("my card was charged twice", spoiler_text="billing rant"))
    assert post.text == "CW: billing rant\n\nmy card was charged twice"
    assert post.html.startswith("<p>CW: billing rant</p>")


def test_a_boost_is_the_boosted_status(server: FakeMastodon) -> None:
    original = server.status("@brightwave no signal since Monday", user="tom", domain="m.example")
    boost = server.status("", user="ann", reblog=original, content="")
    post = post_of(boost)
    assert post.external_id == original["uri"]
    assert post.author_handle == "tom@m.example"


def test_a_status_with_only_described_media_keeps_the_descriptions(server: FakeMastodon) -> None:
    media = [{"type": "image", "description": "Router with a red light"}]
    status = server.status("", content="", media_attachments=media)
    assert post_of(status).text == "[image: Router with a red light]"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"uri": None}, "no uri"),
        ({"id": None}, "no id"),
        ({"created_at": "yesterday"}, "not a date"),
        ({"content": ["<p>hi</p>"]}, "not text"),
        ({"content": "<p>" + "a" * 100_001 + "</p>"}, "more than the 100,000"),
        ({"account": "tom"}, "no account"),
        ({"content": "", "media_attachments": []}, "no text"),
    ],
)
def test_a_status_that_cannot_be_a_post_says_why(
    server: FakeMastodon, change: dict[str, Any], reason: str
) -> None:
    status = {**server.status("fine"), **change}
    with pytest.raises(parse.BadStatus, match=reason):
        post_of(status)


def test_counts_of_the_wrong_type_are_left_empty(server: FakeMastodon) -> None:
    status = server.status("@brightwave hello")
    status["account"] = {**status["account"], "followers_count": "many", "following_count": True}
    post = post_of(status)
    assert (post.author_followers, post.author_following) == (None, None)


def test_a_reply_names_its_parent_by_uri_when_the_parent_came_in_the_same_batch(
    server: FakeMastodon,
) -> None:
    parent = server.status("@brightwave my router died", user="tom")
    child = server.status("@brightwave still dead", user="tom", in_reply_to=parent)
    orphan = server.status("@brightwave hello?", user="tom", in_reply_to={**parent, "id": "7"})
    linked = parse.link_replies([post_of(child), post_of(parent), post_of(orphan)])
    assert linked[0].reply_to_external_id == parent["uri"]
    assert linked[2].reply_to_external_id == ""
    assert linked[2].payload["in_reply_to_id"] == "7"


def test_ids_compare_by_length_then_text() -> None:
    assert parse.newer("100", "99")
    assert not parse.newer("99", "100")
    assert parse.newer("1", "")
    assert not parse.newer("", "1")


def test_the_link_header_names_the_next_and_previous_pages() -> None:
    header = (
        "<https://mastodon.example/api/v1/timelines/tag/brightwave?limit=40&max_id=1130>; "
        'rel="next", <https://mastodon.example/api/v1/timelines/tag/brightwave?limit=40'
        '&min_id=1190>; rel="prev"'
    )
    links = parse_link_header(header)
    assert query_value(links["next"], "max_id") == "1130"
    assert query_value(links["prev"], "min_id") == "1190"


def test_link_header_oddities_are_tolerated() -> None:
    links = parse_link_header(
        '<https://a.example/?min_id=5>;rel=prev, <https://a.example/x>; title="a, b"; '
        'rel="next last", <https://a.example/none>'
    )
    assert links == {
        "prev": "https://a.example/?min_id=5",
        "next": "https://a.example/x",
        "last": "https://a.example/x",
    }
    assert parse_link_header("") == {}


def test_server_sent_events_join_data_lines_and_pass_heartbeats_on() -> None:
    status = {"id": "1", "content": "<p>two\nlines</p>"}
    data = json.dumps(status, indent=1).split("\n")
    lines = [":)", "", ":thump", "event: update", *[f"data: {line}" for line in data], ""]
    lines += ["event: delete", "data: 1", "id: 9", "", "event: filters_changed", ""]
    events = list(events_of(lines))
    assert events[0] == Event("", ")", comment=True)
    assert events[1] == Event("", "thump", comment=True)
    assert events[2].name == "update"
    assert json.loads(events[2].data) == status
    assert events[3] == Event("delete", "1")
    assert len(events) == 4  # an event without data is not dispatched


def test_an_oversize_event_is_dropped_and_flagged() -> None:
    lines = [
        "event: update",
        "data: " + "x" * (MAX_EVENT_CHARS + 1),
        "",
        "event: update",
        "data: {}",
        "",
    ]
    events = list(events_of(lines))
    assert events == [Event("update", too_large=True), Event("update", "{}")]
