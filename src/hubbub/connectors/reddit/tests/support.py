"""Helpers for the Reddit connector's tests: sources and accounts that point at the fake."""

from __future__ import annotations

import json
from typing import Any

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.base import SourceConfig
from hubbub.connectors.outbound import Account
from hubbub.connectors.polling import config_of
from hubbub.connectors.reddit.tests.fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    USERNAME,
    FakeReddit,
)
from hubbub.listening.models import Source, SourceKind


def credentials(**changes: str) -> dict[str, str]:
    values = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USERNAME,
        "password": PASSWORD,
    }
    return {**values, **changes}


def make_source(
    cast: Cast, fake: FakeReddit, *, creds: dict[str, str] | None = None, **settings: Any
) -> Source:
    """A reddit Source row pointing at the fake (credentials stored as a JSON string)."""
    values = {"auth_base": fake.url, "api_base": fake.url, "mode": "search", "query": "iphone"}
    return Source.objects.create(
        workspace=cast.brightwave,
        name=f"Reddit {Source.objects.count() + 1}",
        kind=SourceKind.REDDIT,
        settings={**values, **settings},
        credentials=json.dumps(creds or credentials()),
    )


def config(source: Source) -> SourceConfig:
    """The source as the polling loop hands it to the connector, cursor included."""
    source.refresh_from_db()
    return config_of(source)


def account(fake: FakeReddit, **changes: str) -> Account:
    return Account(
        platform="reddit",
        transport="live",
        handle=f"u/{USERNAME}",
        base_url=fake.url,
        secret=json.dumps({**credentials(**changes), "auth_base": fake.url}),
    )
