"""Domain errors with stable codes, shared by pages and the API.

Every app raises these (or subclasses) from its services and selectors;
views turn them into a message, the API into `{"error": {"code", "message"}}`
with the status below.
"""

from __future__ import annotations


class HubbubError(Exception):
    status = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        # Machine-readable specifics, such as where in a query the problem is.
        self.details = details or {}


class ValidationFailed(HubbubError):
    status = 422
    default_code = "validation_failed"


class NotFound(HubbubError):
    """Also raised for things in another workspace or team: we never confirm they exist."""

    status = 404
    default_code = "not_found"


class Forbidden(HubbubError):
    status = 403
    default_code = "forbidden"


class Conflict(HubbubError):
    status = 409
    default_code = "conflict"


class Gone(HubbubError):
    status = 410
    default_code = "gone"


class RateLimited(HubbubError):
    """Too many requests from one sender; `details["retry_after"]` says when to try again."""

    status = 429
    default_code = "rate_limited"
