from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hubbub.core.errors import HubbubError


class DomainErrorMiddleware:
    """A domain error that escapes a page view becomes a page with its message."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, HubbubError) or request.path.startswith("/api/"):
            return None
        titles = {404: "Not found", 403: "Not allowed", 409: "Conflict", 410: "Gone"}
        return render(
            request,
            "web/error.html",
            {
                "title": titles.get(exception.status, "Something is wrong"),
                "message": exception.message,
            },
            status=exception.status,
        )
