"""Customer satisfaction: the short survey a resolved case sends, its one answer, the results.

Resolving with "send the survey" ticked creates one `Survey` per case (a
case resolved again keeps the first). Its link carries the survey's id
signed with the installation's secret key, so the customer answers without
an account and nobody can reach another case's survey. Email and chat get
five inline choices, each opening the page with that score chosen; social
gets one short line. A GET never records an answer, because mail scanners
open links: the customer confirms with a POST, and the answer is stored
once (a conditional UPDATE, safe against two tabs or a double click).

Results count surveys by agent, team and channel as they were when the
survey was sent, so moving a case later does not move its score.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, Q, QuerySet
from django.urls import reverse

from hubbub.accounts.models import User
from hubbub.accounts.selectors import workspace_id_of
from hubbub.care import audit
from hubbub.care.models import ActivityKind, Conversation, Survey
from hubbub.care.selectors import visible_conversations
from hubbub.care.services import announce_change
from hubbub.core import clock
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.links import absolute_url, sign_ids, signed_ids
from hubbub.crm.models import channel_name

SALT = "hubbub.care.survey"
MAX_COMMENT = 2000
SCORES = (1, 2, 3, 4, 5)
SCORE_LABELS = {1: "Very poor", 2: "Poor", 3: "Okay", 4: "Good", 5: "Excellent"}
# The usual CSAT: the share of answers scoring 4 or 5.
SATISFIED_FROM = 4
LATEST_COMMENTS = 20
# Control characters mean nothing in a comment, and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- Sending -----------------------------------------------------------------------------


@transaction.atomic
def start_survey(conversation: Conversation, *, agent: User | None) -> Survey:
    """The case's survey, created on its first resolution; the same one ever after.

    Called inside the resolve transaction. Team, agent (the owner) and
    channel are kept as they are now. A case reopened and resolved again
    gets its existing survey back unchanged: one survey per case.
    """
    survey, created = Survey.objects.get_or_create(
        conversation=conversation,
        defaults={
            "workspace_id": conversation.workspace_id,
            "team_id": conversation.team_id,
            "agent": agent,
            "channel": conversation.platform,
        },
    )
    if created:
        audit.record(
            conversation,
            actor=None,
            kind=ActivityKind.SURVEY_SENT,
            summary="Hubbub sent the satisfaction survey"
            + (f" for {audit.name_of(agent)}" if agent is not None else ""),
            detail={"survey_id": survey.pk, "agent_id": agent.pk if agent else None},
        )
        announce_change(conversation, what="survey", actor=None)
    return survey


def token_for(survey: Survey) -> str:
    """The same token every time for a survey (no timestamp): one link per case."""
    return sign_ids({"s": survey.pk, "c": survey.conversation_id}, salt=SALT)


def link_for(survey: Survey, score: int | None = None) -> str:
    """The survey's page; with `score`, the page opens with that score chosen (not recorded)."""
    path = reverse("care:survey", args=[token_for(survey)])
    query = f"?score={int(score)}" if score is not None else ""
    return absolute_url(path + query)


def inline_choices_text(survey: Survey) -> str:
    """The plain-text block for email and chat: five links, one per score."""
    lines = ["How did we do? Tap a number (1 = very poor, 5 = excellent):"]
    lines += [f"{score} {link_for(survey, score)}" for score in SCORES]
    return "\n".join(lines)


def survey_line(survey: Survey) -> str:
    """One short line with one link, for a public follow-up on social."""
    return f"How did we do? {link_for(survey)}"


# --- Answering ---------------------------------------------------------------------------


def survey_for(token: str) -> Survey:
    """The survey a token names; NotFound for a forged, altered or stale one."""
    ids = signed_ids(token, salt=SALT, keys=("s", "c"))
    survey = (
        None
        if ids is None
        else Survey.objects.select_related("conversation__workspace", "agent__profile")
        .filter(pk=ids["s"], conversation_id=ids["c"])
        .first()
    )
    if survey is None:
        raise NotFound("This survey link is not valid.", code="survey_not_found")
    return survey


def score_from(value: int | str | None) -> int | None:
    """A score of 1 to 5 from a form or a link, or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 1:
            return None
        value = int(value)
    return value if isinstance(value, int) and value in SCORES else None


@transaction.atomic
def answer_survey(*, token: str, score: int | str, comment: str = "") -> Survey:
    """Store the customer's score (1 to 5) and optional comment, once.

    Refused with nothing stored: a score outside 1 to 5 or a comment over
    2,000 characters (ValidationFailed), a second answer (Conflict, the
    first answer stays as it was), a link that is not valid (NotFound).
    """
    survey = survey_for(token)
    if survey.answered_at is not None:
        raise _answered_already()
    value = score_from(score)
    if value is None:
        raise ValidationFailed("Choose a score from 1 to 5.", field="score")
    text = _CONTROL.sub("", comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise ValidationFailed(
            f"Please keep your comment to {MAX_COMMENT:,} characters or fewer "
            f"(it has {len(text):,}).",
            field="comment",
        )
    now = clock.now()
    # Conditional: of two answers racing, exactly one finds the survey unanswered.
    stored = Survey.objects.filter(pk=survey.pk, answered_at__isnull=True).update(
        score=value, comment=text, answered_at=now
    )
    if not stored:
        raise _answered_already()
    survey.score, survey.comment, survey.answered_at = value, text, now
    conversation = survey.conversation
    audit.record(
        conversation,
        actor=None,
        kind=ActivityKind.SURVEY_ANSWERED,
        summary=f"The customer rated the service {value} out of 5 ({SCORE_LABELS[value]})"
        + (" and left a comment" if text else ""),
        detail={"survey_id": survey.pk, "score": value},
    )
    announce_change(conversation, what="survey", actor=None)
    return survey


def _answered_already() -> Conflict:
    return Conflict("You have answered already — thank you.", code="survey_answered")


# --- Results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """Surveys sent and answered in one group, and what the answers say.

    Rates are percentages with one decimal; None where there is nothing to
    divide (no survey sent, no answer yet).
    """

    label: str
    sent: int
    answered: int
    average: float | None  # the mean score of the answers, 1 to 5
    response_rate: float | None  # answered / sent
    csat: float | None  # answers scoring 4 or 5 / answers


@dataclass(frozen=True, slots=True)
class Comment:
    conversation_id: int
    score: int
    text: str
    answered_at: dt.datetime
    agent_name: str


@dataclass(frozen=True, slots=True)
class Results:
    since: dt.datetime | None
    overall: Figures
    by_agent: tuple[Figures, ...]
    by_team: tuple[Figures, ...]
    by_channel: tuple[Figures, ...]
    comments: tuple[Comment, ...]  # the latest answers with a comment, newest first


_AGGREGATES: dict[str, Any] = {
    "sent": Count("pk"),
    "answered": Count("pk", filter=Q(answered_at__isnull=False)),
    "mean": Avg("score"),
    "satisfied": Count("pk", filter=Q(score__gte=SATISFIED_FROM)),
}


def surveys_visible_to(*, user: User, since: dt.datetime | None = None) -> QuerySet[Survey]:
    """The surveys of conversations the user may see, sent since `since`."""
    surveys = Survey.objects.filter(
        workspace_id=workspace_id_of(user),
        conversation__in=visible_conversations(user=user).values("pk"),
    )
    if since is not None:
        surveys = surveys.filter(sent_at__gte=since)
    return surveys


def results(*, user: User, since: dt.datetime | None = None) -> Results:
    """Sent, answered, response rate, average and CSAT by agent, team and channel.

    Counted in the database (five queries whatever the number of surveys),
    within the user's workspace; agents and department members count only
    their teams' conversations.
    """
    surveys = surveys_visible_to(user=user, since=since).order_by()
    overall = _figures("All surveys", surveys.aggregate(**_AGGREGATES))
    by_agent = [
        _figures(row["agent__profile__display_name"] or row["agent__email"] or "No agent", row)
        for row in surveys.values("agent_id", "agent__profile__display_name", "agent__email")
        .annotate(**_AGGREGATES)
        .order_by()
    ]
    by_team = [
        _figures(row["team__name"] or "No team", row)
        for row in surveys.values("team_id", "team__name").annotate(**_AGGREGATES).order_by()
    ]
    by_channel = [
        _figures(channel_name(row["channel"]), row)
        for row in surveys.values("channel").annotate(**_AGGREGATES).order_by()
    ]
    comments = tuple(
        _comment(row)
        for row in surveys.filter(answered_at__isnull=False)
        .exclude(comment="")
        .order_by("-answered_at", "-pk")
        .values(
            "conversation_id", "score", "comment", "answered_at", "agent__profile__display_name"
        )[:LATEST_COMMENTS]
    )
    return Results(
        since=since,
        overall=overall,
        by_agent=_ranked(by_agent),
        by_team=_ranked(by_team),
        by_channel=_ranked(by_channel),
        comments=comments,
    )


def _figures(label: str, row: Mapping[str, Any]) -> Figures:
    sent, answered, satisfied = row["sent"] or 0, row["answered"] or 0, row["satisfied"] or 0
    mean = row["mean"]
    return Figures(
        label=label,
        sent=sent,
        answered=answered,
        average=round(float(mean), 2) if mean is not None else None,
        response_rate=round(answered * 100 / sent, 1) if sent else None,
        csat=round(satisfied * 100 / answered, 1) if answered else None,
    )


def _comment(row: Mapping[str, Any]) -> Comment:
    return Comment(
        conversation_id=row["conversation_id"],
        score=row["score"],
        text=row["comment"],
        answered_at=row["answered_at"],
        agent_name=row["agent__profile__display_name"] or "",
    )


def _ranked(rows: list[Figures]) -> tuple[Figures, ...]:
    """Most surveys sent first, then by name."""
    return tuple(sorted(rows, key=lambda row: (-row.sent, row.label.casefold())))
