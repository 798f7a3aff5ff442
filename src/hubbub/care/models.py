"""Conversations: one customer issue, worked by the care team.

A conversation holds the customer's mentions (inbound, through
ConversationMention) and everything the brand did about them: messages
(public replies, private messages, internal notes) and an audit trail of
activities (assignment, status, approvals). The timeline is those three,
merged in time order by the selectors.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from hubbub.accounts.models import Team, User
from hubbub.core.models import Workspace
from hubbub.crm.models import Contact
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


class Tag(models.Model):
    """A label agents put on conversations ("refund", "outage-2026-11"), per workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("workspace", Lower("name"), name="tag_name_unique_in_workspace")
        ]

    def __str__(self) -> str:
        return self.name


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
    # The person across channels: their other identities' messages join this conversation.
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    subject = models.CharField(max_length=200)
    # The customer's new mentions join the one active conversation that takes
    # them; a conversation split off for a second issue does not.
    takes_new_mentions = models.BooleanField(default=True)
    # Set by an agent; the mentions' priority no longer moves it.
    priority_set_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Triage of the customer's latest mention, kept here so views filter without joins.
    sentiment = models.CharField(max_length=10, blank=True)
    intent = models.CharField(max_length=20, blank=True)
    lang = models.CharField(max_length=16, blank=True)
    customer_followers = models.PositiveIntegerField(null=True, blank=True)
    # The customer's profile as their platform last told it (following, posts,
    # verified, created_at, fetched_at, the platform's own figures).
    # db_default too: the bench loader (COPY) and other bulk writers leave it out.
    customer_profile = models.JSONField(default=dict, db_default={}, blank=True)
    assignee = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, related_name="conversations", blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_from"
    )
    opened_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField()
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # SLA clocks (care.sla): the policy that applies, each target's due time
    # (None when met, paused or not set), the soonest of them, and its state.
    sla_policy = models.ForeignKey(
        "SlaPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_state = models.CharField(max_length=10, blank=True)  # "", "ok", "at_risk", "breached"
    sla_paused_at = models.DateTimeField(null=True, blank=True)  # waiting on the customer
    # When the sweeper should look again: shortly before the next clock can run low.
    sla_watch_at = models.DateTimeField(null=True, blank=True)
    # The team's update policy while a handoff is open (care.handoffs): when the
    # customer should next hear from us, and when the owner was reminded of it.
    update_due_at = models.DateTimeField(null=True, blank=True)
    update_reminded_at = models.DateTimeField(null=True, blank=True)
    # The customer thanked us in public after the case was resolved (care.aftercare).
    praise_captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-last_activity_at"], name="conversation_recent"),
            models.Index(
                fields=["workspace", "platform", "customer_handle", "status"],
                name="conversation_customer",
            ),
            # The inbox: active conversations, most urgent first, per person and per team.
            models.Index(fields=["workspace", "status", "-priority"], name="conversation_queue"),
            models.Index(fields=["assignee", "status"], name="conversation_assignee"),
            models.Index(fields=["team", "status"], name="conversation_team"),
            models.Index(fields=["workspace", "status", "sla_due_at"], name="conversation_sla"),
            # The inbox's own order has a PostgreSQL-only index (migration 0006):
            # SQLite cannot index NULLS LAST.
            # "Snoozed" reads the few snoozed conversations, not the whole queue.
            models.Index(
                fields=["snoozed_until"],
                name="conversation_snoozed",
                condition=models.Q(snoozed_until__isnull=False),
            ),
            models.Index(fields=["sla_watch_at"], name="conversation_sla_watch"),
            models.Index(fields=["contact", "status"], name="conversation_contact"),
            # "Update due" and the reminder sweeper read only conversations with a due update.
            models.Index(
                fields=["update_due_at"],
                name="conversation_update_due",
                condition=models.Q(update_due_at__isnull=False),
            ),
        ]
        constraints = [
            # One active conversation per customer: concurrent pipeline
            # workers and agents cannot open two.
            models.UniqueConstraint(
                fields=["workspace", "platform", "customer_handle"],
                condition=models.Q(
                    status__in=["new", "open", "waiting_customer", "waiting_department"],
                    takes_new_mentions=True,
                ),
                name="conversation_one_active_per_customer",
            )
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def greeting_name(self) -> str:
        """How a message greets the customer: their first name, else a handle that reads
        as a name ("tom.example" → "tom"), else "there" (numeric ids)."""
        if self.customer_name.strip():
            return self.customer_name.split()[0]
        handle = self.customer_handle.lstrip("@").split("@")[0].split(".")[0]
        return handle if any(char.isalpha() for char in handle) else "there"


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


class Macro(models.Model):
    """A saved reply with variables ({customer_name}, {agent_name}, {case_link}, {article_link})."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )  # None: every team
    name = models.CharField(max_length=80)
    body = models.TextField(max_length=2000)
    article_url = models.URLField(max_length=500, blank=True)  # what {article_link} becomes
    usage_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MacroFlag(models.Model):
    """A lead was told that an agent sent a macro unedited to many customers, once a day."""

    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    customers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["macro", "agent", "day"], name="macro_flag_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.macro_id} by {self.agent_id} on {self.day}"


class MessageKind(models.TextChoices):
    REPLY = "reply", "Public reply"
    PRIVATE = "private", "Private message"
    NOTE = "note", "Internal note"
    CUSTOMER = "customer", "Private message from the customer"
    # A public message after the case was resolved, under the post the problem began
    # with: not a second answer to that post, so the one-reply rule does not apply.
    FOLLOW_UP = "follow_up", "Public follow-up"


# The "platform" of a private message delivered on the customer's case page.
CASE_PAGE = "case"
# What a customer's own message on the case page carries ("" before messages had one).
CASE_PAGE_PLATFORMS = ("", CASE_PAGE)
# The channels a customer writes to the brand on directly (Message.platform).
EMAIL = "email"
CHAT = "chat"
WEBHOOK = "webhook"
DIRECT_CHANNELS = (EMAIL, CHAT, WEBHOOK)


class DeliveryState(models.TextChoices):
    HELD = "held", "Waiting for approval"
    RETURNED = "returned", "Sent back"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def claiming_the_post(cls) -> list[str]:
        """States in which a public reply counts as the brand's answer to a post."""
        return [cls.HELD, cls.QUEUED, cls.SENDING, cls.SENT]


class Message(models.Model):
    """Something the brand wrote on a conversation: a reply, a private message or a note."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    author = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField(max_length=100_000)
    # Email: the subject, and the customer's HTML as mime.parse_email sanitised it
    # (remote images held back until an agent allows them).
    subject = models.CharField(max_length=300, blank=True)
    html = models.TextField(blank=True)
    # What the channel knows besides the text: an email's Message-ID, References,
    # addresses and what was neutralised; a chat's page; a webhook's source.
    details = models.JSONField(default=dict, db_default={}, blank=True)
    # The identity the customer sees, as it was when written: a later change
    # of name or signature does not rewrite what was sent.
    sender_name = models.CharField(max_length=80, blank=True)
    signature = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Outbound messages only.
    platform = models.CharField(max_length=20, blank=True)
    in_reply_to = models.ForeignKey(
        Mention, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    state = models.CharField(max_length=10, choices=DeliveryState.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # when a job took it to send
    sent_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    external_url = models.URLField(max_length=2000, blank=True)
    sandbox = models.BooleanField(default=False)  # went to the sandbox: no customer saw it
    macro = models.ForeignKey(
        Macro, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    macro_unedited = models.BooleanField(default=False)  # sent exactly as the macro wrote it
    # Approval of a held reply: who looked at it, when, and what they said.
    reviewed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.CharField(max_length=1000, blank=True)
    automated = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_timeline"),
            # Email threading: a reply's In-Reply-To finds the message it answers.
            models.Index(
                fields=["platform", "external_id"],
                name="message_external_id",
                condition=~models.Q(external_id=""),
            ),
        ]
        constraints = [
            # The brand answers a customer's post once: a second public reply
            # to the same post is refused while one waits, is queued or went out.
            models.UniqueConstraint(
                fields=["in_reply_to"],
                condition=models.Q(kind="reply", state__in=["held", "queued", "sending", "sent"]),
                name="message_one_public_reply_per_post",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.conversation_id}"

    @property
    def is_outbound(self) -> bool:
        return self.kind in (MessageKind.REPLY, MessageKind.PRIVATE, MessageKind.FOLLOW_UP)


class ActivityKind(models.TextChoices):
    OPENED = "opened", "opened the conversation"
    ASSIGNED = "assigned", "assigned"
    UNASSIGNED = "unassigned", "unassigned"
    STATUS = "status", "changed the status"
    PRIORITY = "priority", "changed the priority"
    TAGGED = "tagged", "changed the tags"
    ROUTED = "routed", "routed to another team"
    SNOOZED = "snoozed", "snoozed"
    MERGED = "merged", "merged"
    SPLIT = "split", "split"
    REPLY_QUEUED = "reply_queued", "queued a message"
    REPLY_SENT = "reply_sent", "message sent"
    REPLY_FAILED = "reply_failed", "message failed"
    NOTE = "note", "added a note"
    MOVED_PRIVATE = "moved_private", "moved the conversation to a private channel"
    CUSTOMER_WROTE = "customer_wrote", "the customer wrote privately"
    AUTOMATED = "automated", "acknowledged automatically"
    HELD = "held", "held a reply for approval"
    APPROVED = "approved", "approved a reply"
    RETURNED = "returned", "sent a reply back"
    HANDED_OFF = "handed_off", "handed off to a department"
    HANDOFF_PROGRESS = "handoff_progress", "a department posted progress"
    HANDOFF_CLOSED = "handoff_closed", "closed a handoff"
    STATUS_UPDATE = "status_update", "updated the customer's status page"
    UPDATE_DUE = "update_due", "an update to the customer is due"
    FOLLOWED_UP = "followed_up", "followed up"
    SURVEY_SENT = "survey_sent", "sent a satisfaction survey"
    SURVEY_ANSWERED = "survey_answered", "the customer rated the service"
    PRAISE_CAPTURED = "praise_captured", "captured the customer's thanks"
    REOPENED = "reopened", "reopened the case"


class Activity(models.Model):
    """The audit trail: who did what to a conversation, when, and from where."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="activities"
    )
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    summary = models.CharField(max_length=300)  # plain text, written when it happened
    detail = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=12)  # web, api, cli, worker, pipeline, system
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="activity_timeline")]

    def __str__(self) -> str:
        return self.summary


class Notification(models.Model):
    """Something a person should look at: an @mention in a note, a returned reply."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.text


class TeamSettings(models.Model):
    """How a care team works its queue: automatic assignment, and (for SLAs) its calendar."""

    DEFAULT_REOPEN_DAYS = 7

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="care_settings")
    auto_assign = models.BooleanField(default=False)
    # The SLA calendar. Hours: {"0": [["09:00", "17:00"]], …} with Monday as "0";
    # empty means open around the clock. Holidays: ISO dates, closed all day.
    time_zone = models.CharField(max_length=64, default="UTC")
    business_hours = models.JSONField(default=dict, blank=True)
    holidays = models.JSONField(default=list, blank=True)
    # Opt-in: acknowledge negative posts and complaints at once with this signed
    # template, at most once per customer a day, always marked as automated.
    auto_acknowledge = models.BooleanField(default=False)
    acknowledge_template = models.CharField(max_length=500, blank=True)
    # The update policy: while a handoff is open, the customer hears from us at
    # least this often (None: no policy). The owner is reminded when it is due.
    update_every_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    # A customer who writes again this soon after their case was resolved
    # re-opens it instead of starting a new conversation.
    reopen_within_days = models.PositiveSmallIntegerField(default=DEFAULT_REOPEN_DAYS)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Settings of {self.team_id}"


class AgentLoad(models.Model):
    """An agent's capacity for automatic assignment and when they last got a conversation."""

    DEFAULT_CAPACITY = 8

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="care_load")
    capacity = models.PositiveSmallIntegerField(default=DEFAULT_CAPACITY)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Load of {self.user_id}"


class PresenceState(models.TextChoices):
    VIEWING = "viewing", "is viewing"
    TYPING = "typing", "is typing"


class Presence(models.Model):
    """Who has a conversation open right now, and whether they are writing to the customer."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="presences"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=PresenceState.choices)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="presence_one_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state} {self.conversation_id}"


class SlaMetric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"


class SlaPolicy(models.Model):
    """Targets for conversations of a channel (or any) at or above a priority, in business time."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    channel = models.CharField(max_length=20, blank=True)  # a platform, or "" for any
    min_priority = models.PositiveSmallIntegerField(default=0)
    first_response_minutes = models.PositiveIntegerField()
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-min_priority", "channel", "name"]

    def __str__(self) -> str:
        return self.name


class SlaPause(models.Model):
    """A stretch of waiting on the customer, during which the SLA clock stands still."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="sla_pauses"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Pause of {self.conversation_id}"


class SlaBreach(models.Model):
    """A target missed, kept for reports even after the conversation moves on."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="sla_breaches"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    policy_name = models.CharField(max_length=80)
    metric = models.CharField(max_length=20, choices=SlaMetric.choices)
    due_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "recorded_at"], name="sla_breach_report")]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "metric", "due_at"], name="sla_breach_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} of {self.conversation_id}"


class CaseAccess(models.Model):
    """Who may read a case's private thread on its page: the browser that first wrote there.

    The case link can travel in a public reply, so holding it is not enough
    to read what the customer and the team wrote privately: the first
    visitor to write claims the thread with a secret kept in a cookie (only
    its SHA-256 is stored here).
    """

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="case_access"
    )
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Case access to {self.conversation_id}"


class Attachment(models.Model):
    """A file that came with a customer's message, kept in the database, served as a download.

    `content_type` is what the bytes are (sniffed), not what the sender
    claimed; a refused file keeps its name and the reason, not its bytes.
    """

    MAX_BYTES = 10 * 1024 * 1024

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=150)
    content_type = models.CharField(max_length=100)
    declared_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField()
    content_id = models.CharField(max_length=255, blank=True)  # for cid: images in the HTML
    data = models.BinaryField(blank=True)
    rejected = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class HandoffState(models.TextChoices):
    OPEN = "open", "Waiting for the department"
    IN_PROGRESS = "in_progress", "Fix in progress"
    DONE = "done", "Resolved"
    WITHDRAWN = "withdrawn", "Withdrawn"

    @classmethod
    def active(cls) -> list[str]:
        """States in which the department is working on the problem."""
        return [cls.OPEN, cls.IN_PROGRESS]


class Handoff(models.Model):
    """A customer's problem handed to another department; the care agent stays its owner.

    The department (members in Hubbub, or one person by a signed email link)
    posts progress; the owner decides what the customer sees. One open
    handoff per conversation and per customer: the customer never gets two
    different requests from two parts of the brand.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="handoffs"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    department = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoffs"
    )
    department_name = models.CharField(max_length=80)  # kept if the department is deleted
    owner = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_handoffs"
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    what_happened = models.TextField(max_length=4000)
    customer_needs = models.TextField(max_length=2000)
    # The note on the conversation's timeline that carries the brief and its files.
    brief = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=12, choices=HandoffState.choices, default=HandoffState.OPEN)
    # Someone outside Hubbub who works it through a signed, expiring link by email.
    external_email = models.EmailField(blank=True)
    link_nonce = models.CharField(max_length=32, blank=True)  # a new one revokes old links
    link_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["department", "state"], name="handoff_queue"),
            models.Index(fields=["conversation", "created_at"], name="handoff_of_conversation"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(state__in=["open", "in_progress"]),
                name="handoff_one_open_per_conversation",
            ),
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(state__in=["open", "in_progress"], contact__isnull=False),
                name="handoff_one_open_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"Handoff of {self.conversation_id} to {self.department_name}"

    @property
    def is_open(self) -> bool:
        return self.state in HandoffState.active()


class ProgressSource(models.TextChoices):
    MEMBER = "member", "in Hubbub"
    LINK = "link", "by email link"


class HandoffUpdate(models.Model):
    """Progress a department posted: internal until the owner publishes it to the customer."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="updates")
    author = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=120)
    source = models.CharField(max_length=8, choices=ProgressSource.choices)
    text = models.TextField(max_length=4000)
    resolves = models.BooleanField(default=False)  # "resolved on our side"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Progress on {self.handoff_id}"


class StatusUpdate(models.Model):
    """A line on the customer's status page, written or published by the owner.

    The status page reads only these: internal notes and a department's own
    words never reach the customer unless the owner published them here.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="status_updates"
    )
    text = models.TextField(max_length=2000)
    author = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=80)
    # The department's progress it tells the customer about, if any: published once.
    source = models.OneToOneField(
        HandoffUpdate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="published_as",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="status_update_page")]

    def __str__(self) -> str:
        return f"Status update on {self.conversation_id}"


class Survey(models.Model):
    """The satisfaction survey of a resolved case: one per case, answered once, without login.

    Team, agent and channel are kept as they were when it was sent, so the
    results per agent, team and channel do not move when the case does.
    """

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="survey"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=20)  # where the problem began
    sent_at = models.DateTimeField(auto_now_add=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 to 5
    comment = models.TextField(max_length=2000, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "sent_at"], name="survey_results")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                name="survey_score_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"Survey of {self.conversation_id}"


class PraiseCapture(models.Model):
    """A public thank-you by the customer of a resolved case, linked to that case."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="praise")
    mention = models.OneToOneField(Mention, on_delete=models.CASCADE, related_name="praise_of")
    captured_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["captured_at", "id"]

    def __str__(self) -> str:
        return f"Praise of {self.conversation_id}"
