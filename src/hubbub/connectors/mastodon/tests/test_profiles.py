"""Looking up a customer's Mastodon profile through the source's instance."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import ConnectorError
from hubbub.connectors.mastodon import connector
from hubbub.connectors.mastodon.tests.conftest import config_for
from hubbub.connectors.mastodon.tests.fake import FakeMastodon, account

pytestmark = pytest.mark.django_db


def test_a_remote_account_s_figures_come_from_lookup(cast: Cast, mastodon: FakeMastodon) -> None:
    tom = account("tom", "m.example", display_name="Tom <b>R</b>", local=False)
    tom.update(
        bot=True,
        note="<p>Engineer &amp; cyclist<br />Leeds</p><script>x()</script>",
        fields=[{"name": "Blog", "value": "…", "verified_at": "2025-01-01T00:00:00.000Z"}],
    )
    mastodon.accounts["tom@m.example"] = tom
    profile = connector.fetch_profile(config_for(cast, mastodon), "@tom@m.example")
    (request,) = mastodon.requests_to("/api/v1/accounts/lookup")
    assert request.query["acct"] == ["tom@m.example"]
    assert profile.handle == "tom@m.example"
    assert profile.name == "Tom <b>R</b>"  # a name is text, whatever it looks like
    assert profile.description == "Engineer & cyclist\nLeeds"
    assert (profile.followers, profile.following, profile.posts) == (
        tom["followers_count"],
        tom["following_count"],
        tom["statuses_count"],
    )
    assert profile.created_at == dt.datetime(2022, 11, 3, tzinfo=dt.UTC)
    assert profile.url == "https://m.example/@tom"
    assert profile.avatar_url == "https://m.example/avatars/tom.png"
    assert profile.external_id == "https://m.example/users/tom"
    assert profile.extra["bot"] is True
    assert profile.extra["verified_links"] == ["Blog"]


def test_the_instance_s_own_accounts_are_named_with_its_domain(
    cast: Cast, mastodon: FakeMastodon
) -> None:
    profile = connector.fetch_profile(config_for(cast, mastodon), "brightwave")
    assert profile.handle == f"brightwave@{mastodon.host}"


def test_an_unknown_account_is_a_clear_permanent_error(cast: Cast, mastodon: FakeMastodon) -> None:
    with pytest.raises(ConnectorError, match="Record not found") as error:
        connector.fetch_profile(config_for(cast, mastodon), "nobody@m.example")
    assert not error.value.transient


def test_an_answer_that_is_not_an_account_is_malformed(cast: Cast, mastodon: FakeMastodon) -> None:
    mastodon.raw_next("/api/v1/accounts/lookup", '["tom"]')
    with pytest.raises(ConnectorError, match="not an account") as error:
        connector.fetch_profile(config_for(cast, mastodon), "tom@m.example")
    assert error.value.code == "malformed"


def test_the_connector_says_what_it_can_do() -> None:
    capabilities = connector.CAPABILITIES
    assert (capabilities.listen, capabilities.reply, capabilities.private_message) == (
        True,
        True,
        True,
    )
    assert capabilities.profile
