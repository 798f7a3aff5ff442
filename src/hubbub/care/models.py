"""Conversations: one customer issue, worked by the care team.

This is the start the care inbox builds on: a conversation opened from the
mentions of one customer. Replies, assignment, SLAs and the rest of the
timeline come with the care inbox.
"""

from __future__ import annotations

from django.db import models

from hubbub.accounts.models import Team, User
from hubbub.core.models import Workspace
from hubbub.listening.models import Mention


class ConversationStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    WAITING_CUSTOMER = "waiting_customer", "Waiting on customer"
    WAITING_DEPARTMENT = "waiting_department", "Waiting on another department"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"

    @classmethod
    def active(cls) -> list[str]:
        """Statuses in which a customer's new mention joins the conversation."""
        return [cls.NEW, cls.OPEN, cls.WAITING_CUSTOMER, cls.WAITING_DEPARTMENT]


class Conversation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.NEW
    )
    priority = models.FloatField(null=True, blank=True)
    # The customer as the platform knows them, until contacts unify identities.
    platform = models.CharField(max_length=20)
    customer_handle = models.CharField(max_length=255)
    customer_name = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=200)
    opened_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-last_activity_at"], name="conversation_recent"),
            models.Index(
                fields=["workspace", "platform", "customer_handle", "status"],
                name="conversation_customer",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class ConversationMention(models.Model):
    """A mention on a conversation's timeline; a mention is on one conversation at most."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="mention_links"
    )
    mention = models.OneToOneField(
        Mention, on_delete=models.CASCADE, related_name="conversation_link"
    )
    added_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.conversation_id} ← {self.mention_id}"
