"""Assignment: claim, assign, reassign, unassign, and round-robin within a team."""

from __future__ import annotations

import pytest

from hubbub.accounts.models import AgentProfile, Role, Status, User
from hubbub.accounts.tests.factories import Cast, UserFactory
from hubbub.care import assignment, services
from hubbub.care.models import Activity, ActivityKind, AgentLoad, ConversationStatus, TeamSettings
from hubbub.care.tests.factories import arrives, posted
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.models import EventRecord

pytestmark = pytest.mark.django_db


def online(*people: User) -> None:
    AgentProfile.objects.filter(user__in=people).update(status=Status.ONLINE)


def agent(cast: Cast, name: str, *, capacity: int | None = None) -> User:
    person: User = UserFactory(
        email=f"{name.lower()}@brightwave.test",
        workspace=cast.brightwave,
        role=Role.AGENT,
        teams=[cast.care],
        profile__display_name=name,
    )
    if capacity is not None:
        AgentLoad.objects.create(user=person, capacity=capacity)
    return person


class TestClaimAndAssign:
    def test_claiming_an_unassigned_conversation_makes_it_mine_and_open(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        claimed = assignment.claim_conversation(actor=cast.cara, conversation_id=conversation.pk)
        assert (claimed.assignee, claimed.status) == (cast.cara, ConversationStatus.OPEN)
        entry = Activity.objects.get(conversation=conversation, kind=ActivityKind.ASSIGNED)
        assert entry.summary == "Cara took the conversation"
        event = EventRecord.objects.filter(kind="conversation_changed").get()
        assert event.payload["assignee_id"] == cast.cara.pk

    def test_a_second_agent_cannot_claim_what_another_took_a_moment_ago(self, cast: Cast) -> None:
        dana = agent(cast, "Dana")
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        assignment.claim_conversation(actor=dana, conversation_id=conversation.pk)
        with pytest.raises(Conflict, match="Dana took this conversation"):
            assignment.claim_conversation(actor=cast.cara, conversation_id=conversation.pk)

    def test_a_reassignment_records_who_from_whom_to_whom_and_why(self, cast: Cast) -> None:
        dana = agent(cast, "Dana")
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        assignment.claim_conversation(actor=cast.cara, conversation_id=conversation.pk)
        assignment.assign_conversation(
            actor=cast.lee,
            conversation_id=conversation.pk,
            assignee_id=dana.pk,
            note="Dana knows the  billing system",
        )
        entry = Activity.objects.filter(conversation=conversation).order_by("-id").first()
        assert entry is not None
        assert entry.summary == (
            "Lee reassigned the conversation from Cara to Dana: “Dana knows the billing system”"
        )
        assert entry.detail["from"] == cast.cara.pk
        assert entry.detail["to"] == dana.pk
        unassigned = assignment.assign_conversation(
            actor=cast.lee, conversation_id=conversation.pk, assignee_id=None
        )
        assert unassigned.assignee is None

    def test_nobody_off_the_team_read_only_or_from_another_workspace_can_be_given_it(
        self, cast: Cast
    ) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        for outsider in (cast.nico, cast.rita, cast.bill, cast.otto):
            with pytest.raises(ValidationFailed):
                assignment.assign_conversation(
                    actor=cast.lee, conversation_id=conversation.pk, assignee_id=outsider.pk
                )
        with pytest.raises(NotFound):
            assignment.claim_conversation(actor=cast.nico, conversation_id=conversation.pk)

    def test_a_resolved_conversation_is_reopened_before_it_is_assigned(self, cast: Cast) -> None:
        conversation = arrives(cast, "tom.example", 0, team=cast.care)
        services.change_status(actor=cast.lee, conversation_id=conversation.pk, status="resolved")
        with pytest.raises(Conflict):
            assignment.assign_conversation(
                actor=cast.lee, conversation_id=conversation.pk, assignee_id=cast.cara.pk
            )


class TestRoundRobin:
    def test_new_conversations_go_round_the_online_members_with_room(self, cast: Cast) -> None:
        TeamSettings.objects.create(team=cast.care, auto_assign=True)
        dana, eli = agent(cast, "Dana"), agent(cast, "Eli")
        away = agent(cast, "Fay")
        online(dana, eli, cast.cara)
        AgentProfile.objects.filter(user=away).update(status=Status.AWAY)
        owners = [
            arrives(cast, f"customer{n}.example", n, team=cast.care).assignee for n in range(6)
        ]
        assert away not in owners
        # Everyone online had a turn before anyone had a second.
        assert sorted(o.pk for o in owners[:3] if o) == sorted([dana.pk, eli.pk, cast.cara.pk])
        assert sorted(o.pk for o in owners[3:] if o) == sorted([dana.pk, eli.pk, cast.cara.pk])
        summary = Activity.objects.filter(kind=ActivityKind.ASSIGNED).first()
        assert summary is not None
        assert summary.summary.startswith("Automatic assignment assigned")

    def test_someone_at_capacity_is_skipped_and_when_all_are_full_it_waits(
        self, cast: Cast
    ) -> None:
        TeamSettings.objects.create(team=cast.care, auto_assign=True)
        dana = agent(cast, "Dana", capacity=1)
        eli = agent(cast, "Eli", capacity=2)
        online(dana, eli)
        owners = [
            arrives(cast, f"customer{n}.example", n, team=cast.care).assignee for n in range(4)
        ]
        assert owners.count(dana) == 1
        assert owners.count(eli) == 2
        assert owners[-1] is None  # waits in "unassigned"

    def test_teams_without_automatic_assignment_leave_new_conversations_unassigned(
        self, cast: Cast
    ) -> None:
        online(cast.cara)
        assert arrives(cast, "tom.example", 0, team=cast.care).assignee is None

    def test_one_batch_spreads_over_the_team(self, cast: Cast) -> None:
        TeamSettings.objects.create(team=cast.care, auto_assign=True)
        dana = agent(cast, "Dana")
        online(dana, cast.cara)
        posts = [posted(cast, f"customer{n}.example", n, team=cast.care) for n in range(4)]
        services.thread_mentions(mention_ids=[p.pk for p in posts])
        counts = {person: person.assigned_conversations.count() for person in (dana, cast.cara)}
        assert counts == {dana: 2, cast.cara: 2}
