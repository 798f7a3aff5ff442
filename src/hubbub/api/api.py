"""The one NinjaAPI, under /api/v1. Each app contributes a router."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger

from hubbub.accounts.api import router as accounts_router
from hubbub.api.auth import api_auth
from hubbub.care.api import router as care_router
from hubbub.care.handoff_api import conversations_router as handoff_owner_router
from hubbub.care.handoff_api import router as handoffs_router
from hubbub.core.errors import HubbubError
from hubbub.listening.api import router as listening_router

logger = logging.getLogger(__name__)

# Swagger UI (shipped inside django-ninja, served by us) sets inline styles.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
)


class HubbubDocs(Swagger):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: object) -> HttpResponse:
        response = super().render_page(request, api, **kwargs)
        response.csp = DOCS_POLICY  # type: ignore[attr-defined]
        if isinstance(response, TemplateResponse):
            response.render()
        return response


api = NinjaAPI(
    title="Hubbub API",
    version="1",
    description=(
        "The REST API of Hubbub. Authenticate with a personal token "
        "(`Authorization: Bearer hbb_…`, made in Settings → API tokens) or the "
        'browser session. Errors are `{"error": {"code", "message"}}`.'
    ),
    auth=api_auth,
    docs=HubbubDocs(),
    docs_url="/docs",
    urls_namespace="api",
)
api.add_router("/", accounts_router)
api.add_router("/listening", listening_router)
api.add_router("/inbox", care_router)
api.add_router("/inbox", handoff_owner_router)
api.add_router("/handoffs", handoffs_router)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, **extra: object
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, **extra}}, status=status
    )


@api.exception_handler(HubbubError)
def on_domain_error(request: HttpRequest, error: HubbubError) -> HttpResponse:
    extra: dict[str, object] = {"field": error.field} if error.field else {}
    if error.details:
        extra["details"] = error.details
    return error_response(request, error.status, error.code, error.message, **extra)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    return error_response(
        request,
        422,
        "validation_failed",
        "The request body or parameters are invalid.",
        details=error.errors,
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        401,
        "not_authenticated",
        "Send a valid API token (Authorization: Bearer …) or sign in.",
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return error_response(request, error.status_code, "http_error", str(error))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.exception("unhandled API error on %s", request.path)
    return error_response(request, 500, "server_error", "Hubbub hit an error; it has been logged.")
