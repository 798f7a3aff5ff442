"""Links Hubbub hands to people outside the app: in emails, public replies, the chat widget.

They name Hubbub's public address (HUBBUB_BASE_URL), and the secure ones
carry ids signed with the installation's secret key, so they cannot be
guessed or altered.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing


def absolute_url(path: str) -> str:
    """`path` (from `reverse`) on Hubbub's public address."""
    return f"{settings.HUBBUB_BASE_URL.rstrip('/')}{path}"


def sign_ids(ids: dict[str, int], *, salt: str) -> str:
    """The same token every time for the same ids (no timestamp): one link per thing."""
    return signing.Signer(salt=salt).sign_object(ids)


def signed_ids(token: str, *, salt: str, keys: tuple[str, ...]) -> dict[str, int] | None:
    """The ids `sign_ids` put in a token, or None for a forged, altered or malformed one."""
    try:
        data = signing.Signer(salt=salt).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    values: dict[str, int] = {}
    for key in keys:
        value = data.get(key)
        if not isinstance(value, int):
            return None
        values[key] = value
    return values
