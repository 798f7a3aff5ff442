"""The Reddit connector's tests run against a local fake Reddit (see fake.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hubbub.connectors.reddit.tests.fake import FakeReddit, customer_texts, running_reddit
from hubbub.datasets import DataMissing


@pytest.fixture
def reddit(settings: Any) -> Iterator[FakeReddit]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]
    try:
        customer_texts()
    except DataMissing as error:
        pytest.skip(f"the shared TWCS sample is missing: {error}")
    with running_reddit() as fake:
        yield fake
