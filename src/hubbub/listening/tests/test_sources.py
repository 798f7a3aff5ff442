"""Settings › Sources: adding, changing, pausing and deleting a source, and who may."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.models import User
from hubbub.accounts.tests.factories import Cast
from hubbub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hubbub.listening import services, sources
from hubbub.listening.models import InboundPost, Source, SourceStatus
from hubbub.listening.tests.factories import SourceFactory
from hubbub.listening.types import Rejection

pytestmark = pytest.mark.django_db

LOCAL = ["127.0.0.0/8"]


def mastodon(**settings: str) -> sources.SourceInput:
    return sources.SourceInput(
        name="Mastodon #brightwave",
        kind="mastodon",
        settings={"instance": "http://127.0.0.1:8080", "mode": "hashtag", **settings},
        credentials={"access_token": "token-one"},
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def local_addresses(settings: object) -> None:
    settings.HUBBUB_SAFE_HTTP_ALLOW = LOCAL  # type: ignore[attr-defined]


def test_an_admin_adds_a_source_with_its_settings_cleaned(cast: Cast) -> None:
    source = sources.save_source(
        actor=cast.ada, given=mastodon(hashtag="brightwave", poll_seconds="120", query="ignored")
    )
    assert source.workspace == cast.brightwave
    assert source.status == SourceStatus.ACTIVE
    # The search field belongs to another mode: not kept.
    assert source.settings == {
        "instance": "http://127.0.0.1:8080",
        "mode": "hashtag",
        "hashtag": "brightwave",
        "poll_seconds": 120,
    }
    assert json.loads(source.credentials) == {"access_token": "token-one"}


def test_credentials_are_stored_encrypted(cast: Cast) -> None:
    from django.db import connection

    source = sources.save_source(actor=cast.ada, given=mastodon(hashtag="brightwave"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM listening_source WHERE id = %s", [source.pk])
        stored = cursor.fetchone()[0]
    assert "token-one" not in stored


def test_only_admins_manage_sources(cast: Cast) -> None:
    for person in (cast.lee, cast.cara, cast.rita):
        with pytest.raises(Forbidden):
            sources.save_source(actor=person, given=mastodon(hashtag="brightwave"))


def test_bad_settings_are_refused_with_the_field_named(cast: Cast) -> None:
    with pytest.raises(ValidationFailed) as unsafe:
        sources.save_source(actor=cast.ada, given=mastodon(instance="http://169.254.169.254"))
    assert unsafe.value.field == "instance"
    assert "link-local" in unsafe.value.message
    with pytest.raises(ValidationFailed) as too_fast:
        sources.save_source(actor=cast.ada, given=mastodon(poll_seconds="1"))
    assert too_fast.value.field == "poll_seconds"
    with pytest.raises(ValidationFailed) as no_mode:
        sources.save_source(actor=cast.ada, given=mastodon(mode="everything"))
    assert no_mode.value.field == "mode"
    with pytest.raises(ValidationFailed):
        sources.save_source(actor=cast.ada, given=sources.SourceInput("Sneaky", "replay", {}, {}))


def test_changing_what_a_source_reads_starts_it_afresh_but_its_pace_does_not(cast: Cast) -> None:
    source = sources.save_source(actor=cast.ada, given=mastodon(hashtag="brightwave"))
    Source.objects.filter(pk=source.pk).update(cursor='{"min_id": "113"}')
    slower = sources.save_source(
        actor=cast.ada,
        given=mastodon(hashtag="brightwave", poll_seconds="300"),
        source_id=source.pk,
    )
    assert slower.cursor == '{"min_id": "113"}'
    other = sources.save_source(
        actor=cast.ada, given=mastodon(hashtag="brightwavehelp"), source_id=source.pk
    )
    assert other.cursor == ""


def test_an_empty_credential_keeps_the_stored_one(cast: Cast) -> None:
    source = sources.save_source(actor=cast.ada, given=mastodon(hashtag="brightwave"))
    kept = sources.save_source(
        actor=cast.ada,
        given=sources.SourceInput(
            "Renamed", "mastodon", mastodon(hashtag="brightwave").settings, {"access_token": ""}
        ),
        source_id=source.pk,
    )
    assert kept.name == "Renamed"
    assert json.loads(kept.credentials) == {"access_token": "token-one"}


def test_pause_resume_and_a_failing_source_tried_again(cast: Cast) -> None:
    source: Source = SourceFactory(workspace=cast.brightwave, kind="mastodon")
    assert sources.pause_source(actor=cast.ada, source_id=source.pk).status == SourceStatus.PAUSED
    assert sources.resume_source(actor=cast.ada, source_id=source.pk).status == "active"
    Source.objects.filter(pk=source.pk).update(status=SourceStatus.FAILING)
    assert sources.resume_source(actor=cast.ada, source_id=source.pk).status == "active"


def test_a_source_whose_posts_wait_for_the_pipeline_is_not_deleted(cast: Cast) -> None:
    source: Source = SourceFactory(workspace=cast.brightwave, kind="mastodon")
    InboundPost.objects.create(
        workspace=cast.brightwave, source=source, platform="mastodon", external_id="u1", post={}
    )
    with pytest.raises(Conflict):
        sources.delete_source(actor=cast.ada, source_id=source.pk)
    InboundPost.objects.update(processed_at="2026-11-24T09:00:00Z")
    sources.delete_source(actor=cast.ada, source_id=source.pk)
    assert not Source.objects.filter(pk=source.pk).exists()


def test_another_workspace_cannot_touch_a_source(cast: Cast) -> None:
    source: Source = SourceFactory(workspace=cast.brightwave, kind="mastodon")
    for act in (sources.pause_source, sources.resume_source, sources.delete_source):
        with pytest.raises(NotFound):
            act(actor=cast.otto, source_id=source.pk)
    response = signed_in(cast.otto).get(reverse("listening:source", args=[source.pk]))
    assert response.status_code == 404
    listing = signed_in(cast.otto).get(reverse("listening:sources"))
    assert source.name not in listing.content.decode()


def test_the_sources_page_shows_status_today_budget_and_problems(cast: Cast) -> None:
    source: Source = SourceFactory(
        workspace=cast.brightwave,
        kind="mastodon",
        name="Hashtag <script>",
        rate_limit_remaining=280,
        rate_limit_limit=300,
        last_error="Mastodon had an error (502)",
    )
    InboundPost.objects.create(
        workspace=cast.brightwave, source=source, platform="mastodon", external_id="u1", post={}
    )
    page = signed_in(cast.ada).get(reverse("listening:sources")).content.decode()
    assert "Hashtag &lt;script&gt;" in page
    assert "280 of 300" in page
    assert "Mastodon had an error (502)" in page
    assert "Listening" in page
    assert reverse("listening:new_source", args=["mastodon"]) in page


def test_an_agent_sees_sources_but_no_form(cast: Cast) -> None:
    source: Source = SourceFactory(workspace=cast.brightwave, kind="mastodon")
    page = signed_in(cast.cara).get(reverse("listening:source", args=[source.pk]))
    assert page.status_code == 200
    assert "Test connection" not in page.content.decode()
    assert (
        signed_in(cast.cara).get(reverse("listening:new_source", args=["mastodon"])).status_code
        == 404
    )


def test_adding_a_source_in_the_browser_form(cast: Cast) -> None:
    client = signed_in(cast.ada)
    form = {
        "name": "Mastodon #brightwave",
        "instance": "http://127.0.0.1:8080",
        "mode": "hashtag",
        "hashtag": "brightwave",
        "poll_seconds": "60",
        "access_token": "secret-token-42",
    }
    response = client.post(reverse("listening:new_source", args=["mastodon"]), form)
    source = Source.objects.get(name="Mastodon #brightwave")
    assert response.status_code == 302
    assert response["Location"] == reverse("listening:source", args=[source.pk])
    page = client.get(response["Location"]).content.decode()
    assert "secret-token-42" not in page  # never shown again
    assert "Saved — type to replace" in page


def test_a_refused_form_keeps_what_was_typed_but_not_the_secret(cast: Cast) -> None:
    response = signed_in(cast.ada).post(
        reverse("listening:new_source", args=["mastodon"]),
        {
            "name": "Mine",
            "instance": "http://10.0.0.5",
            "mode": "hashtag",
            "hashtag": "bw",
            "access_token": "secret-token-42",
        },
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert "private address" in page
    assert 'value="bw"' in page
    assert "secret-token-42" not in page
    assert not Source.objects.filter(name="Mine").exists()


def test_the_detail_page_lists_rejected_items_escaped(cast: Cast) -> None:
    source: Source = SourceFactory(workspace=cast.brightwave, kind="mastodon")
    services.record_rejected_items(
        source_id=source.pk,
        rejected=[Rejection(reason="Not JSON", excerpt="<img src=x onerror=alert(1)>")],
    )
    page = signed_in(cast.ada).get(reverse("listening:source", args=[source.pk])).content.decode()
    assert "Not JSON" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page


def test_saved_credentials_never_follow_a_changed_address(cast: Cast) -> None:
    source = sources.save_source(actor=cast.ada, given=mastodon(hashtag="brightwave"))
    elsewhere = sources.SourceInput(
        name="Mastodon #brightwave",
        kind="mastodon",
        settings={"instance": "http://127.0.0.2:8080", "mode": "hashtag", "hashtag": "brightwave"},
        credentials={"access_token": ""},
    )
    with pytest.raises(ValidationFailed, match="type the credentials again") as refused:
        sources.save_source(actor=cast.ada, given=elsewhere, source_id=source.pk)
    assert refused.value.field == "access_token"
    with pytest.raises(ValidationFailed, match="type the credentials again"):
        sources.check_source(actor=cast.ada, given=elsewhere, source_id=source.pk)
    retyped = sources.SourceInput(
        elsewhere.name, "mastodon", elsewhere.settings, {"access_token": "token-for-there"}
    )
    moved = sources.save_source(actor=cast.ada, given=retyped, source_id=source.pk)
    assert json.loads(moved.credentials) == {"access_token": "token-for-there"}
