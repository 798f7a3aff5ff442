"""Settings › Listening pipeline: the backlog, the posts set aside, and sending them back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.listening import services
from hubbub.listening.models import InboundPost, Source, SourceKind


def dead_post(source: Source, external_id: str) -> InboundPost:
    return InboundPost.objects.create(
        workspace_id=source.workspace_id,
        source=source,
        platform="bluesky",
        external_id=external_id,
        post={"text": "unreadable"},
        attempts=services.MAX_ATTEMPTS,
        last_error="KeyError: 'external_id'",
        dead_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
    )


@pytest.fixture
def sources(cast: Cast) -> tuple[Source, Source]:
    return (
        Source.objects.create(workspace=cast.brightwave, name="Ours", kind=SourceKind.BLUESKY),
        Source.objects.create(workspace=cast.elsewhere, name="Theirs", kind=SourceKind.BLUESKY),
    )


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_a_lead_sees_only_the_workspace_s_dead_posts_and_sends_one_back(
    cast: Cast, sources: tuple[Source, Source]
) -> None:
    ours, theirs = dead_post(sources[0], "ours-1"), dead_post(sources[1], "theirs-1")
    client = signed_in(cast.lee)
    page = client.get(reverse("listening:pipeline"))
    assert page.status_code == 200
    assert b"ours-1" in page.content
    assert b"theirs-1" not in page.content
    assert b"KeyError" in page.content
    assert b"Send all back" in page.content
    done = client.post(reverse("listening:replay_dead_posts"), {"id": ours.pk}, follow=True)
    assert b"1 post sent back to the pipeline." in done.content
    ours.refresh_from_db()
    assert (ours.dead_at, ours.attempts) == (None, 0)
    # Another workspace's id changes nothing.
    client.post(reverse("listening:replay_dead_posts"), {"id": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.dead_at is not None


def test_an_agent_sees_the_page_but_cannot_send_posts_back(
    cast: Cast, sources: tuple[Source, Source]
) -> None:
    post = dead_post(sources[0], "ours-1")
    client = signed_in(cast.cara)
    page = client.get(reverse("listening:pipeline"))
    assert page.status_code == 200
    assert b"Send all back" not in page.content
    refused = client.post(reverse("listening:replay_dead_posts"), follow=True)
    assert b"Only admins and team leads" in refused.content
    post.refresh_from_db()
    assert post.dead_at is not None


def test_the_page_says_when_nothing_is_set_aside(cast: Cast) -> None:
    page = signed_in(cast.ada).get(reverse("listening:pipeline"))
    assert b"Nothing set aside" in page.content
    assert b"Embedded" in page.content


def test_a_malformed_id_sends_nothing_back(cast: Cast, sources: tuple[Source, Source]) -> None:
    post = dead_post(sources[0], "ours-1")
    response = signed_in(cast.lee).post(
        reverse("listening:replay_dead_posts"), {"id": "1 OR 1=1"}, follow=True
    )
    assert b"That is not a post id." in response.content
    post.refresh_from_db()
    assert post.dead_at is not None
