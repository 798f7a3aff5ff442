from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from hubbub.accounts.models import Team, User
from hubbub.core.fields import EncryptedTextField
from hubbub.core.models import Workspace


class SourceKind(models.TextChoices):
    REPLAY = "replay", "Replay (CSV or JSON Lines)"
    BLUESKY = "bluesky", "Bluesky"
    MASTODON = "mastodon", "Mastodon"
    REDDIT = "reddit", "Reddit"
    HACKERNEWS = "hackernews", "Hacker News"
    RSS = "rss", "RSS / Atom"


class SourceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    FAILING = "failing", "Failing"


class Source(models.Model):
    """Somewhere Hubbub listens: a platform account, a feed, a replay file."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    settings = models.JSONField(default=dict, blank=True)
    credentials = EncryptedTextField(blank=True, default="")
    # Where the source resumes after a restart; written in the same
    # transaction as the items it covers ("accepted means committed").
    cursor = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=10, choices=SourceStatus.choices, default=SourceStatus.ACTIVE
    )
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    accepted_count = models.PositiveBigIntegerField(default=0)
    # The platform's rate-limit budget as its last answer gave it, and when
    # the source last read from the platform (shown on the source's page).
    rate_limit_remaining = models.IntegerField(null=True, blank=True)
    rate_limit_limit = models.IntegerField(null=True, blank=True)
    rate_limit_reset_at = models.DateTimeField(null=True, blank=True)
    last_read_at = models.DateTimeField(null=True, blank=True)
    rejected_count = models.PositiveBigIntegerField(default=0)
    # Which listener follows the source, and until when: two listeners never
    # read the same source at once (see services.take_source_lease).
    leased_by = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RejectedItem(models.Model):
    """Something a source received that could not become a post, and why.

    The source goes on past it; the latest ones are shown on the source's
    page so that a person can see what the platform sent.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="rejected")
    external_id = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=500)
    excerpt = models.TextField(blank=True)
    rejected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["source", "-id"], name="rejected_latest")]

    def __str__(self) -> str:
        return self.reason


class InboundPost(models.Model):
    """A post a source handed over, stored before anything else happens to it.

    Accepting a batch writes these rows and the source's cursor in one
    transaction: once accepted, a post is never lost, and a restart resumes
    from the cursor. The pipeline marks each row processed in the same
    transaction that stores its mention (or decides it matched nothing).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="inbound")
    platform = models.CharField(max_length=20)
    external_id = models.CharField(max_length=255)
    post = models.JSONField()  # the RawPost, as hubbub.listening.types.raw_post_to_json writes it
    accepted_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Handed to the Redis stream (the listener's outbox loop); null embedded
    # and until the listener has added it.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Set after the last allowed failed attempt: the post waits, unprocessed,
    # for an operator (`hubbub deadletter`), and no runner takes it again.
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "platform", "external_id"], name="inbound_unique_per_platform"
            )
        ]
        indexes = [
            # What each source accepted today, on the sources page.
            models.Index(fields=["source", "accepted_at"], name="inbound_source_accepted"),
            models.Index(
                fields=["id"],
                name="inbound_unprocessed",
                condition=models.Q(processed_at__isnull=True),
            ),
            models.Index(
                fields=["id"],
                name="inbound_not_enqueued",
                condition=models.Q(enqueued_at__isnull=True, processed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"


class QueryKind(models.TextChoices):
    BRAND = "brand", "Brand"
    PRODUCT = "product", "Product"
    COMPETITOR = "competitor", "Competitor"
    CAMPAIGN = "campaign", "Campaign"


class Query(models.Model):
    """A saved listening query in the query language (`hubbub.listening.query`)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="queries")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=QueryKind.choices, default=QueryKind.BRAND)
    expression = models.TextField(max_length=4096)
    enabled = models.BooleanField(default=True)
    owner_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="queries"
    )
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name_plural = "queries"
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("name"), name="query_name_unique_in_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Mention(models.Model):
    """One public post that matched a query: what triage and care work on."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="mentions")
    source = models.ForeignKey(
        Source, on_delete=models.SET_NULL, null=True, related_name="mentions"
    )
    platform = models.CharField(max_length=20)
    external_id = models.CharField(max_length=255)
    url = models.URLField(max_length=2000, blank=True)
    author_handle = models.CharField(max_length=255, blank=True)
    author_name = models.CharField(max_length=255, blank=True)
    author_external_id = models.CharField(max_length=255, blank=True)
    # The author's reach when the post was fetched, for influence scoring.
    author_followers = models.PositiveIntegerField(null=True, blank=True)
    author_following = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField()
    html = models.TextField(blank=True)  # sanitised with nh3, where the platform gives HTML
    lang = models.CharField(max_length=16, blank=True)
    posted_at = models.DateTimeField()
    fetched_at = models.DateTimeField(auto_now_add=True)
    reply_to_external_id = models.CharField(max_length=255, blank=True)
    thread_root_external_id = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    normalized_text = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    simhash = models.BigIntegerField(null=True, blank=True)  # 64-bit, stored signed
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    queries = models.ManyToManyField(Query, related_name="mentions", blank=True)
    # Filled by triage (issue: intelligence) and routing.
    sentiment = models.CharField(max_length=10, blank=True)
    sentiment_confidence = models.FloatField(null=True, blank=True)
    intent = models.CharField(max_length=20, blank=True)
    intent_confidence = models.FloatField(null=True, blank=True)
    urgency = models.FloatField(null=True, blank=True)
    priority = models.FloatField(null=True, blank=True)
    # Why the priority is what it is: [{"factor": "negative", "points": 18.0, "label": …}].
    priority_reasons = models.JSONField(default=list, blank=True)
    # The models that labelled it, "+"-joined (sentiment, intent, language, lexicon).
    model_version = models.CharField(max_length=120, blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "platform", "external_id"], name="mention_unique_per_platform"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-posted_at"], name="mention_recent"),
            models.Index(fields=["workspace", "content_hash"], name="mention_content_hash"),
            # A mention's thread on its detail page, and replies finding their parent.
            models.Index(
                fields=["workspace", "platform", "thread_root_external_id"], name="mention_thread"
            ),
            # Repeated contact: an author's other posts in the 48 hours before one.
            models.Index(fields=["workspace", "author_handle", "posted_at"], name="mention_author"),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"


class RoutingRule(models.Model):
    """Send matching mentions to a team; the first enabled rule that fits wins.

    Every condition left empty matches anything. Without a fitting rule, a
    mention goes to the owner team of its first matching query that has one.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=120)
    query = models.ForeignKey(
        Query, on_delete=models.CASCADE, null=True, blank=True, related_name="routing_rules"
    )
    platform = models.CharField(max_length=20, blank=True)
    lang = models.CharField(max_length=16, blank=True)
    intent = models.CharField(max_length=20, blank=True)
    # A rule with a tag moves a conversation when an agent tags it so; mentions
    # carry no tags, so the pipeline passes such rules over.
    tag = models.CharField(max_length=40, blank=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="routing_rules")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name
