"""The web chat's endpoints, called by chat-widget.js from the brand's own site.

JSON over CORS, for the origins the widget allows and no others; no
cookies (the visitor's token travels in the Authorization header), so no
CSRF. Live replies come over a server-sent-events stream that the widget
reads with fetch(), woken by the same bus as the agents' inbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from hubbub.care import chat
from hubbub.care.models import Message, MessageKind
from hubbub.connectors.models import ChatVisitor, ChatWidget
from hubbub.core import bus
from hubbub.core.errors import HubbubError, ValidationFailed
from hubbub.core.links import absolute_url

MAX_BODY_BYTES = 32 * 1024
MAX_STREAM_SECONDS = 15 * 60


def _cors(response: HttpResponseBase, origin: str) -> HttpResponseBase:
    if not origin:
        return response  # same origin, or no browser: nothing to allow
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _error(error: HubbubError) -> JsonResponse:
    body: dict[str, Any] = {"error": error.message, "code": error.code}
    if error.field:
        body["field"] = error.field
    if "retry_after" in error.details:
        body["retry_after"] = error.details["retry_after"]
    response = JsonResponse(body, status=error.status)
    if "retry_after" in error.details:
        response["Retry-After"] = str(error.details["retry_after"])
    return response


def _origin(request: HttpRequest) -> str:
    return request.headers.get("Origin", "")


def _token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise ValidationFailed("That message is too long.", field="body")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed("The request is not JSON.") from error
    if not isinstance(data, dict):
        raise ValidationFailed("The request is not a JSON object.")
    return data


def _text(data: dict[str, Any], name: str, limit: int = 5000) -> str:
    """A text field, refused (not cut) when longer than `limit`: what is stored is what was sent."""
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text.", field=name)
    if len(value) > limit:
        raise ValidationFailed(f"{name} is longer than {limit} characters.", field=name)
    return value


def _after(request: HttpRequest) -> int:
    """The `after=` message id: a plain number, else from the start."""
    raw = request.GET.get("after", "0")
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) <= 18 else 0


def widget_endpoint(
    handler: Callable[[HttpRequest, ChatWidget], dict[str, Any]], *, status: int = 200
) -> Callable[[HttpRequest, str], HttpResponseBase]:
    """A widget endpoint: the origin checked, CORS answered, domain errors as JSON."""

    @csrf_exempt
    def view(request: HttpRequest, key: str) -> HttpResponseBase:
        origin = _origin(request)
        try:
            widget = chat.widget_for(key, origin=origin)
        except HubbubError as error:
            return _error(error)  # no CORS headers: the page cannot read it, as it should
        if request.method == "OPTIONS":
            return _cors(HttpResponse(status=204), origin)
        try:
            response: HttpResponseBase = JsonResponse(handler(request, widget), status=status)
        except HubbubError as error:
            response = _error(error)
        return _cors(response, origin)

    return view


def message_json(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message.pk,
        "from": "customer" if message.kind == MessageKind.CUSTOMER else "agent",
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }
    if message.kind != MessageKind.CUSTOMER:
        profile = getattr(message.author, "profile", None) if message.author else None
        avatar = ""
        if profile is not None and profile.avatar:
            path = reverse("web:avatar", args=[profile.avatar.removeprefix("avatars/")])
            avatar = absolute_url(path)
        data["agent"] = {"name": message.sender_name, "avatar_url": avatar}
    return data


def _visitor_json(visitor: ChatVisitor) -> dict[str, Any]:
    return {"name": visitor.name, "email": visitor.email, "verified": bool(visitor.user_id)}


def _session(request: HttpRequest, widget: ChatWidget) -> dict[str, Any]:
    if request.method != "POST":
        raise ValidationFailed("Use POST.")
    data = _json_body(request)
    session = chat.start_session(
        widget=widget,
        token=_text(data, "token", 100),
        user_id=_text(data, "user_id", 255),
        user_hash_given=_text(data, "user_hash", 128),
        name=_text(data, "name", 120),
        email=_text(data, "email", 254),
        email_hash_given=_text(data, "email_hash", 128),
        page_url=_text(data, "page_url", 2000),
        address=request.META.get("REMOTE_ADDR", ""),
    )
    visitor = session.visitor
    return {
        "token": session.token or _token(request) or _text(data, "token", 100),
        "visitor": _visitor_json(visitor),
        "online": chat.team_online(widget),
        "team_name": widget.team.name if widget.team is not None else widget.name,
        "greeting": widget.greeting,
        "messages": [message_json(m) for m in chat.chat_messages(visitor)],
    }


def _messages(request: HttpRequest, widget: ChatWidget) -> dict[str, Any]:
    visitor = chat.visitor_for(widget, _token(request))
    if request.method == "POST":
        message = chat.visitor_writes(visitor=visitor, body=_text(_json_body(request), "body"))
        return {"message": message_json(message)}
    messages = chat.chat_messages(visitor, after=_after(request))
    return {"messages": [message_json(m) for m in messages], "online": chat.team_online(widget)}


def _contact(request: HttpRequest, widget: ChatWidget) -> dict[str, Any]:
    if request.method != "POST":
        raise ValidationFailed("Use POST.")
    visitor = chat.visitor_for(widget, _token(request))
    data = _json_body(request)
    visitor = chat.leave_email(
        visitor=visitor, email=_text(data, "email", 254), name=_text(data, "name", 120)
    )
    return {"visitor": _visitor_json(visitor)}


session = widget_endpoint(_session)
messages = widget_endpoint(_messages)
contact = widget_endpoint(_contact)


# ---- the live stream ----


@csrf_exempt
async def stream(request: HttpRequest, key: str) -> HttpResponseBase:
    origin = _origin(request)
    try:
        widget = await sync_to_async(chat.widget_for)(key, origin=origin)
        if request.method == "OPTIONS":
            return _cors(HttpResponse(status=204), origin)
        visitor = await sync_to_async(chat.visitor_for)(widget, _token(request))
    except HubbubError as error:
        refused = _error(error)
        return _cors(refused, origin) if error.code != "origin_not_allowed" else refused
    response: HttpResponseBase = StreamingHttpResponse(
        _events(widget, visitor, _after(request)),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return _cors(response, origin)


def _poll(widget: ChatWidget, visitor_id: int, after: int) -> tuple[list[dict[str, Any]], bool]:
    try:
        visitor = ChatVisitor.objects.select_related("contact").get(pk=visitor_id)
        return [message_json(m) for m in chat.chat_messages(visitor, after=after)], (
            chat.team_online(widget)
        )
    finally:
        connection.close()  # a stream lives long: hold no pooled connection between polls


async def _events(widget: ChatWidget, visitor: ChatVisitor, after: int) -> AsyncIterator[str]:
    poll = sync_to_async(_poll)
    heartbeat = settings.HUBBUB_SSE_HEARTBEAT_SECONDS
    sent: set[int] = set()
    online: bool | None = None
    ends_at = time.monotonic() + MAX_STREAM_SECONDS
    yield "retry: 2000\n\n"
    async with bus.get_bus().waiter(widget.workspace_id) as waiter:
        while time.monotonic() < ends_at:
            waiter.clear()
            # Everything since the stream began, minus what went out: a message that
            # committed after a later one is still sent.
            found, now_online = await poll(widget, visitor.pk, after)
            for item in found:
                if item["id"] not in sent:
                    sent.add(item["id"])
                    yield f"event: message\ndata: {json.dumps(item)}\n\n"
            if now_online != online:
                online = now_online
                yield f"event: status\ndata: {json.dumps({'online': online})}\n\n"
            if not await waiter.wait(heartbeat):
                yield ": ping\n\n"
