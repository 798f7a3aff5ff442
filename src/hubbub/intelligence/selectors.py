"""Reads of the intelligence app: label corrections, for people and for training."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from hubbub.accounts.models import AgentProfile, User
from hubbub.intelligence.models import LabelCorrection, Task
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention

FORMER_MEMBER = "a former member"


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction as people read it."""

    task: str
    label_before: str
    label_after: str
    model_version: str  # the model version that labelled the mention
    corrected_by: str  # the agent's display name
    corrected_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TaskLabel:
    """One of a mention's correctable labels, as the Triage card shows it."""

    task: str
    name: str  # "Sentiment"
    label: str  # "" when triage gave none
    confidence: float | None
    choices: tuple[str, ...]
    model_version: str  # what labelled the mention
    correction: Correction | None  # the correction in force, when an agent set the label
    model_label: str  # what the model said, when an agent has corrected the task since


def corrections_for_training(task: str) -> list[tuple[str, str]]:
    """(mention text, label) for every corrected mention, across workspaces, oldest mention first.

    The label is the newest correction of the task on each mention: what
    `hubbub train <task> --with-corrections` adds to the public data.
    """
    latest = (
        LabelCorrection.objects.filter(task=task)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("mention_id")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .order_by("mention_id")
    )
    return [(text, label) for text, label in latest.values_list("mention__text", "label_after")]


def corrections_of_mention(*, user: User, mention_id: int) -> list[Correction]:
    """A mention's corrections, newest first. NotFound for a mention the user may not see."""
    mention = listening.access_mention(user=user, mention_id=mention_id)
    return _corrections(mention.pk)


def mention_labels(*, mention: Mention) -> list[TaskLabel]:
    """The sentiment and intent of a mention the caller has already checked access to."""
    corrections = _corrections(mention.pk)
    in_force = _in_force(mention, corrections)
    # The oldest correction of a task replaced the model's own label (newest first:
    # the oldest is written last).
    first = {correction.task: correction.label_before for correction in corrections}
    return [
        TaskLabel(
            task=task.value,
            name=task.label,
            label=mention.sentiment if task == Task.SENTIMENT else mention.intent,
            confidence=(
                mention.sentiment_confidence
                if task == Task.SENTIMENT
                else mention.intent_confidence
            ),
            choices=task.labels,
            model_version=model_of(task.value, mention.model_version),
            correction=in_force.get(task.value),
            model_label=first.get(task.value, ""),
        )
        for task in Task
    ]


def model_of(task: str, model_version: str) -> str:
    """Which of the "+"-joined models on a mention gave this task's label: its own trained
    model when one is named, otherwise the lexicon baseline (or whatever was recorded)."""
    parts = model_version.split("+")
    own = next((part for part in parts if part.startswith(f"{task}-")), None)
    return own or next((part for part in parts if part.startswith("lexicon-")), model_version)


def correctors_in_force(*, mention: Mention) -> dict[str, str]:
    """Task → the name of the agent whose label the mention carries, for corrected tasks."""
    return {
        task: correction.corrected_by
        for task, correction in _in_force(mention, _corrections(mention.pk)).items()
    }


def _in_force(mention: Mention, corrections: list[Correction]) -> dict[str, Correction]:
    """The newest correction of each task, while the mention still carries its label."""
    newest: dict[str, Correction] = {}
    for correction in corrections:  # newest first
        newest.setdefault(correction.task, correction)
    current = {Task.SENTIMENT.value: mention.sentiment, Task.INTENT.value: mention.intent}
    return {
        task: correction
        for task, correction in newest.items()
        if current.get(task) == correction.label_after
    }


def _corrections(mention_id: int) -> list[Correction]:
    rows = (
        LabelCorrection.objects.filter(mention_id=mention_id)
        .select_related("corrected_by__profile")
        .order_by("-created_at", "-id")
    )
    return [
        Correction(
            task=row.task,
            label_before=row.label_before,
            label_after=row.label_after,
            model_version=row.model_version,
            corrected_by=_name(row.corrected_by),
            corrected_at=row.created_at,
        )
        for row in rows
    ]


def _name(user: User | None) -> str:
    if user is None:
        return FORMER_MEMBER
    try:
        return user.profile.display_name or user.email
    except AgentProfile.DoesNotExist:
        return user.email
