from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field

from hubbub.care.models import ConversationStatus


class ConversationOut(Schema):
    id: int
    subject: str
    status: ConversationStatus
    priority: float | None
    platform: str
    customer_handle: str
    customer_name: str
    team_id: int | None
    assignee_id: int | None
    sentiment: str
    intent: str
    lang: str
    tags: list[str]
    sla_state: str
    sla_due_at: dt.datetime | None
    last_activity_at: dt.datetime
    created_at: dt.datetime


class TimelineEntryOut(Schema):
    kind: Literal["mention", "message", "activity"]
    id: int
    at: dt.datetime
    author: str
    text: str
    type: str  # the message's kind, the activity's kind, or the mention's platform
    state: str = ""  # messages: held, queued, sending, sent, failed …
    url: str = ""


class ConversationDetailOut(ConversationOut):
    timeline: list[TimelineEntryOut]


class CountsOut(Schema):
    mine: int
    unassigned: int
    team: int
    all: int
    breaching: int
    snoozed: int


class ReplyIn(Schema):
    body: str = Field(max_length=10000)
    private: bool = False
    in_reply_to: int | None = None  # a mention id; the customer's latest post by default
    confirm_not_mine: bool = False
    macro_id: int | None = None


class MessageOut(Schema):
    id: int
    kind: str
    state: str
    body: str
    in_reply_to: int | None
    external_url: str
    created_at: dt.datetime


class CustomerMessageIn(Schema):
    text: str = Field(max_length=20000)
    subject: str = Field(default="", max_length=300)
    source: str = Field(default="", max_length=80)  # where it came from: "Web form", "Phone"


class DirectIn(Schema):
    body: str = Field(max_length=5000)
    channel: str = Field(pattern="^(email|chat)$")
    confirm_not_mine: bool = False


class NoteIn(Schema):
    body: str = Field(max_length=10000)


class AssignIn(Schema):
    assignee_id: int | None
    note: str = Field(default="", max_length=1000)


class StatusIn(Schema):
    status: ConversationStatus


class ListIn(Schema):
    view: Literal["mine", "unassigned", "team", "all", "breaching", "snoozed", "done"] = "all"
    channel: str = Field(default="", max_length=20)
    sentiment: str = Field(default="", max_length=10)
    intent: str = Field(default="", max_length=20)
    lang: str = Field(default="", max_length=16)
    tag: str = Field(default="", max_length=40)
    q: str = Field(default="", max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class HandoffIn(Schema):
    department_id: int
    what_happened: str = Field(max_length=10000)
    customer_needs: str = Field(max_length=10000)
    external_email: str = Field(default="", max_length=254)


class ProgressIn(Schema):
    text: str = Field(max_length=10000)
    resolves: bool = False


class StatusUpdateIn(Schema):
    text: str = Field(max_length=10000)
    source_update_id: int | None = None


class ProgressOut(Schema):
    id: int
    author_name: str
    source: str
    text: str
    resolves: bool
    created_at: dt.datetime


class HandoffOut(Schema):
    id: int
    conversation_id: int
    department_id: int | None
    department_name: str
    owner_id: int | None
    state: str
    what_happened: str
    customer_needs: str
    customer_name: str
    external_email: str
    created_at: dt.datetime
    last_progress_at: dt.datetime | None
    closed_at: dt.datetime | None
    updates: list[ProgressOut]


class StatusUpdateOut(Schema):
    id: int
    conversation_id: int
    text: str
    author_name: str
    created_at: dt.datetime
