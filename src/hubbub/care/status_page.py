"""What the customer's status page shows: the stages of their case and the updates made public.

It reads only the conversation's status, its handoffs' states and the
`StatusUpdate` rows the owner wrote or published: never notes, never a
department's own words, never the private thread (which the case page
shows only to the browser that holds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from hubbub.care import csat
from hubbub.care.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffState,
    StatusUpdate,
    Survey,
)

MAX_UPDATES = 50


@dataclass(frozen=True, slots=True)
class Stage:
    label: str
    reached: bool
    current: bool


@dataclass(frozen=True, slots=True)
class StatusPage:
    status: str  # what the customer is told, in their words
    stages: tuple[Stage, ...]
    updates: list[StatusUpdate]  # newest first
    survey_link: str  # "" unless the case is resolved and its survey waits for an answer
    survey_answered: bool


def status_page(conversation: Conversation) -> StatusPage:
    """The stages (received → with <department> → fix in progress → resolved) and public updates.

    A case merged into another shows where it went: its handoff and updates moved there.
    """
    conversation = _followed(conversation)
    handoff = (
        Handoff.objects.filter(conversation=conversation)
        .exclude(state=HandoffState.WITHDRAWN)
        .order_by("-created_at", "-id")
        .first()
    )
    resolved = conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)
    survey = Survey.objects.filter(conversation=conversation).first()
    return StatusPage(
        status=_status_text(conversation.status),
        stages=_stages(handoff, resolved=resolved),
        updates=list(
            StatusUpdate.objects.filter(conversation=conversation).order_by("-created_at", "-id")[
                :MAX_UPDATES
            ]
        ),
        survey_link=csat.link_for(survey)
        if resolved and survey is not None and survey.answered_at is None
        else "",
        survey_answered=survey is not None and survey.answered_at is not None,
    )


MAX_MERGES = 10


def _followed(conversation: Conversation) -> Conversation:
    for _ in range(MAX_MERGES):
        if conversation.merged_into_id is None:
            break
        conversation = Conversation.objects.get(pk=conversation.merged_into_id)
    return conversation


def _status_text(status: str) -> str:
    match status:
        case ConversationStatus.RESOLVED | ConversationStatus.CLOSED:
            return "Resolved"
        case ConversationStatus.WAITING_CUSTOMER:
            return "Waiting for your answer"
        case ConversationStatus.WAITING_DEPARTMENT:
            return "With our specialists"
    return "We are on it"


def _stages(handoff: Handoff | None, *, resolved: bool) -> tuple[Stage, ...]:
    if handoff is None:
        steps = [("Received", True), ("We are on it", True), ("Resolved", resolved)]
    else:
        fixing = handoff.state in (HandoffState.IN_PROGRESS, HandoffState.DONE)
        steps = [
            ("Received", True),
            (f"With {handoff.department_name}", True),
            ("Fix in progress", fixing or resolved),
            ("Resolved", resolved),
        ]
    last_reached = max(index for index, (_, reached) in enumerate(steps) if reached)
    return tuple(
        Stage(label=label, reached=reached, current=index == last_reached)
        for index, (label, reached) in enumerate(steps)
    )
