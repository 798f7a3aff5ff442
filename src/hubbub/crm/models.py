"""Contacts: one customer, whatever channel they use.

A customer who posts on Bluesky, then emails, then chats on the brand's
site is one `Contact` with three `Identity` rows. Conversations point at
their contact, so the agent sees one history and new messages from any
of the customer's identities join the same active conversation.
"""

from __future__ import annotations

from django.db import models

from hubbub.core.models import Workspace


class Advocacy(models.TextChoices):
    """Whether a customer is worth asking to speak for the brand."""

    NONE = "", "Not considered"
    CANDIDATE = "candidate", "Advocate candidate"
    ADVOCATE = "advocate", "Advocate"
    DISMISSED = "dismissed", "Not an advocate"


class Contact(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255, blank=True)
    # Where an email to the customer goes (the address they last wrote from or gave).
    email = models.CharField(max_length=254, blank=True)
    # Set when an agent (or a verified identity) merged this contact into another.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Offered when the customer thanked the brand after a resolved case (care.aftercare);
    # a person decides whether they become an advocate.
    advocacy = models.CharField(max_length=10, choices=Advocacy.choices, blank=True, default="")
    advocacy_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "advocacy"], name="contact_advocacy")]

    def __str__(self) -> str:
        return self.name or self.email or f"Contact {self.pk}"


class Identity(models.Model):
    """A way to reach a contact: a handle on a platform, an email address, a chat visitor."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    platform = models.CharField(max_length=20)
    handle = models.CharField(max_length=255)  # as normalise_handle() writes it
    name = models.CharField(max_length=255, blank=True)
    # Proved by the channel: a site's HMAC for a chat user, a mail that threaded in.
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "platform", "handle"], name="identity_unique_per_platform"
            )
        ]
        indexes = [models.Index(fields=["contact"], name="identity_contact")]

    def __str__(self) -> str:
        return f"{self.platform}:{self.handle}"

    @property
    def label(self) -> str:
        """How an agent reads it: an address, a handle, or what kind of visitor."""
        if self.platform == "email":
            return self.handle
        if self.platform == "chat":
            _, signed_in, user_id = self.handle.partition(":user:")
            return f"Signed-in user {user_id}" if signed_in else "Website visitor"
        if self.platform == "webhook":
            return "Sent through a webhook"
        return "@" + self.handle.lstrip("@")

    @property
    def channel_name(self) -> str:
        return channel_name(self.platform)


CHANNEL_NAMES = {"email": "Email", "chat": "Web chat", "webhook": "Webhook", "x": "X"}


def channel_name(platform: str) -> str:
    """How people call a channel: "Web chat", "Bluesky", "X"."""
    return CHANNEL_NAMES.get(platform, platform.capitalize())
