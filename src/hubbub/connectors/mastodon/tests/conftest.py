"""Fixtures for the Mastodon connector's tests: a local instance or two, and sources on them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import SourceConfig
from hubbub.connectors.mastodon.tests.fake import TOKEN, FakeMastodon, running_mastodon
from hubbub.listening.models import Source, SourceKind
from hubbub.listening.tests.factories import SourceFactory

MakeSource = Callable[..., Source]


@pytest.fixture
def mastodon(settings: Any) -> Iterator[FakeMastodon]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_mastodon() as fake:
        yield fake


@pytest.fixture
def other_instance(settings: Any) -> Iterator[FakeMastodon]:
    """A second server, where the same posts have other ids."""
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    with running_mastodon(host="mastodon.example", id_base=114_500_000_000_000_000) as fake:
        yield fake


def make_source(
    cast: Cast, fake: FakeMastodon, *, token: str | None = TOKEN, cursor: str = "", **settings: Any
) -> Source:
    values = {"instance": fake.url, "mode": "hashtag", "hashtag": "brightwave", **settings}
    credentials = json.dumps({"access_token": token}) if token else ""
    made: Source = SourceFactory(
        workspace=cast.brightwave,
        kind=SourceKind.MASTODON,
        name=f"Mastodon {fake.host} {values['mode']}",
        settings=values,
        credentials=credentials,
        cursor=cursor,
    )
    return made


def config_for(cast: Cast, fake: FakeMastodon, **settings: Any) -> SourceConfig:
    return polling.config_of(make_source(cast, fake, **settings))
