"""Correcting a mention's labels on its page: htmx swaps the Triage panel, a form redirects."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from hubbub.accounts import permissions
from hubbub.accounts.http import current_user, member_required
from hubbub.accounts.models import User
from hubbub.core.errors import ValidationFailed
from hubbub.intelligence import selectors, services
from hubbub.intelligence.models import Task
from hubbub.listening import selectors as listening


@member_required
@require_POST
def correct_label(request: HttpRequest, mention_id: int) -> HttpResponse:
    """Save an agent's sentiment or intent for a mention. Forbidden and NotFound become pages."""
    user = current_user(request)
    task, label = request.POST.get("task", ""), request.POST.get("label", "")
    try:
        corrected = services.correct_label(user=user, mention_id=mention_id, task=task, label=label)
    except ValidationFailed as error:
        if request.htmx:  # type: ignore[attr-defined]
            return _triage_panel(request, user, mention_id, task=task, error=error.message)
        messages.error(request, error.message)
    else:
        name = services.check_task(task).label
        note = (
            f"{name} corrected to {label}."
            if corrected is not None
            else f"{name} was already {label}."
        )
        if request.htmx:  # type: ignore[attr-defined]
            return _triage_panel(request, user, mention_id, task=task, note=note)
        messages.success(request, note)
    return redirect(reverse("listening:mention", args=[mention_id]) + "#triage-title")


def _triage_panel(
    request: HttpRequest, user: User, mention_id: int, *, task: str, note: str = "", error: str = ""
) -> HttpResponse:
    """The Triage and "Why is this high?" cards, after a correction (`task`) was tried."""
    mention = listening.access_mention(user=user, mention_id=mention_id)
    return render(
        request,
        "intelligence/_triage.html",
        {
            "mention": mention,
            "reasons": listening.priority_reasons(mention),
            "labels": selectors.mention_labels(mention=mention),
            "can_correct": permissions.can_work_conversations(user),
            "focus": task,
            "note": note,
            "error": error,
            # An error about no known task (a forged form) shows above the labels.
            "error_task": task if task in Task.values else "",
        },
    )
