"""Settings › Channels: connecting the brand's account that replies go out from."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.models import User
from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import services
from hubbub.connectors.models import ChannelAccount
from hubbub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


def mastodon(**fields: str) -> services.ChannelInput:
    values = {
        "platform": "mastodon",
        "name": "Brightwave on Mastodon",
        "handle": "@brightwave",
        "base_url": "https://93.184.215.14",
        **fields,
    }
    return services.ChannelInput(
        platform=values["platform"],
        name=values["name"],
        handle=values["handle"],
        base_url=values["base_url"],
        credentials={"access_token": fields.get("access_token", "token-one")},
        transport=fields.get("transport", "live"),
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_connects_the_brands_account(cast: Cast) -> None:
    account = services.save_channel_account(actor=cast.ada, given=mastodon())
    assert (account.platform, account.handle, account.enabled) == ("mastodon", "brightwave", True)
    assert account.secret == "token-one"  # one credential: stored as the token itself


def test_only_admins_connect_accounts(cast: Cast) -> None:
    for person in (cast.lee, cast.cara):
        with pytest.raises(Forbidden):
            services.save_channel_account(actor=person, given=mastodon())
    assert (
        signed_in(cast.lee).get(reverse("connectors:new_channel", args=["mastodon"])).status_code
        == 404
    )


def test_a_platform_without_a_sender_cannot_be_connected(cast: Cast) -> None:
    with pytest.raises(ValidationFailed):
        services.save_channel_account(actor=cast.ada, given=mastodon(platform="hackernews"))


def test_an_address_hubbub_would_not_fetch_is_refused(cast: Cast) -> None:
    with pytest.raises(ValidationFailed) as refused:
        services.save_channel_account(actor=cast.ada, given=mastodon(base_url="http://10.1.2.3"))
    assert refused.value.field == "base_url"


def test_one_enabled_account_per_platform(cast: Cast) -> None:
    first = services.save_channel_account(actor=cast.ada, given=mastodon())
    with pytest.raises(Conflict):
        services.save_channel_account(actor=cast.ada, given=mastodon(name="Second"))
    services.set_channel_enabled(actor=cast.ada, account_id=first.pk, enabled=False)
    second = services.save_channel_account(actor=cast.ada, given=mastodon(name="Second"))
    assert second.enabled
    with pytest.raises(Conflict):
        services.set_channel_enabled(actor=cast.ada, account_id=first.pk, enabled=True)


def test_an_empty_credential_keeps_the_stored_one(cast: Cast) -> None:
    account = services.save_channel_account(actor=cast.ada, given=mastodon())
    changed = services.save_channel_account(
        actor=cast.ada, given=mastodon(name="Renamed", access_token=""), account_id=account.pk
    )
    assert (changed.name, changed.secret) == ("Renamed", "token-one")


def test_another_workspace_cannot_see_or_change_an_account(cast: Cast) -> None:
    account = services.save_channel_account(actor=cast.ada, given=mastodon())
    with pytest.raises(NotFound):
        services.set_channel_enabled(actor=cast.otto, account_id=account.pk, enabled=False)
    with pytest.raises(NotFound):
        services.delete_channel_account(actor=cast.otto, account_id=account.pk)
    assert (
        signed_in(cast.otto).get(reverse("connectors:channel", args=[account.pk])).status_code
        == 404
    )
    assert (
        "Brightwave on Mastodon"
        not in signed_in(cast.otto).get(reverse("connectors:channels")).content.decode()
    )


def test_the_secret_never_comes_back_to_the_page(cast: Cast) -> None:
    client = signed_in(cast.ada)
    response = client.post(
        reverse("connectors:new_channel", args=["mastodon"]),
        {
            "name": "Brightwave on Mastodon",
            "handle": "brightwave",
            "base_url": "https://93.184.215.14",
            "access_token": "very-secret-token",
            "transport": "live",
        },
    )
    account = ChannelAccount.objects.get(workspace=cast.brightwave)
    assert response["Location"] == reverse("connectors:channel", args=[account.pk])
    page = client.get(response["Location"]).content.decode()
    assert "very-secret-token" not in page
    assert "Saved — type to replace" in page
    listing = client.get(reverse("connectors:channels")).content.decode()
    assert "Brightwave on Mastodon" in listing
    assert "In use" in listing


def test_test_sign_in_signs_in_on_the_platform(cast: Cast, settings: object) -> None:
    from hubbub.connectors.bluesky.tests.fake import APP_PASSWORD, BRAND_HANDLE, running_bluesky

    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]  # type: ignore[attr-defined]
    with running_bluesky() as fake:
        given = services.ChannelInput(
            platform="bluesky",
            name="Brightwave on Bluesky",
            handle=BRAND_HANDLE,
            base_url=fake.url,
            credentials={"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD},
        )
        said = services.check_channel_account(actor=cast.ada, given=given)
    assert said == f"Signed in as @{BRAND_HANDLE}"


def test_a_changed_address_needs_the_credentials_again(cast: Cast) -> None:
    account = services.save_channel_account(actor=cast.ada, given=mastodon())
    moved = mastodon(base_url="https://93.184.215.15", access_token="")
    with pytest.raises(ValidationFailed, match="type the credentials again"):
        services.save_channel_account(actor=cast.ada, given=moved, account_id=account.pk)
    with pytest.raises(ValidationFailed, match="type the credentials again"):
        services.check_channel_account(actor=cast.ada, given=moved, account_id=account.pk)
    retyped = mastodon(base_url="https://93.184.215.15", access_token="token-two")
    changed = services.save_channel_account(actor=cast.ada, given=retyped, account_id=account.pk)
    assert (changed.base_url, changed.secret) == ("https://93.184.215.15", "token-two")
