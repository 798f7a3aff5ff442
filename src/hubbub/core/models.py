from __future__ import annotations

from django.db import models


class Workspace(models.Model):
    """A brand: the tenant that owns everything a care team sees."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EventRecord(models.Model):
    """One published event, written in the publisher's transaction.

    The row is the outbox: it becomes visible exactly when the publisher's
    transaction commits, which is also when the live-stream notification
    goes out. Streams read events from here, so a browser that reconnects
    with Last-Event-ID gets what it missed.
    """

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # Plain ids rather than foreign keys: core sits below the apps that own
    # teams and users and must not import them.
    # Unscoped events go to the whole workspace; scoped ones to people who
    # see one of `team_ids` (",3,7,") and to those who see every team.
    scoped = models.BooleanField(default=False)
    team_ids = models.CharField(max_length=1000, blank=True, default="")
    user_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=80)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "id"], name="event_workspace_id")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.id}"
