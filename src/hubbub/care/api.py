"""REST endpoints of the inbox: the same selectors and services as the pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status as Reply

from hubbub.api.auth import api_user
from hubbub.care import assignment, inbound, outbound, selectors, services
from hubbub.care.models import Activity, Conversation, Message
from hubbub.care.schemas import (
    AssignIn,
    ConversationDetailOut,
    ConversationOut,
    CountsOut,
    CustomerMessageIn,
    DirectIn,
    ListIn,
    MessageOut,
    NoteIn,
    ReplyIn,
    StatusIn,
    TimelineEntryOut,
)
from hubbub.care.selectors import EntryKind, InboxFilter, InboxView
from hubbub.listening.models import Mention

router = Router(tags=["inbox"])


def _conversation(conversation: Conversation) -> ConversationOut:
    return ConversationOut(**_fields(conversation))


def _fields(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "subject": conversation.subject,
        "status": conversation.status,
        "priority": conversation.priority,
        "platform": conversation.platform,
        "customer_handle": conversation.customer_handle,
        "customer_name": conversation.customer_name,
        "team_id": conversation.team_id,
        "assignee_id": conversation.assignee_id,
        "sentiment": conversation.sentiment,
        "intent": conversation.intent,
        "lang": conversation.lang,
        "tags": [tag.name for tag in conversation.tags.all()],
        "sla_state": conversation.sla_state,
        "sla_due_at": conversation.sla_due_at,
        "last_activity_at": conversation.last_activity_at,
        "created_at": conversation.created_at,
    }


def _message(message: Message) -> MessageOut:
    return MessageOut(
        id=message.pk,
        kind=message.kind,
        state=message.state,
        body=message.body,
        in_reply_to=message.in_reply_to_id,
        external_url=message.external_url,
        created_at=message.created_at,
    )


@router.get("/conversations", response=list[ConversationOut], summary="A view of the inbox")
def list_conversations(request: HttpRequest, params: Query[ListIn]) -> list[ConversationOut]:
    wanted = InboxFilter(
        view=InboxView(params.view),
        channel=params.channel,
        sentiment=params.sentiment,
        intent=params.intent,
        lang=params.lang,
        tag=params.tag,
        search=params.q,
    )
    conversations = selectors.inbox(user=api_user(request), wanted=wanted, limit=params.limit)
    return [_conversation(c) for c in conversations]


@router.get("/conversations/counts", response=CountsOut, summary="How many each view holds")
def counts(request: HttpRequest) -> CountsOut:
    totals = selectors.inbox_counts(user=api_user(request))
    return CountsOut(**{view.value: count for view, count in totals.items()})


@router.get("/conversations/{conversation_id}", response=ConversationDetailOut)
def get_conversation(request: HttpRequest, conversation_id: int) -> ConversationDetailOut:
    view = selectors.conversation_view(user=api_user(request), conversation_id=conversation_id)
    return ConversationDetailOut(
        **_fields(view.conversation), timeline=[_entry(entry) for entry in view.timeline]
    )


def _entry(entry: selectors.TimelineEntry) -> TimelineEntryOut:
    item = entry.item
    if entry.kind == EntryKind.MENTION:
        assert isinstance(item, Mention)
        return TimelineEntryOut(
            kind="mention",
            id=item.pk,
            at=entry.at,
            author=item.author_name or item.author_handle,
            text=item.text,
            type=item.platform,
            url=item.url,
        )
    if entry.kind == EntryKind.MESSAGE:
        assert isinstance(item, Message)
        return TimelineEntryOut(
            kind="message",
            id=item.pk,
            at=entry.at,
            author=item.sender_name,
            text=item.body,
            type=item.kind,
            state=item.state,
            url=item.external_url,
        )
    assert isinstance(item, Activity)
    return TimelineEntryOut(
        kind="activity", id=item.pk, at=entry.at, author="", text=item.summary, type=item.kind
    )


@router.post(
    "/conversations/{conversation_id}/replies",
    response={202: MessageOut},
    summary="Queue a public reply (or a private message) signed by you",
)
def reply(request: HttpRequest, conversation_id: int, data: ReplyIn) -> Reply[MessageOut]:
    message = outbound.send_reply(
        actor=api_user(request),
        conversation_id=conversation_id,
        body=data.body,
        private=data.private,
        in_reply_to_id=data.in_reply_to,
        confirm_not_mine=data.confirm_not_mine,
        macro_id=data.macro_id,
    )
    return Reply(202, _message(message))


@router.post(
    "/conversations/{conversation_id}/customer-messages",
    response={201: MessageOut},
    summary="Add a message the customer sent through another system (a form, a call)",
)
def customer_message(
    request: HttpRequest, conversation_id: int, data: CustomerMessageIn
) -> Reply[MessageOut]:
    message = inbound.post_for_customer(
        actor=api_user(request),
        conversation_id=conversation_id,
        text=data.text,
        subject=data.subject,
        source=data.source,
    )
    return Reply(201, _message(message))


@router.post(
    "/conversations/{conversation_id}/direct",
    response={202: MessageOut},
    summary="Answer by email or in the web chat, signed by you",
)
def direct(request: HttpRequest, conversation_id: int, data: DirectIn) -> Reply[MessageOut]:
    message = outbound.send_direct(
        actor=api_user(request),
        conversation_id=conversation_id,
        body=data.body,
        channel=data.channel,
        confirm_not_mine=data.confirm_not_mine,
    )
    return Reply(202, _message(message))


@router.post("/conversations/{conversation_id}/notes", response={201: MessageOut})
def add_note(request: HttpRequest, conversation_id: int, data: NoteIn) -> Reply[MessageOut]:
    note = services.add_note(
        actor=api_user(request), conversation_id=conversation_id, body=data.body
    )
    return Reply(201, _message(note))


@router.post("/conversations/{conversation_id}/assign", response=ConversationOut)
def assign(request: HttpRequest, conversation_id: int, data: AssignIn) -> ConversationOut:
    conversation = assignment.assign_conversation(
        actor=api_user(request),
        conversation_id=conversation_id,
        assignee_id=data.assignee_id,
        note=data.note,
    )
    return _conversation(conversation)


@router.post("/conversations/{conversation_id}/status", response=ConversationOut)
def change_status(request: HttpRequest, conversation_id: int, data: StatusIn) -> ConversationOut:
    conversation = services.change_status(
        actor=api_user(request), conversation_id=conversation_id, status=data.status
    )
    return _conversation(conversation)
