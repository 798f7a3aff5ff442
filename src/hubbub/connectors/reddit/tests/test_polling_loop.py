"""The shared polling loop follows a Reddit source end to end, in its own thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors import polling
from hubbub.connectors.base import read_cursor
from hubbub.connectors.reddit import connector
from hubbub.connectors.reddit.tests.fake import FakeReddit, customer_texts
from hubbub.connectors.reddit.tests.support import make_source
from hubbub.listening.models import InboundPost, Source, SourceStatus

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def follow(source_id: int, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            polling.run(source_id, stop, connector.poll, interval=0.05)
        finally:
            connection.close()  # the thread's own connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_polling_loop_stores_new_comments_as_they_come_and_keeps_its_place(
    reddit: FakeReddit, committed_cast: Cast
) -> None:
    texts = customer_texts()
    thread = reddit.add_submission(texts[60])
    first = {reddit.add_comment(text, parent=thread) for text in texts[61:66]}
    reddit.inject("/r/brightwave/comments", {"kind": "t1", "data": {"name": "t1_broken"}})
    source = make_source(
        committed_cast, reddit, mode="subreddit_comments", subreddits=["brightwave"]
    )
    stop = threading.Event()
    follower = follow(source.pk, stop)
    try:
        wait_until(lambda: InboundPost.objects.filter(source=source).count() == 5, "5 posts")
        later = {reddit.add_comment(text, parent=thread) for text in texts[66:69]}
        wait_until(lambda: InboundPost.objects.filter(source=source).count() == 8, "3 more")
    finally:
        stop.set()
        follower.join(timeout=30)
    assert not follower.is_alive()
    stored = set(InboundPost.objects.filter(source=source).values_list("external_id", flat=True))
    assert stored == first | later
    source = Source.objects.get(pk=source.pk)
    assert source.status == SourceStatus.ACTIVE
    assert source.accepted_count == 8
    assert source.rejected_count == 1
    assert source.rate_limit_remaining is not None
    feed = read_cursor(source.cursor)["feeds"]["comments:r/brightwave"]
    assert set(feed["seen"]) >= first | later
    assert len(reddit.requests_to("/api/v1/access_token")) == 1


def test_refused_credentials_stop_the_loop_and_mark_the_source_failing(
    reddit: FakeReddit, committed_cast: Cast
) -> None:
    from hubbub.connectors.reddit.tests.support import credentials

    source = make_source(committed_cast, reddit, creds=credentials(password="wrong"))
    stop = threading.Event()
    follower = follow(source.pk, stop)
    follower.join(timeout=30)
    assert not follower.is_alive()  # it stopped by itself: a person must act
    source = Source.objects.get(pk=source.pk)
    assert source.status == SourceStatus.FAILING
    assert "invalid_grant" in source.last_error
