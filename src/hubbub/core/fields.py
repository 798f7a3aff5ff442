from __future__ import annotations

from typing import Any

from django.db import models

from hubbub.core import crypto


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column stored as a Fernet token; reads give back the plaintext.

    Use it for credentials (API keys, passwords, OAuth tokens). The database
    and its backups never see the plaintext.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))
