"""Typed readers for Hubbub's environment variables.

Every setting Hubbub reads from the environment goes through one of these
functions, so that a wrong value fails at start-up with the variable's name
in the message instead of somewhere deep in a request.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


class ConfigurationError(ValueError):
    """An environment variable has a value Hubbub cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, *, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from error
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def data_dir() -> Path:
    """Where the embedded database, uploads and generated local keys live."""
    raw = env_str("HUBBUB_DATA_DIR")
    if raw:
        path = Path(raw).expanduser().resolve()
    else:
        base = Path(env_str("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        path = base / "hubbub"
    (path / "static").mkdir(parents=True, exist_ok=True)
    return path


def _local_secret(path: Path, make: str) -> str:
    """Read a key kept in the data directory, creating it on first use.

    Only the embedded (development) mode does this; production refuses to
    start without the key in the environment.
    """
    if path.exists():
        return path.read_text().strip()
    value = make
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def secret_key(*, production: bool, directory: Path) -> str:
    value = env_str("HUBBUB_SECRET_KEY")
    if value:
        if len(value) < 50:
            raise ConfigurationError("HUBBUB_SECRET_KEY must be at least 50 characters long")
        return value
    if production:
        raise ConfigurationError("HUBBUB_SECRET_KEY is required when HUBBUB_ENV=production")
    return _local_secret(directory / "secret_key", secrets.token_urlsafe(64))


def encryption_keys(*, production: bool, directory: Path) -> list[str]:
    """Fernet keys, newest first; older keys only decrypt (rotation)."""
    keys = env_list("HUBBUB_ENCRYPTION_KEYS", [])
    if not keys:
        if production:
            raise ConfigurationError(
                "HUBBUB_ENCRYPTION_KEYS is required when HUBBUB_ENV=production; "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
        keys = [_local_secret(directory / "encryption_key", Fernet.generate_key().decode())]
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError as error:
            raise ConfigurationError(
                "HUBBUB_ENCRYPTION_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from error
    return keys
