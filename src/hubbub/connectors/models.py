"""The brand's accounts on each platform: where public replies and private messages go out from."""

from __future__ import annotations

from django.db import models

from hubbub.core.fields import EncryptedTextField
from hubbub.core.models import Workspace


class Transport(models.TextChoices):
    LIVE = "live", "Live"
    # Accepts every message and posts nothing: for demos and training, and
    # always labelled as such wherever a message shows.
    SANDBOX = "sandbox", "Sandbox (posts nothing)"


class ChannelAccount(models.Model):
    """One account of the brand on one platform; its credential is stored encrypted."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    platform = models.CharField(max_length=20)
    transport = models.CharField(max_length=10, choices=Transport.choices, default=Transport.LIVE)
    name = models.CharField(max_length=80)
    handle = models.CharField(max_length=255, blank=True)  # how customers see the brand
    base_url = models.URLField(max_length=500, blank=True)  # the instance or server
    secret = EncryptedTextField(blank=True)  # access token or app password
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["platform", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "platform"],
                condition=models.Q(enabled=True),
                name="channel_account_one_enabled_per_platform",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ConnectorSession(models.Model):
    """A platform session kept between calls and restarts (Bluesky's access and refresh
    tokens, Reddit's bearer token), so that it is refreshed rather than created anew.

    `key` names the account (platform, server and identifier); `data` is the
    connector's own JSON, stored encrypted like every credential.
    """

    key = models.CharField(max_length=255, unique=True)
    data = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
