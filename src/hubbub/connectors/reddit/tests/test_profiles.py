"""Profiles: karma and account age stand in for reach; odd profiles are handled plainly."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import ConnectorError
from hubbub.connectors.reddit import connector
from hubbub.connectors.reddit.tests.fake import FakeReddit
from hubbub.connectors.reddit.tests.support import config, make_source
from hubbub.core import clock

pytestmark = pytest.mark.django_db


def test_a_profile_carries_karma_and_the_account_s_age(reddit: FakeReddit, cast: Cast) -> None:
    created = clock.now() - dt.timedelta(days=400, hours=1)
    reddit.add_user(
        "maya_k",
        created_utc=created.timestamp(),
        link_karma=1_204,
        comment_karma=8_877,
        total_karma=10_081,
    )
    profile = connector.fetch_profile(config(make_source(cast, reddit)), "u/maya_k")
    (request,) = reddit.requests_to("/user/maya_k/about")
    assert request.query == {"raw_json": "1"}
    assert profile.handle == "maya_k"
    assert profile.url == "https://www.reddit.com/user/maya_k/"
    assert profile.external_id.startswith("t2_")
    assert profile.followers == 42
    assert profile.created_at is not None
    assert abs((profile.created_at - created).total_seconds()) < 1
    assert profile.avatar_url.endswith("profileIcon_x.png?width=256&height=256")
    assert profile.extra == {
        "karma": 10_081,
        "link_karma": 1_204,
        "comment_karma": 8_877,
        "account_age_days": 400,
        "has_verified_email": True,
        "is_gold": False,
        "is_mod": False,
        "is_employee": False,
    }


def test_html_in_a_profile_s_display_name_stays_plain_text(reddit: FakeReddit, cast: Cast) -> None:
    reddit.add_user(
        "maya_k",
        subreddit={
            "title": '<img src=x onerror="alert(1)">Maya & co',
            "public_description": "<b>Brightwave</b> customer since 2019",
            "subscribers": 12,
        },
    )
    profile = connector.fetch_profile(config(make_source(cast, reddit)), "maya_k")
    # Text, as the owner typed it: templates escape it where it is shown.
    assert profile.name == '<img src=x onerror="alert(1)">Maya & co'
    assert profile.description == "<b>Brightwave</b> customer since 2019"


def test_a_suspended_account_gives_what_reddit_still_says(reddit: FakeReddit, cast: Cast) -> None:
    reddit.users["spam_bot_9"] = {"name": "spam_bot_9", "is_suspended": True, "total_karma": 0}
    profile = connector.fetch_profile(config(make_source(cast, reddit)), "spam_bot_9")
    assert (profile.handle, profile.created_at, profile.followers) == ("spam_bot_9", None, None)
    assert profile.extra == {
        "karma": 0,
        "link_karma": None,
        "comment_karma": None,
        "suspended": True,
    }


def test_karma_of_the_wrong_type_is_left_out(reddit: FakeReddit, cast: Cast) -> None:
    reddit.add_user("maya_k", total_karma="lots", link_karma=10, comment_karma=5, verified="yes")
    profile = connector.fetch_profile(config(make_source(cast, reddit)), "maya_k")
    assert profile.extra["karma"] == 15
    assert profile.verified is False


def test_an_unknown_user_is_a_permanent_error(reddit: FakeReddit, cast: Cast) -> None:
    with pytest.raises(ConnectorError, match="404") as caught:
        connector.fetch_profile(config(make_source(cast, reddit)), "nobody_here")
    assert not caught.value.transient


def test_a_handle_that_is_not_a_user_name_is_refused_without_a_request(
    reddit: FakeReddit, cast: Cast
) -> None:
    with pytest.raises(ConnectorError, match="not a Reddit user name"):
        connector.fetch_profile(config(make_source(cast, reddit)), "../api/v1/me")
    assert reddit.received == []
