"""The inbox pages: the list of active conversations, one conversation, opening one."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from hubbub.accounts.http import current_user, member_required
from hubbub.care import selectors, services
from hubbub.core.errors import HubbubError


@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Active conversations, most urgent first; refreshed live as conversations open."""
    context = {
        "area": "inbox",
        "title": "Inbox",
        "conversations": selectors.inbox(user=current_user(request)),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "care/inbox.html#conversation-list", context)
    return render(request, "care/inbox.html", context)


@member_required
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    view = selectors.conversation_view(user=current_user(request), conversation_id=conversation_id)
    return render(
        request,
        "care/conversation.html",
        {"area": "inbox", "title": "Inbox", "view": view, "conversation": view.conversation},
    )


@member_required
@require_POST
def open_from_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    try:
        opened = services.open_conversation(actor=current_user(request), mention_id=mention_id)
    except HubbubError as error:
        messages.error(request, error.message)
        return redirect("listening:mention", mention_id=mention_id)
    if opened.created:
        messages.success(request, "Conversation opened with the customer's recent mentions.")
    else:
        messages.info(request, "This customer already has an open conversation: it is here.")
    return redirect("care:conversation", conversation_id=opened.conversation.pk)
