"""Events go out only after the publisher's transaction commits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import transaction

from hubbub.core import events
from hubbub.core.events import Event, Published, publish
from hubbub.core.models import EventRecord, Workspace
from hubbub.core.selectors import events_for
from hubbub.core.types import Audience

pytestmark = pytest.mark.django_db

received: list[Published] = []


@dataclass(frozen=True, slots=True, kw_only=True)
class Pinged(Event):
    kind = "test_pinged"
    note: str


def record(published: Published) -> None:
    received.append(published)


def explode(published: Published) -> None:
    raise RuntimeError("subscriber bug")


@pytest.fixture(autouse=True)
def subscribers(monkeypatch: pytest.MonkeyPatch) -> None:
    received.clear()
    monkeypatch.setattr(
        "hubbub.core.subscribers.SUBSCRIBERS",
        {"test_pinged": (f"{__name__}.explode", f"{__name__}.record")},
    )


@pytest.fixture
def workspace() -> Workspace:
    return Workspace.objects.create(name="W", slug="w")


def test_subscribers_run_only_after_commit(
    workspace: Workspace, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        publish(Pinged(note="hi"), workspace_id=workspace.pk)
        assert received == []
    assert len(callbacks) == 1
    assert [p.event for p in received] == [Pinged(note="hi")]


def test_a_rolled_back_event_leaves_no_trace(
    workspace: Workspace, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                publish(Pinged(note="never"), workspace_id=workspace.pk)
                raise ValueError("the service failed")
        except ValueError:
            pass
    assert callbacks == []
    assert received == []
    assert not EventRecord.objects.filter(kind="test_pinged").exists()


def test_a_failing_subscriber_does_not_stop_the_others(
    workspace: Workspace, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(note="still delivered"), workspace_id=workspace.pk)
    assert len(received) == 1


def test_an_event_without_a_kind_is_a_programming_error(workspace: Workspace) -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Nameless(Event):
        pass

    with pytest.raises(ValueError, match="no kind"):
        events.publish(Nameless(), workspace_id=workspace.pk)


def test_the_stream_query_respects_workspace_team_and_person(workspace: Workspace) -> None:
    other = Workspace.objects.create(name="O", slug="o")
    publish(Pinged(note="everyone"), workspace_id=workspace.pk)
    publish(Pinged(note="team 1"), workspace_id=workspace.pk, team_ids=[1])
    publish(Pinged(note="team 2"), workspace_id=workspace.pk, team_ids=[2])
    publish(Pinged(note="teams 2 and 11"), workspace_id=workspace.pk, team_ids=[2, 11])
    publish(Pinged(note="no team: leads only"), workspace_id=workspace.pk, team_ids=[])
    publish(Pinged(note="for user 7"), workspace_id=workspace.pk, user_id=7)
    publish(Pinged(note="other brand"), workspace_id=other.pk)

    def notes(audience: Audience) -> list[str]:
        return [e.payload["note"] for e in events_for(audience=audience, after_id=0)]

    agent = Audience(workspace_id=workspace.pk, user_id=7, team_ids=frozenset({1}))
    other_agent = Audience(workspace_id=workspace.pk, user_id=9, team_ids=frozenset({1, 11}))
    lead = Audience(workspace_id=workspace.pk, user_id=8, team_ids=None)
    assert notes(agent) == ["everyone", "team 1", "for user 7"]
    # ",1," must not match inside ",11,": ids are matched whole.
    assert notes(other_agent) == ["everyone", "team 1", "teams 2 and 11"]
    assert notes(lead) == ["everyone", "team 1", "team 2", "teams 2 and 11", "no team: leads only"]


def test_old_events_are_pruned_and_recent_ones_kept(workspace: Workspace) -> None:
    import datetime as dt

    from hubbub.core import clock
    from hubbub.core.services import prune_events

    old = publish(Pinged(note="yesterday"), workspace_id=workspace.pk)
    EventRecord.objects.filter(pk=old.id).update(created_at=clock.now() - dt.timedelta(hours=25))
    recent = publish(Pinged(note="now"), workspace_id=workspace.pk)
    assert prune_events() == 1
    assert list(EventRecord.objects.values_list("id", flat=True)) == [recent.id]


def test_late_commits_are_found_behind_the_newest_id(workspace: Workspace) -> None:
    import datetime as dt

    from hubbub.core import clock
    from hubbub.core.selectors import late_events_for

    first = publish(Pinged(note="committed late"), workspace_id=workspace.pk)
    second = publish(Pinged(note="seen"), workspace_id=workspace.pk)
    audience = Audience(workspace_id=workspace.pk, user_id=1, team_ids=None)
    since = clock.now() - dt.timedelta(seconds=10)
    late = late_events_for(
        audience=audience, after_id=0, upto_id=second.id, since=since, skip={second.id}
    )
    assert [event.id for event in late] == [first.id]
