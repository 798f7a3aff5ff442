"""Department pages: the handoff queue, one handoff, and the emailed link's single page.

Departments see only what they need: the brief, its files, the customer's
name and the progress posted so far; never the conversation's timeline.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from hubbub.accounts.http import current_user, member_required
from hubbub.accounts.models import User
from hubbub.care import downloads, handoffs, resolve
from hubbub.care.models import Handoff
from hubbub.core.errors import HubbubError, ValidationFailed


@member_required
def queue(request: HttpRequest) -> HttpResponse:
    """Open handoffs to the person's departments, oldest first (or the closed ones)."""
    user = current_user(request)
    closed = request.GET.get("show") == "closed"
    context = {
        "area": "handoffs",
        "title": "Handoffs",
        "closed": closed,
        "handoffs": handoffs.queue(user=user, closed=closed),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "care/handoffs.html#handoff-list", context)
    return render(request, "care/handoffs.html", context)


@member_required
def detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """One handoff for its department: the brief, its files, progress, and the form to post more."""
    user = current_user(request)
    error = ""
    if request.method == "POST":
        try:
            handoffs.post_progress(
                actor=user,
                handoff_id=handoff_id,
                text=request.POST.get("text", ""),
                resolves=request.POST.get("resolves") == "1",
            )
        except HubbubError as refused:
            if refused.status == 404:
                raise
            error = refused.message
        else:
            messages.success(request, "Posted. The owner sees it now.")
            return redirect("care:handoff", handoff_id=handoff_id)
    handoff = handoffs.access_handoff(user=user, handoff_id=handoff_id)
    return render(
        request,
        "care/handoff.html",
        _context(handoff, error=error, draft=request.POST.get("text", "") if error else "")
        | {"area": "handoffs", "title": f"Handoff #{handoff.pk}"},
        status=422 if error else 200,
    )


def _context(handoff: Handoff, *, error: str, draft: str) -> dict[str, object]:
    return {
        "handoff": handoff,
        "files": handoffs.brief_files(handoff),
        "updates": list(handoff.updates.all()),
        "error": error,
        "draft": draft,
    }


@member_required
@require_GET
def handoff_file(request: HttpRequest, handoff_id: int, attachment_id: int) -> HttpResponse:
    handoff = handoffs.access_handoff(user=current_user(request), handoff_id=handoff_id)
    return _download(handoff, attachment_id)


def by_link(request: HttpRequest, token: str) -> HttpResponse:
    """The single page someone outside Hubbub works a handoff on, through the emailed link."""
    try:
        handoff = handoffs.handoff_for_link(token)
    except HubbubError as refused:
        return render(
            request,
            "care/handoff_link_refused.html",
            {
                "title": "Link not valid",
                "reason": refused.message,
                "expired": refused.status == 410,
            },
            status=refused.status,
        )
    error = ""
    if request.method == "POST":
        try:
            handoffs.post_progress_by_link(
                token=token,
                name=request.POST.get("name", ""),
                text=request.POST.get("text", ""),
                resolves=request.POST.get("resolves") == "1",
            )
        except HubbubError as refused:
            error = refused.message
        else:
            return redirect(reverse("care:handoff_link", args=[token]) + "?posted=1#progress")
    context = _context(handoff, error=error, draft=request.POST.get("text", "") if error else "")
    response = render(
        request,
        "care/handoff_link.html",
        context
        | {
            "title": f"Case #{handoff.conversation_id} for {handoff.department_name}",
            "token": token,
            "name": request.POST.get("name", ""),
            "posted": request.GET.get("posted") == "1",
        },
        status=422 if error else 200,
    )
    # The link is the credential: never sent to another site as a referrer, never kept by a cache.
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def link_file(request: HttpRequest, token: str, attachment_id: int) -> HttpResponse:
    try:
        handoff = handoffs.handoff_for_link(token)
    except HubbubError as refused:
        return HttpResponse(refused.message, status=refused.status, content_type="text/plain")
    return _download(handoff, attachment_id)


def _download(handoff: Handoff, attachment_id: int) -> HttpResponse:
    """One of the brief's files, always as a download, sandboxed and never sniffed."""
    item = next((f for f in handoffs.brief_files(handoff) if f.pk == attachment_id), None)
    if item is None:
        return HttpResponse("No such file.", status=404, content_type="text/plain")
    return downloads.file_response(item, cache="private, no-store")


# --- Actions on a conversation's page (the owner's side), run by care.views.act ----------

MAX_UPLOAD_FILES = handoffs.MAX_FILES


def _hand_off(user: User, conversation_id: int, request: HttpRequest) -> str:
    raw_department = request.POST.get("department", "")
    uploads = [
        handoffs.Upload(
            filename=upload.name or "file",
            content=upload.read(handoffs.FILE_LIMITS.max_attachment_bytes + 1),
            declared_type=upload.content_type or "",
        )
        for upload in request.FILES.getlist("files")[: MAX_UPLOAD_FILES + 1]
    ]
    opened = handoffs.hand_off(
        actor=user,
        conversation_id=conversation_id,
        department_id=int(raw_department) if raw_department.isdigit() else 0,
        what_happened=request.POST.get("what_happened", ""),
        customer_needs=request.POST.get("customer_needs", ""),
        external_email=request.POST.get("external_email", ""),
        uploads=uploads,
    )
    sent_to = f" and emailed to {opened.handoff.external_email}" if opened.link else ""
    return f"Handed off to {opened.handoff.department_name}{sent_to}. You still own it."


def _publish(user: User, conversation_id: int, request: HttpRequest) -> str:
    raw_source = request.POST.get("source", "")
    handoffs.publish_update(
        actor=user,
        conversation_id=conversation_id,
        text=request.POST.get("text", ""),
        source_update_id=int(raw_source) if raw_source.isdigit() else None,
    )
    return "On the customer's status page."


def _handoff_id(request: HttpRequest) -> int:
    raw = request.POST.get("handoff", "")
    if not raw.isdigit():
        raise ValidationFailed("Which handoff?", field="handoff")
    return int(raw)


def _take_back(user: User, conversation_id: int, request: HttpRequest) -> str:
    handoff = handoffs.withdraw(actor=user, handoff_id=_handoff_id(request))
    return f"Taken back from {handoff.department_name}."


def _new_link(user: User, conversation_id: int, request: HttpRequest) -> str:
    handoffs.renew_link(actor=user, handoff_id=_handoff_id(request))
    return "A new link is on its way; the old one no longer works."


def _resolve(user: User, conversation_id: int, request: HttpRequest) -> str:
    wants_follow_up = request.POST.get("follow_up_on") == "1"
    done = resolve.resolve_case(
        actor=user,
        conversation_id=conversation_id,
        follow_up=request.POST.get("follow_up", "") if wants_follow_up else "",
        send_survey=request.POST.get("survey") == "1",
        confirm_not_mine=request.POST.get("confirm_not_mine") == "1",
    )
    said = ["Resolved."]
    if done.follow_up is not None:
        said.append("Follow-up queued.")
    if done.survey is not None:
        said.append(
            "The survey is on its way." if done.follow_up else "The survey is on the status page."
        )
    return " ".join(said)


HANDOFF_ACTIONS: dict[str, Callable[[User, int, HttpRequest], str]] = {
    "handoff": _hand_off,
    "publish": _publish,
    "take-back": _take_back,
    "new-link": _new_link,
    "resolve": _resolve,
}
