"""Encryption for credentials stored in the database.

Keys come from HUBBUB_ENCRYPTION_KEYS, newest first. Encryption always uses
the newest key; decryption tries each key, so rotating means putting a new
key in front, running `hubbub manage rotate_encryption_keys`, and later
dropping the old one.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """The value was not encrypted with any of the configured keys, or was altered."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.HUBBUB_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Raises DecryptionError when no configured key opens the token."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from error


def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key (raises DecryptionError)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from error
