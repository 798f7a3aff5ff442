"""Serving a stored file (a customer's attachment, a handoff brief's file) to a browser."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse

from hubbub.care.models import Attachment


def file_response(item: Attachment, *, inline: bool = False, cache: str) -> HttpResponse:
    """The file's bytes: shown in place only when `inline` (safe image types), else a download;
    sandboxed and never sniffed either way, so nothing in it runs in Hubbub's origin."""
    data = bytes(Attachment.objects.values_list("data", flat=True).get(pk=item.pk))
    response = HttpResponse(
        data, content_type=item.content_type if inline else "application/octet-stream"
    )
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(item.filename)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = cache
    return response
