"""Stored credentials are encrypted, and keys can be rotated."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from hubbub.core import crypto
from hubbub.core.fields import EncryptedTextField

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_a_secret_round_trips_and_is_not_stored_in_clear() -> None:
    token = crypto.encrypt("s3cret-api-key")
    assert "s3cret" not in token
    assert crypto.decrypt(token) == "s3cret-api-key"


def test_rotation_keeps_old_secrets_readable_and_moves_them_to_the_new_key() -> None:
    with override_settings(HUBBUB_ENCRYPTION_KEYS=[OLD]):
        token = crypto.encrypt("credential")
    with override_settings(HUBBUB_ENCRYPTION_KEYS=[NEW, OLD]):
        assert crypto.decrypt(token) == "credential"
        rotated = crypto.rotate(token)
    with override_settings(HUBBUB_ENCRYPTION_KEYS=[NEW]):
        assert crypto.decrypt(rotated) == "credential"
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token)


def test_a_tampered_token_is_refused() -> None:
    token = crypto.encrypt("credential")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered)


def test_the_encrypted_field_writes_ciphertext_and_reads_plaintext() -> None:
    field = EncryptedTextField()
    stored = field.get_prep_value("oauth-token")
    assert stored != "oauth-token"
    assert field.from_db_value(stored, None, None) == "oauth-token"
    assert field.get_prep_value("") == ""
