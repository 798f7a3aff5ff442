"""The shell's pages: the product areas, errors, avatars."""

from __future__ import annotations

import re

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from hubbub.accounts.http import member_required
from hubbub.accounts.models import Role, User

# What each area will hold, said plainly on its empty state until it does.
AREA_COPY = {
    "knowledge": (
        "Knowledge",
        "No articles yet",
        "Answers your team writes once and links many times; customers find them before they ask.",
    ),
    "community": (
        "Community",
        "No community questions yet",
        "Customers helping customers, with your team's official answers marked.",
    ),
    "contacts": (
        "Contacts",
        "No contacts yet",
        "One profile per customer across every channel they used to reach you.",
    ),
    "insights": (
        "Insights",
        "Nothing to measure yet",
        "Volumes, sentiment, response times and satisfaction, once conversations flow in.",
    ),
}


def home(request: HttpRequest) -> HttpResponse:
    """Department members start at their handoffs; everyone else at the inbox."""
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.role == Role.DEPARTMENT:
        return redirect("web:handoffs")
    return redirect("web:inbox")


@member_required
def area(request: HttpRequest, area: str) -> HttpResponse:
    title, empty_title, empty_text = AREA_COPY[area]
    return render(
        request,
        "web/area.html",
        {
            "area": area,
            "title": title,
            "empty_title": empty_title,
            "empty_text": empty_text,
        },
    )


AVATAR_NAME = re.compile(r"^[0-9a-f]{32}\.webp$")


@require_GET
@cache_control(public=True, max_age=60 * 60 * 24 * 30, immutable=True)
def avatar(request: HttpRequest, name: str) -> FileResponse:
    """Avatars are public (customers see them) under unguessable, immutable names."""
    if not AVATAR_NAME.match(name) or not default_storage.exists(f"avatars/{name}"):
        raise Http404("No such avatar")
    return FileResponse(default_storage.open(f"avatars/{name}", "rb"), content_type="image/webp")


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Not allowed", "You do not have access to this page.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(
        request,
        500,
        "Something broke",
        "Hubbub hit an error. It has been logged; please try again.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error(
        request,
        403,
        "Form expired",
        "The form was open too long or cookies are blocked. Reload the page and try again.",
    )
