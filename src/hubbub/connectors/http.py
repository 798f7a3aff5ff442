"""HTTP for connectors: one call that every platform's client uses.

It goes through `core.safe_http` (the platforms' addresses come from
configuration, so they are guarded like any other URL), and it turns what
went wrong into `ConnectorError`s that say whether trying again can help:

- 429, and 503 with Retry-After, are transient, with the time the platform
  named (Retry-After, or the reset of its rate-limit headers);
- other 5xx, timeouts and refused connections are transient;
- 401 and 403 are `AuthenticationFailed`; other 4xx are permanent.

`budget_of` reads the rate-limit headers of the platforms Hubbub speaks to,
so the polling loop can spread its requests and the source page can show
what is left.
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import random
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from hubbub.connectors.base import AuthenticationFailed, ConnectorError, RateBudget
from hubbub.core import clock, safe_http

TIMEOUT_SECONDS = 15.0
# A platform's answer to a read: generous for a page of posts, small enough to stop a flood.
MAX_BYTES = 8_000_000
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 15 * 60.0


def url_with(base: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    """`base` + `path`, with the query string built from `params` (None values left out)."""
    url = base.rstrip("/") + path
    if params:
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            if value is None:
                continue
            values = value if isinstance(value, list | tuple) else [value]
            pairs.extend((name, str(item)) for item in values)
        if pairs:
            url += ("&" if "?" in url else "?") + urlencode(pairs)
    return url


def call(
    method: str,
    url: str,
    *,
    platform: str,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_BYTES,
    allow_hosts: Collection[str] | None = None,
    ok: Collection[int] = (200,),
) -> safe_http.SafeResponse:
    """One request; the response if its status is in `ok`, else a ConnectorError."""
    with fetch_errors(platform):
        response = safe_http.request(
            method,
            url,
            headers=headers,
            json=json,
            data=data,
            timeout=timeout,
            max_bytes=max_bytes,
            allow_hosts=allow_hosts,
        )
    if response.status_code in ok:
        return response
    raise error_for(response, platform=platform)


@contextmanager
def fetch_errors(platform: str) -> Iterator[None]:
    """safe_http's errors as ConnectorErrors: an address Hubbub will not fetch and a flood
    are permanent; the rest (timeouts, refused connections, resets) may pass."""
    try:
        yield
    except safe_http.UnsafeUrl as error:
        raise ConnectorError(error.message, transient=False, code="unsafe_url") from error
    except safe_http.ResponseTooLarge as error:
        raise ConnectorError(error.message, transient=False, code="too_large") from error
    except safe_http.FetchError as error:
        raise ConnectorError(
            f"{platform} did not answer: {error.message}", transient=True, code="unreachable"
        ) from error


def error_for(response: safe_http.SafeResponse, *, platform: str) -> ConnectorError:
    """The ConnectorError that a response with an unwanted status stands for."""
    status = response.status_code
    reason = error_text(response)
    if status == 429:
        return ConnectorError(
            f"{platform}'s rate limit was reached; waiting until it resets.",
            transient=True,
            retry_after_seconds=retry_after(response),
            code="rate_limited",
        )
    if status in (401, 403):
        return AuthenticationFailed(
            f"{platform} refused the credentials ({status}): {reason}. Enter them again."
        )
    if status >= 500:
        return ConnectorError(
            f"{platform} had an error ({status}): {reason}",
            transient=True,
            retry_after_seconds=retry_after(response),
            code="server_error",
        )
    return ConnectorError(
        f"{platform} refused the request ({status}): {reason}", transient=False, code="refused"
    )


def json_of(response: safe_http.SafeResponse, *, platform: str) -> Any:
    """The body as JSON; a body that is not JSON is the platform's fault, maybe passing."""
    try:
        return response.json()
    except ValueError as error:
        raise ConnectorError(
            f"{platform} answered with something that is not JSON.",
            transient=True,
            code="malformed",
        ) from error


def error_text(response: safe_http.SafeResponse) -> str:
    """The platform's own explanation, from the usual JSON error shapes, else the body's start."""
    try:
        body = jsonlib.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error_description", "message", "error", "explanation"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
    return response.text[:200].strip() or "no explanation"


def retry_after(response: safe_http.SafeResponse) -> float | None:
    """Seconds until the platform wants to hear from us again, if it said."""
    value = response.headers.get("Retry-After", "").strip()
    now = clock.now()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
        except (TypeError, ValueError):
            pass
    budget = budget_of(response)
    if budget.reset_at is not None:
        return max(0.0, (budget.reset_at - now).total_seconds())
    return None


def budget_of(response: safe_http.SafeResponse) -> RateBudget:
    """The rate-limit headers, as the platforms send them.

    Bluesky: RateLimit-Remaining / RateLimit-Limit / RateLimit-Reset (epoch
    seconds). Mastodon: X-RateLimit-* with the reset as an ISO 8601 time.
    Reddit: X-Ratelimit-Remaining (a float) / X-Ratelimit-Used and
    X-Ratelimit-Reset in seconds from now.
    """
    headers = response.headers
    remaining = _number(headers.get("ratelimit-remaining") or headers.get("x-ratelimit-remaining"))
    limit = _number(headers.get("ratelimit-limit") or headers.get("x-ratelimit-limit"))
    used = _number(headers.get("x-ratelimit-used"))
    if limit is None and used is not None and remaining is not None:
        limit = used + remaining
    reset = headers.get("ratelimit-reset") or headers.get("x-ratelimit-reset") or ""
    return RateBudget(remaining=remaining, limit=limit, reset_at=_reset_time(reset.strip()))


def _number(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _reset_time(value: str) -> dt.datetime | None:
    """An epoch time, seconds from now (small numbers), or an ISO 8601 time."""
    if not value:
        return None
    now = clock.now()
    try:
        number = float(value)
    except ValueError:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if number > 1_000_000_000:  # an epoch time
        return dt.datetime.fromtimestamp(number, tz=dt.UTC)
    return now + dt.timedelta(seconds=number)


def backoff_seconds(failures: int, retry_after_seconds: float | None = None) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s … at most 15 minutes), never
    sooner than the platform asked."""
    base = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** max(0, failures - 1))
    return max(base * random.uniform(0.8, 1.2), retry_after_seconds or 0.0)
