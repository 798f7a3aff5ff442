"""Mastodon: listening (hashtag timelines, mentions, search, the streaming API),
profiles, and replies and direct messages.

Reading: `poll` reads a page of the source's feeds from its cursor
(`reader.py`); `follow` streams a stream-mode source (`stream.py`) and hands
the others to the shared polling loop. Posts are keyed by the status `uri`,
which every server gives the same post; the instance's own id stays in the
payload.

Sending: a public reply or a direct message is one `POST /api/v1/statuses`.
A direct message is a status with `visibility=direct` that @mentions the
customer; Mastodon has no other private-message API. The Idempotency-Key
header makes the server answer a retry with the status it already created
(it keeps keys for an hour), so a retried job does not post twice.

`in_reply_to_id` must be the status id on the brand's own instance. Care
hands over the post's external_id, a status uri, so `send` first asks the
brand's instance for its id of that status (`/api/v2/search?resolve=true`,
which fetches a remote status the instance has not seen); a bare numeric
id is taken as the instance's own.
"""

from __future__ import annotations

import datetime as dt
import threading
from email.utils import parsedate_to_datetime

from hubbub.connectors import http, polling
from hubbub.connectors.base import Batch, Capabilities, ConnectorError, Profile, SourceConfig
from hubbub.connectors.mastodon import client, parse, reader, stream
from hubbub.connectors.outbound import Account, Delivered, Outgoing, SendError, Visibility
from hubbub.core import safe_http

CAPABILITIES = Capabilities(listen=True, reply=True, private_message=True, profile=True)

TIMEOUT_SECONDS = 15.0


def poll(config: SourceConfig) -> Batch:
    """A page of each of the source's feeds, newer than its cursor; raises ConnectorError."""
    return reader.read_batch(config)


def follow(source_id: int, stop: threading.Event) -> None:
    """Follow the source until `stop`: stream mode live, the other modes by polling."""
    config = polling.source_config(source_id)
    if config is None:
        return
    if config.setting("mode") == "stream":
        stream.follow_stream(source_id, stop)
    else:
        polling.run(source_id, stop, poll)


def check(config: SourceConfig) -> str:
    """Try the source's settings and token; a sentence for a person, or ConnectorError."""
    feeds = client.feeds_of(config)
    base = client.instance_of(config)
    host = client.host_of(base)
    token = client.token_of(config)
    if token:
        response = client.get(base, "/api/v1/accounts/verify_credentials", token=token)
        account = http.json_of(response, platform=client.PLATFORM)
        acct = account.get("acct") if isinstance(account, dict) else None
        if not isinstance(acct, str) or not acct:
            raise ConnectorError("Mastodon answered without the account's name.", transient=True)
        said = f"Signed in as @{acct} on {host}."
    else:
        if any(feed.needs_token for feed in feeds) or config.setting("mode") == "stream":
            raise ConnectorError(
                "This source needs the brand account's access token: only a public "
                "hashtag timeline or a search can be read without one.",
                transient=False,
                code="no_token",
            )
        response = client.get(base, "/api/v1/instance", token="")
        instance = http.json_of(response, platform=client.PLATFORM)
        title = instance.get("title") if isinstance(instance, dict) else None
        name = title.strip() if isinstance(title, str) and title.strip() else host
        said = f"Connected to {name} ({host}) without signing in."
    if config.setting("mode") == "search":
        page = client.read_page(base, feeds[0], token=token, min_id="")
        if not page.items:
            said += (
                " The search found no posts yet: a server without full-text search never finds any."
            )
    return said


def fetch_profile(config: SourceConfig, handle: str) -> Profile:
    """The account `handle` (user@domain) as the source's instance knows it."""
    base = client.instance_of(config)
    acct = handle.strip().lstrip("@")
    if not acct:
        raise ConnectorError("No account to look up.", transient=False)
    response = client.get(
        base, "/api/v1/accounts/lookup", token=client.token_of(config), params={"acct": acct}
    )
    try:
        return parse.account_to_profile(
            http.json_of(response, platform=client.PLATFORM),
            client.local_domain(base, token=client.token_of(config)),
        )
    except parse.BadStatus as error:
        raise ConnectorError(
            f"Mastodon's answer for {acct} is not an account: {error}",
            transient=True,
            code="malformed",
        ) from error


def send(account: Account, outgoing: Outgoing) -> Delivered:
    if not account.base_url:
        raise SendError("The Mastodon account has no instance address.", transient=False)
    payload: dict[str, str] = {
        "status": outgoing.text,
        "visibility": "direct" if outgoing.visibility == Visibility.DIRECT else "public",
    }
    if outgoing.in_reply_to:
        payload["in_reply_to_id"] = local_status_id(account, outgoing.in_reply_to)
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


def local_status_id(account: Account, target: str) -> str:
    """The brand instance's id of the status `target` (its uri or url, or already an id).

    Raises SendError: transient when the instance could not find it (the
    status's server may be down), or as the instance's refusal says.
    """
    target = target.strip()
    if target.isdigit():
        return target
    try:
        response = client.get(
            client.base_url(account.base_url),
            "/api/v2/search",
            token=account.secret,
            params={"q": target, "type": "statuses", "resolve": "true", "limit": 1},
        )
        body = http.json_of(response, platform=client.PLATFORM)
    except ConnectorError as error:
        if error.code == "authentication_failed":
            raise SendError(
                f"{error.message} Reconnect the account under Settings → Channels.",
                transient=False,
            ) from error
        raise SendError(
            error.message, transient=error.transient, retry_after_seconds=error.retry_after_seconds
        ) from error
    statuses = body.get("statuses") if isinstance(body, dict) else None
    found = parse.id_of(statuses[0]) if isinstance(statuses, list) and statuses else ""
    if not found:
        raise SendError(
            "The brand's Mastodon server could not find the post being answered (deleted, "
            "or its server is not answering).",
            transient=True,
        )
    return found


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
