"""What agents teach the models: label corrections made in the inbox.

(The trained weights live beside this module, in `models/*.npz`; that folder
is data, not a package, so `hubbub.intelligence.models` is this file.)
"""

from __future__ import annotations

from django.db import models

from hubbub.accounts.models import User
from hubbub.core.models import Workspace
from hubbub.listening.models import Mention


class Task(models.TextChoices):
    """The labels of a mention an agent may correct."""

    SENTIMENT = "sentiment", "Sentiment"
    INTENT = "intent", "Intent"

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels this task may take, in the order a form offers them."""
        return LABELS[self]


LABELS: dict[str, tuple[str, ...]] = {
    Task.SENTIMENT: ("negative", "neutral", "positive"),
    Task.INTENT: ("complaint", "question", "praise", "feedback", "other"),
}


class LabelCorrection(models.Model):
    """An agent said a mention's sentiment or intent is something else.

    One row per correction: the history is kept and the newest row of a
    mention's task is the label in force (the mention carries it too).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="label_corrections")
    task = models.CharField(max_length=10, choices=Task.choices)
    label_before = models.CharField(max_length=20, blank=True)
    label_after = models.CharField(max_length=20)
    # The model version that labelled the mention. On the first correction of
    # a task, label_before is that model's label; on later ones it is the
    # previous agent's.
    model_version = models.CharField(max_length=120, blank=True)  # as Mention.model_version
    corrected_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A workspace's corrections of one task, newest first (review, export).
            models.Index(
                fields=["workspace", "task", "-created_at"], name="correction_task_recent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mention_id} {self.task}: {self.label_before} → {self.label_after}"
