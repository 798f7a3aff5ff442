"""REST endpoints of handoffs: a department's queue and progress, and the owner's side.

A department that works in its own tools posts progress here with a
personal API token of one of its members; the same services as the pages.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status as Reply

from hubbub.api.auth import api_user
from hubbub.care import handoffs
from hubbub.care.models import Handoff, HandoffUpdate, StatusUpdate
from hubbub.care.schemas import (
    HandoffIn,
    HandoffOut,
    ProgressIn,
    ProgressOut,
    StatusUpdateIn,
    StatusUpdateOut,
)

router = Router(tags=["handoffs"])


def _progress(update: HandoffUpdate) -> ProgressOut:
    return ProgressOut(
        id=update.pk,
        author_name=update.author_name,
        source=update.source,
        text=update.text,
        resolves=update.resolves,
        created_at=update.created_at,
    )


def _handoff(handoff: Handoff) -> HandoffOut:
    conversation = handoff.conversation
    return HandoffOut(
        id=handoff.pk,
        conversation_id=handoff.conversation_id,
        department_id=handoff.department_id,
        department_name=handoff.department_name,
        owner_id=handoff.owner_id,
        state=handoff.state,
        what_happened=handoff.what_happened,
        customer_needs=handoff.customer_needs,
        customer_name=conversation.customer_name or conversation.customer_handle,
        external_email=handoff.external_email,
        created_at=handoff.created_at,
        last_progress_at=handoff.last_progress_at,
        closed_at=handoff.closed_at,
        updates=[_progress(update) for update in handoff.updates.all()],
    )


@router.get("", response=list[HandoffOut], summary="The open handoffs to your departments")
def queue(request: HttpRequest, closed: bool = False) -> list[HandoffOut]:
    found = handoffs.queue(user=api_user(request), closed=closed)
    return [_handoff(handoff) for handoff in found]


@router.get("/{handoff_id}", response=HandoffOut)
def detail(request: HttpRequest, handoff_id: int) -> HandoffOut:
    return _handoff(handoffs.access_handoff(user=api_user(request), handoff_id=handoff_id))


@router.post("/{handoff_id}/progress", response={201: ProgressOut}, summary="Post progress")
def post_progress(request: HttpRequest, handoff_id: int, data: ProgressIn) -> Reply[ProgressOut]:
    update = handoffs.post_progress(
        actor=api_user(request), handoff_id=handoff_id, text=data.text, resolves=data.resolves
    )
    return Reply(201, _progress(update))


# Mounted under /inbox with the conversations: the owner's side.
conversations_router = Router(tags=["inbox"])


@conversations_router.post(
    "/conversations/{conversation_id}/handoff",
    response={201: HandoffOut},
    summary="Hand the problem to a department",
)
def hand_off(request: HttpRequest, conversation_id: int, data: HandoffIn) -> Reply[HandoffOut]:
    opened = handoffs.hand_off(
        actor=api_user(request),
        conversation_id=conversation_id,
        department_id=data.department_id,
        what_happened=data.what_happened,
        customer_needs=data.customer_needs,
        external_email=data.external_email,
    )
    return Reply(201, _handoff(opened.handoff))


@conversations_router.post(
    "/conversations/{conversation_id}/status-updates",
    response={201: StatusUpdateOut},
    summary="Publish an update on the customer's status page",
)
def publish_update(
    request: HttpRequest, conversation_id: int, data: StatusUpdateIn
) -> Reply[StatusUpdateOut]:
    update: StatusUpdate = handoffs.publish_update(
        actor=api_user(request),
        conversation_id=conversation_id,
        text=data.text,
        source_update_id=data.source_update_id,
    )
    return Reply(
        201,
        StatusUpdateOut(
            id=update.pk,
            conversation_id=update.conversation_id,
            text=update.text,
            author_name=update.author_name,
            created_at=update.created_at,
        ),
    )
