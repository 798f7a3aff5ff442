"""Standard Webhooks signatures (standardwebhooks.com): how a sender proves a delivery is theirs.

The sender signs "{webhook-id}.{webhook-timestamp}.{body}" with HMAC-SHA256
under the endpoint's secret ("whsec_" + base64 of the key) and sends
`webhook-signature: v1,<base64>` (several, space-separated, while a secret
rotates). Hubbub checks the raw bytes before parsing anything, refuses a
timestamp more than five minutes from its clock (a replay of an old
delivery), and the caller refuses a webhook-id it has seen (a replay within
the window).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from hubbub.core.errors import HubbubError

PREFIX = "whsec_"
TOLERANCE = dt.timedelta(minutes=5)
MAX_ID_LENGTH = 255


class WebhookRejected(HubbubError):
    status = 401
    default_code = "webhook_rejected"


def new_secret() -> str:
    """A new signing secret, as senders paste it: whsec_ + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("A webhook secret is whsec_ followed by base64.") from error


def sign(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value a sender sends: "v1,<base64>"."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: dt.datetime) -> str:
    """The delivery's webhook-id when its signature and timestamp hold; WebhookRejected if not.

    `headers` is looked up case-insensitively by the caller (Django's request.headers).
    """
    webhook_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not webhook_id or not raw_timestamp or not signatures:
        raise WebhookRejected(
            "Missing webhook-id, webhook-timestamp or webhook-signature.", code="unsigned"
        )
    if len(webhook_id) > MAX_ID_LENGTH or not webhook_id.isprintable():
        raise WebhookRejected("The webhook-id is not valid.", code="bad_id")
    if not (raw_timestamp.isascii() and raw_timestamp.isdecimal()) or len(raw_timestamp) > 11:
        raise WebhookRejected("The webhook-timestamp is not a Unix time.", code="bad_timestamp")
    # Compared as seconds: a timestamp far in the future is refused, never a date error.
    if abs(now.timestamp() - int(raw_timestamp)) > TOLERANCE.total_seconds():
        raise WebhookRejected(
            "The webhook-timestamp is more than 5 minutes from now: too old to trust "
            "(a replay) or the sender's clock is wrong.",
            code="stale",
        )
    expected = sign(secret, webhook_id=webhook_id, timestamp=int(raw_timestamp), body=body)
    for given in signatures.split():
        version, _, _ = given.partition(",")
        if version == "v1" and hmac.compare_digest(given.encode(), expected.encode()):
            return webhook_id
    raise WebhookRejected("The signature does not match the body.", code="bad_signature")
