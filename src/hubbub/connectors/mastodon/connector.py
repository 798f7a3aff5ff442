"""Mastodon: a public reply or a direct message is one `POST /api/v1/statuses`.

A direct message is a status with `visibility=direct` that @mentions the
customer; Mastodon has no other private-message API. The Idempotency-Key
header makes the server answer a retry with the status it already created
(it keeps keys for an hour), so a retried job does not post twice.

`in_reply_to` must be the status id on the brand's own instance, which is
what a mention read through that instance carries.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime

from hubbub.connectors.base import Capabilities
from hubbub.connectors.outbound import Account, Delivered, Outgoing, SendError, Visibility
from hubbub.core import safe_http

# Listening (timelines, notifications, search, streaming) and profiles come with issue 7's
# Mastodon reader; until then the connector only sends.
CAPABILITIES = Capabilities(listen=False, reply=True, private_message=True)

TIMEOUT_SECONDS = 15.0


def send(account: Account, outgoing: Outgoing) -> Delivered:
    if not account.base_url:
        raise SendError("The Mastodon account has no instance address.", transient=False)
    payload: dict[str, str] = {
        "status": outgoing.text,
        "visibility": "direct" if outgoing.visibility == Visibility.DIRECT else "public",
    }
    if outgoing.in_reply_to:
        payload["in_reply_to_id"] = outgoing.in_reply_to
    headers = {"Authorization": f"Bearer {account.secret}"}
    if outgoing.idempotency_key:
        headers["Idempotency-Key"] = outgoing.idempotency_key
    try:
        response = safe_http.request(
            "POST",
            account.base_url.rstrip("/") + "/api/v1/statuses",
            headers=headers,
            json=payload,
            timeout=TIMEOUT_SECONDS,
        )
    except safe_http.UnsafeUrl as error:
        raise SendError(error.message, transient=False) from error
    except safe_http.FetchError as error:
        # Timeouts, refused connections, a reset: the instance may be back soon.
        raise SendError(f"Mastodon did not answer: {error.message}", transient=True) from error
    return _outcome(response)


def _outcome(response: safe_http.SafeResponse) -> Delivered:
    status = response.status_code
    if status == 200:
        body = _json(response)
        if not isinstance(body, dict) or not body.get("id"):
            raise SendError("Mastodon answered without a status id.", transient=True)
        url = body.get("url") or body.get("uri") or ""
        return Delivered(external_id=str(body["id"]), url=str(url))
    reason = _error_text(response)
    if status == 429:
        raise SendError(
            "Mastodon's rate limit was reached; trying again after it resets.",
            transient=True,
            retry_after_seconds=_seconds_until_reset(response),
        )
    if status >= 500:
        raise SendError(f"Mastodon had an error ({status}): {reason}", transient=True)
    if status in (401, 403):
        raise SendError(
            f"Mastodon refused the account's access token ({status}): {reason}. "
            "Reconnect the account under Settings → Channels.",
            transient=False,
        )
    if status == 404:
        raise SendError(
            "Mastodon no longer has the post being answered (deleted?).", transient=False
        )
    raise SendError(f"Mastodon refused the message ({status}): {reason}", transient=False)


def _json(response: safe_http.SafeResponse) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(response: safe_http.SafeResponse) -> str:
    body = _json(response)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:300]
    return response.text[:200] or "no explanation"


def _seconds_until_reset(response: safe_http.SafeResponse) -> float | None:
    """From X-RateLimit-Reset (an ISO 8601 time) or Retry-After (seconds or an HTTP date)."""
    now = dt.datetime.now(dt.UTC)
    reset = response.headers.get("X-RateLimit-Reset", "")
    retry = response.headers.get("Retry-After", "")
    try:
        if reset:
            at = dt.datetime.fromisoformat(reset.replace("Z", "+00:00"))
            return max(0.0, (at - now).total_seconds())
        if retry.isdigit():
            return float(retry)
        if retry:
            return max(0.0, (parsedate_to_datetime(retry) - now).total_seconds())
    except (ValueError, TypeError):
        return None
    return None
