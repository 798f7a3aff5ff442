"""The brand's channels: social accounts to answer from, mailboxes, chat widgets and webhooks."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

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


# ---- Email ----


class MailSecurity(models.TextChoices):
    TLS = "tls", "TLS from the start (ports 993 and 465)"
    STARTTLS = "starttls", "STARTTLS (ports 143 and 587)"
    NONE = "none", "None (a server on the operator's own network only)"


class Mailbox(models.Model):
    """An address customers write to (support@acme.example), read over IMAP, answered over SMTP.

    Passwords are stored encrypted. The sync cursor (UIDVALIDITY and the last
    UID taken) moves in the same transaction that stores the mails it covers.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    address = models.CharField(max_length=254)
    # Senders read "Dana at Acme": the agent, then the brand.
    brand_name = models.CharField(max_length=80)
    # New conversations from this mailbox go to this team's queue.
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imap_host = models.CharField(max_length=255)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(
        max_length=10, choices=MailSecurity.choices, default=MailSecurity.TLS
    )
    imap_username = models.CharField(max_length=255)
    imap_password = EncryptedTextField(blank=True)
    imap_folder = models.CharField(max_length=255, default="INBOX")
    smtp_host = models.CharField(max_length=255)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(
        max_length=10, choices=MailSecurity.choices, default=MailSecurity.STARTTLS
    )
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password = EncryptedTextField(blank=True)
    # Agents whose own address is in this mailbox's domain send from it ("no info@
    # answers"); the others send as "Dana at Acme" <the mailbox's address>.
    personal_senders = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    # For demos and training: never read, and answers are accepted without being sent
    # (labelled so wherever they show), like the social sandbox.
    sandbox = models.BooleanField(default=False)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("address"), name="mailbox_address_unique_in_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


class InboundEmailState(models.TextChoices):
    ACCEPTED = "accepted", "Waiting to be filed"
    DELIVERED = "delivered", "Filed into a conversation"
    IGNORED = "ignored", "Kept, not filed (auto-reply, bounce or copy)"
    FAILED = "failed", "Filing failed; kept to try again"


class InboundEmail(models.Model):
    """A mail exactly as the server gave it, stored before anything else happens to it.

    The raw bytes stay, whatever filing decides: a mail the server handed
    over is never lost, and filing can run again after a fix.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="inbound")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    # The mail's own Message-ID header (the Message it became is `filed_as`).
    header_message_id = models.CharField(max_length=255, blank=True)
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    state = models.CharField(
        max_length=10, choices=InboundEmailState.choices, default=InboundEmailState.ACCEPTED
    )
    note = models.CharField(max_length=500, blank=True)  # why ignored, or the filing error
    attempts = models.PositiveSmallIntegerField(default=0)
    filed_as = models.ForeignKey(
        "care.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    server_received_at = models.DateTimeField(null=True, blank=True)  # IMAP INTERNALDATE
    accepted_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"], name="inbound_email_once_per_uid"
            )
        ]
        indexes = [
            models.Index(fields=["mailbox", "header_message_id"], name="inbound_email_message_id"),
            # Filing asks whether a mail was filed already through any of the workspace's
            # mailboxes.
            models.Index(fields=["workspace", "header_message_id"], name="inbound_email_copies"),
            models.Index(
                fields=["id"],
                name="inbound_email_to_file",
                condition=models.Q(state__in=["accepted", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.uidvalidity}:{self.uid}"


# ---- Web chat ----


class ChatWidget(models.Model):
    """The chat a brand puts on its own site with one script tag.

    `key` is public (it is in the tag). `identity_secret` signs the site's
    user ids (HMAC-SHA256), so a visitor cannot claim to be another user.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    key = models.CharField(max_length=40, unique=True)
    # The sites allowed to embed it ("https://www.acme.example"); the endpoints refuse others.
    allowed_origins = models.JSONField(default=list, blank=True)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    greeting = models.CharField(max_length=200, blank=True)
    identity_secret = EncryptedTextField()
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChatVisitor(models.Model):
    """A browser chatting through a widget: known by a secret the widget keeps (hashed here)."""

    widget = models.ForeignKey(ChatWidget, on_delete=models.CASCADE, related_name="visitors")
    token_hash = models.CharField(max_length=64, unique=True)
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "care.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=120, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # The site's own id for a signed-in user, proved by the site's HMAC.
    user_id = models.CharField(max_length=255, blank=True)
    page_url = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name or f"Visitor {self.pk}"


# ---- Inbound webhooks ----


class WebhookEndpoint(models.Model):
    """Where forms, review sites and custom sources post messages (Standard Webhooks signed)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    key = models.CharField(max_length=40, unique=True)  # the URL's last part
    secret = EncryptedTextField()  # "whsec_" + base64 of the signing key
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    # Refused deliveries (bad signature, stale or replayed): counted, the latest reason kept.
    rejected_count = models.PositiveIntegerField(default=0)
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    last_rejected_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """A verified delivery, kept with its body; its webhook-id makes a replay a no-op."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    webhook_id = models.CharField(max_length=255)
    body = models.TextField()
    message = models.ForeignKey(
        "care.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "webhook_id"], name="webhook_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id}:{self.webhook_id}"
