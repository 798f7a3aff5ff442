"""Presence: who has a conversation open, and who is typing to the customer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care.models import Presence
from hubbub.care.presence import present_on, report_presence
from hubbub.care.tests.factories import arrives
from hubbub.core import clock
from hubbub.core.errors import NotFound, ValidationFailed
from hubbub.core.models import EventRecord

pytestmark = pytest.mark.django_db


def sentences(cast: Cast, conversation_id: int) -> list[str]:
    return [p.sentence for p in present_on(conversation_id=conversation_id, besides=cast.cara)]


def test_others_see_who_views_and_who_types_but_heartbeats_send_no_event(cast: Cast) -> None:
    conversation = arrives(cast, "tom.example", 0, team=cast.care)
    report_presence(actor=cast.lee, conversation_id=conversation.pk, state="viewing")
    report_presence(actor=cast.ada, conversation_id=conversation.pk, state="typing")
    report_presence(actor=cast.cara, conversation_id=conversation.pk, state="viewing")
    assert sentences(cast, conversation.pk) == ["Ada is typing", "Lee is viewing"]
    report_presence(actor=cast.lee, conversation_id=conversation.pk, state="viewing")  # heartbeat
    assert EventRecord.objects.filter(kind="presence_changed").count() == 3
    report_presence(actor=cast.ada, conversation_id=conversation.pk, state="left")
    assert sentences(cast, conversation.pk) == ["Lee is viewing"]
    assert EventRecord.objects.filter(kind="presence_changed").count() == 4


def test_someone_who_stopped_reporting_drops_out(cast: Cast) -> None:
    conversation = arrives(cast, "tom.example", 0, team=cast.care)
    report_presence(actor=cast.lee, conversation_id=conversation.pk, state="typing")
    Presence.objects.update(seen_at=clock.now() - dt.timedelta(minutes=2))
    assert sentences(cast, conversation.pk) == []
    # Coming back is news again.
    report_presence(actor=cast.lee, conversation_id=conversation.pk, state="typing")
    assert EventRecord.objects.filter(kind="presence_changed").count() == 2


def test_presence_is_only_for_those_who_may_work_the_conversation(cast: Cast) -> None:
    conversation = arrives(cast, "tom.example", 0, team=cast.care)
    with pytest.raises(NotFound):
        report_presence(actor=cast.nico, conversation_id=conversation.pk, state="viewing")
    with pytest.raises(ValidationFailed):
        report_presence(actor=cast.cara, conversation_id=conversation.pk, state="dancing")
    client = Client()
    client.force_login(cast.otto)
    url = reverse("care:presence", args=[conversation.pk])
    assert client.post(url, {"state": "viewing"}).status_code == 404
    assert client.get(url).status_code == 404


def test_the_presence_bar_escapes_names(cast: Cast) -> None:
    conversation = arrives(cast, "tom.example", 0, team=cast.care)
    cast.lee.profile.display_name = "<b>Lee</b>"
    cast.lee.profile.save()
    report_presence(actor=cast.lee, conversation_id=conversation.pk, state="typing")
    client = Client()
    client.force_login(cast.cara)
    page = client.get(reverse("care:presence", args=[conversation.pk]))
    assert b"&lt;b&gt;Lee&lt;/b&gt; is typing" in page.content
