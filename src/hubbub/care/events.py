from __future__ import annotations

from dataclasses import dataclass

from hubbub.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationOpened(Event):
    """A conversation was opened, or a customer's mentions joined one: inboxes refresh."""

    kind = "conversation_opened"
    conversation_id: int
    created: bool
