"""Writes of the intelligence app: agents correcting the labels triage gave a mention."""

from __future__ import annotations

from django.db import transaction

from hubbub.accounts import permissions
from hubbub.accounts.models import User
from hubbub.care import services as care
from hubbub.core.errors import ValidationFailed
from hubbub.core.events import publish
from hubbub.intelligence import selectors
from hubbub.intelligence.events import LabelCorrected
from hubbub.intelligence.models import LabelCorrection, Task
from hubbub.intelligence.rescore import rescore
from hubbub.listening import selectors as listening
from hubbub.listening.models import Mention


def check_task(task: str) -> Task:
    """The task named, or ValidationFailed (code `task_invalid`)."""
    if task not in Task.values:
        raise ValidationFailed(
            "Only a mention's sentiment or intent can be corrected.",
            code="task_invalid",
            field="task",
        )
    return Task(task)


def check_label(task: Task, label: str) -> str:
    """The label, when the task may take it, or ValidationFailed (code `label_invalid`)."""
    if label not in task.labels:
        allowed = ", ".join(task.labels[:-1]) + f" or {task.labels[-1]}"
        raise ValidationFailed(
            f"{task.label} is one of {allowed}.", code="label_invalid", field="label"
        )
    return label


@transaction.atomic
def correct_label(*, user: User, mention_id: int, task: str, label: str) -> LabelCorrection | None:
    """Set a mention's sentiment or intent to what an agent says it is, and re-score it.

    Stores the correction (the history is kept; the newest is in force), sets
    the label with confidence 1.0, recomputes the priority and its reasons
    (see `rescore`), refreshes the conversation the mention is on, and
    publishes `LabelCorrected`, all in one transaction.

    Returns None, changing nothing, when the mention already has that label.
    Raises Forbidden for members who may not work conversations (read-only),
    NotFound for a mention the user may not see, and ValidationFailed
    (`task_invalid`, `label_invalid`) for anything but the known labels.
    """
    permissions.check_can_work_conversations(user)
    checked = check_task(task)
    check_label(checked, label)
    listening.access_mention(user=user, mention_id=mention_id)
    # Locked: two agents correcting one mention at once each re-score from the
    # reasons the other writes; the second waits and reads the first's.
    mention = Mention.objects.select_for_update().get(pk=mention_id)
    before = _label_of(mention, checked)
    if before == label:
        return None
    correction = LabelCorrection.objects.create(
        workspace_id=mention.workspace_id,
        mention=mention,
        task=checked,
        label_before=before,
        label_after=label,
        model_version=mention.model_version,
        corrected_by=user,
    )
    if checked == Task.SENTIMENT:
        mention.sentiment, mention.sentiment_confidence = label, 1.0
    else:
        mention.intent, mention.intent_confidence = label, 1.0
    result = rescore(mention, corrected_by=selectors.correctors_in_force(mention=mention))
    mention.priority = result.score
    mention.priority_reasons = [reason.as_json() for reason in result.reasons]
    mention.save(
        update_fields=[checked.value, f"{checked.value}_confidence", "priority", "priority_reasons"]
    )
    care.refresh_conversation_of_mention(mention_id=mention.pk)
    publish(
        LabelCorrected(
            mention_id=mention.pk, task=checked.value, label=label, priority=mention.priority
        ),
        workspace_id=mention.workspace_id,
        team_ids=None if mention.team_id is None else [mention.team_id],
    )
    return correction


def _label_of(mention: Mention, task: Task) -> str:
    return mention.sentiment if task == Task.SENTIMENT else mention.intent
