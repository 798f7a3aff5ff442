from __future__ import annotations

from dataclasses import dataclass

from hubbub.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationOpened(Event):
    """A conversation was opened, or a customer's mentions joined one: inboxes refresh."""

    kind = "conversation_opened"
    conversation_id: int
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationsArrived(Event):
    """The pipeline filed new mentions into conversations (new ones or the customer's open one)."""

    kind = "conversations_arrived"
    conversation_ids: list[int]
    created: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationChanged(Event):
    """Someone changed a conversation: its assignee, status, priority, tags or timeline.

    `what` says which ("assigned", "status", "message" …) so a page can
    refresh only what changed; `actor_id` lets the actor's own tab skip
    what it already shows.
    """

    kind = "conversation_changed"
    conversation_id: int
    what: str
    actor_id: int | None
    assignee_id: int | None
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationCreated(Event):
    """Someone should look at something (an @mention in a note); sent to that person only."""

    kind = "notification_created"
    notification_id: int
    conversation_id: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PresenceChanged(Event):
    """Someone opened, started typing on, or left a conversation (not sent for heartbeats)."""

    kind = "presence_changed"
    conversation_id: int
    user_id: int
    state: str  # "viewing", "typing" or "left"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffChanged(Event):
    """A handoff arrived at a department, moved on, or was taken back: its queue refreshes.

    Sent to the department's team (and to who sees every team), ids only.
    """

    kind = "handoff_changed"
    handoff_id: int
    state: str
