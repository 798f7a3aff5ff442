"""What a person fills in to add a source of each kind, or to connect the brand's account.

The sources page builds its form from these; the connectors read the same
names from `SourceConfig.settings` and `SourceConfig.credentials`.
Credentials are stored encrypted and never shown again after saving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum


class FieldKind(StrEnum):
    TEXT = "text"
    URL = "url"
    CHOICE = "choice"
    WORDS = "words"  # a list, one per line or separated by commas
    SECONDS = "seconds"
    SECRET = "secret"  # noqa: S105 (a kind of field, not a password)


@dataclass(frozen=True, slots=True)
class SourceField:
    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    help: str = ""
    default: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    # Shown only when the mode field has one of these values ("" = always).
    modes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceSchema:
    title: str
    explanation: str
    settings: tuple[SourceField, ...]
    credentials: tuple[SourceField, ...] = field(default=())


POLL = SourceField(
    "poll_seconds",
    "Check every (seconds)",
    FieldKind.SECONDS,
    help="How often Hubbub asks for new posts; it waits longer when the platform's rate limit "
    "runs low.",
    default="60",
)

SCHEMAS: dict[str, SourceSchema] = {
    "bluesky": SourceSchema(
        title="Bluesky",
        explanation="Search Bluesky for words, follow the brand account's mentions, or read "
        "the whole network live through Jetstream and keep the posts that name the brand.",
        settings=(
            SourceField(
                "mode",
                "Listen to",
                FieldKind.CHOICE,
                default="search",
                required=True,
                choices=(
                    ("search", "Posts that match a search"),
                    ("mentions", "Mentions of and replies to the brand account"),
                    ("jetstream", "Every new post, live (Jetstream), filtered by keywords"),
                ),
            ),
            SourceField(
                "query",
                "Search",
                help='Bluesky\'s search syntax: words, "phrases", from:handle, lang:en.',
                modes=("search",),
            ),
            SourceField(
                "keywords",
                "Keywords",
                FieldKind.WORDS,
                help="Posts that contain any of these (one per line). Empty keeps every post: "
                "only for testing.",
                modes=("jetstream",),
            ),
            SourceField(
                "service",
                "Server",
                FieldKind.URL,
                help="The brand account's server (PDS).",
                default="https://bsky.social",
                required=True,
            ),
            SourceField(
                "jetstream_url",
                "Jetstream",
                FieldKind.URL,
                default="wss://jetstream2.us-east.bsky.network/subscribe",
                modes=("jetstream",),
            ),
            POLL,
        ),
        credentials=(
            SourceField("identifier", "Handle", help="The brand account, e.g. brand.bsky.social."),
            SourceField(
                "app_password",
                "App password",
                FieldKind.SECRET,
                help="Create one under Settings → Privacy and security → App passwords. "
                "Never the account's own password.",
            ),
        ),
    ),
    "mastodon": SourceSchema(
        title="Mastodon",
        explanation="One source per server: a hashtag's timeline, the brand account's mentions, "
        "a search (where the server offers it), or a live stream.",
        settings=(
            SourceField(
                "instance",
                "Server",
                FieldKind.URL,
                default="https://mastodon.social",
                required=True,
            ),
            SourceField(
                "mode",
                "Listen to",
                FieldKind.CHOICE,
                default="hashtag",
                required=True,
                choices=(
                    ("hashtag", "A hashtag's timeline"),
                    ("mentions", "Mentions of the brand account"),
                    ("search", "Posts that match a search"),
                    ("stream", "A live stream"),
                ),
            ),
            SourceField("hashtag", "Hashtag", help="Without the #.", modes=("hashtag", "stream")),
            SourceField("query", "Search", modes=("search",)),
            SourceField(
                "stream",
                "Stream",
                FieldKind.CHOICE,
                default="hashtag",
                choices=(
                    ("hashtag", "The hashtag above"),
                    ("user", "The brand account's notifications and home"),
                    ("public", "The server's public timeline"),
                ),
                modes=("stream",),
            ),
            POLL,
        ),
        credentials=(
            SourceField(
                "access_token",
                "Access token",
                FieldKind.SECRET,
                help="From Preferences → Development → New application (read scopes). Not "
                "needed for a public hashtag.",
            ),
        ),
    ),
    "reddit": SourceSchema(
        title="Reddit",
        explanation="Search Reddit, or read new comments in subreddits, through a script app "
        "of the brand's Reddit account.",
        settings=(
            SourceField(
                "mode",
                "Listen to",
                FieldKind.CHOICE,
                default="search",
                required=True,
                choices=(
                    ("search", "Posts that match a search"),
                    ("subreddit_comments", "New comments in subreddits"),
                ),
            ),
            SourceField("query", "Search", modes=("search",)),
            SourceField(
                "subreddits",
                "Subreddits",
                FieldKind.WORDS,
                help="Without r/, one per line.",
                modes=("subreddit_comments",),
            ),
            SourceField("api_base", "API", FieldKind.URL, default="https://oauth.reddit.com"),
            SourceField("auth_base", "Sign-in", FieldKind.URL, default="https://www.reddit.com"),
            POLL,
        ),
        credentials=(
            SourceField("client_id", "Client id", help="From reddit.com/prefs/apps (script)."),
            SourceField("client_secret", "Client secret", FieldKind.SECRET),
            SourceField("username", "Reddit user"),
            SourceField("password", "Password", FieldKind.SECRET),
        ),
    ),
    "hackernews": SourceSchema(
        title="Hacker News",
        explanation="Stories and comments that match a search, through Algolia's Hacker News "
        "search. Hacker News has no API to answer with: agents answer on the site.",
        settings=(
            SourceField("query", "Search", required=True),
            SourceField(
                "tags",
                "Kinds",
                FieldKind.CHOICE,
                default="(story,comment)",
                choices=(
                    ("(story,comment)", "Stories and comments"),
                    ("story", "Stories"),
                    ("comment", "Comments"),
                ),
            ),
            SourceField("base_url", "Search API", FieldKind.URL, default="https://hn.algolia.com"),
            POLL,
        ),
    ),
    "rss": SourceSchema(
        title="RSS / Atom",
        explanation="A blog, forum, news search, Google Alert or app-store review feed. "
        "Hubbub asks only for what changed since its last visit.",
        settings=(
            SourceField("url", "Feed address", FieldKind.URL, required=True),
            SourceField(
                "poll_seconds",
                "Check every (seconds)",
                FieldKind.SECONDS,
                default="900",
                help="Feeds change slowly; every 15 minutes is polite.",
            ),
        ),
    ),
}


def schema_for(kind: str) -> SourceSchema | None:
    return SCHEMAS.get(kind)


@dataclass(frozen=True, slots=True)
class ChannelSchema:
    """What a person fills in to connect the brand's account for answering on a platform."""

    title: str
    base_url: SourceField
    # The setting under which the platform's connector reads that address (for the test).
    base_url_setting: str
    handle: SourceField
    credentials: tuple[SourceField, ...]
    # Settings under which the connector's check() only signs in: an account to answer
    # from has no listening settings of its own.
    check_settings: dict[str, str] = field(default_factory=dict)

    def secret_of(self, values: dict[str, str]) -> str:
        """One credential is stored as it is (a token); several as a JSON object."""
        if len(self.credentials) == 1:
            return values.get(self.credentials[0].name, "")
        return json.dumps({spec.name: values.get(spec.name, "") for spec in self.credentials})

    def credentials_of(self, secret: str) -> dict[str, str]:
        if len(self.credentials) == 1:
            return {self.credentials[0].name: secret} if secret else {}
        try:
            stored = json.loads(secret) if secret else {}
        except ValueError:
            return {}
        if not isinstance(stored, dict):
            return {}
        return {str(key): str(value) for key, value in stored.items() if value}


def _setting(kind: str, name: str) -> SourceField:
    return next(spec for spec in SCHEMAS[kind].settings if spec.name == name)


CHANNEL_SCHEMAS: dict[str, ChannelSchema] = {
    "bluesky": ChannelSchema(
        title="Bluesky",
        base_url=_setting("bluesky", "service"),
        base_url_setting="service",
        handle=SourceField(
            "handle", "Handle", help="How customers see the brand: brand.bsky.social."
        ),
        credentials=SCHEMAS["bluesky"].credentials,
        check_settings={"mode": "mentions"},
    ),
    "mastodon": ChannelSchema(
        title="Mastodon",
        base_url=_setting("mastodon", "instance"),
        base_url_setting="instance",
        check_settings={"mode": "mentions"},
        handle=SourceField("handle", "Account", help="The brand's account there: brightwave."),
        credentials=(
            SourceField(
                "access_token",
                "Access token",
                FieldKind.SECRET,
                help="From Preferences → Development → New application, with the scopes "
                "read and write:statuses.",
            ),
        ),
    ),
    "reddit": ChannelSchema(
        title="Reddit",
        base_url=_setting("reddit", "api_base"),
        base_url_setting="api_base",
        handle=SourceField("handle", "Reddit user", help="Without u/."),
        credentials=SCHEMAS["reddit"].credentials,
        check_settings={"mode": "search", "query": "sign-in check"},
    ),
}
