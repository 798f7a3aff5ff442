"""Configuration comes only from the environment, and wrong values say which variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hubbub import config


def hubbub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HUBBUB_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "-m", "hubbub.cli.main", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "HUBBUB_ENV": "production",
        "HUBBUB_DATA_DIR": str(tmp_path),
        "HUBBUB_SECRET_KEY": "k" * 20 + "x9Q-" * 10,
        "HUBBUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HUBBUB_ALLOWED_HOSTS": "care.example.test",
        "HUBBUB_EMAIL_URL": "smtp://mailer:pw@127.0.0.1:2525?starttls=1",
    }


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBBUB_DEBUG", "maybe")
    with pytest.raises(config.ConfigurationError, match="HUBBUB_DEBUG"):
        config.env_bool("HUBBUB_DEBUG", default=False)
    monkeypatch.setenv("HUBBUB_PORT", "eighty")
    with pytest.raises(config.ConfigurationError, match="HUBBUB_PORT"):
        config.env_int("HUBBUB_PORT", default=8000)


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["HUBBUB_SECRET_KEY"]
    result = hubbub("manage", "check", env=env)
    assert result.returncode != 0
    assert "HUBBUB_SECRET_KEY is required" in result.stderr


def test_a_malformed_encryption_key_is_refused(tmp_path: Path) -> None:
    result = hubbub(
        "manage", "check", env={**production_env(tmp_path), "HUBBUB_ENCRYPTION_KEYS": "nope"}
    )
    assert result.returncode != 0
    assert "not a Fernet key" in result.stderr


def test_embedded_mode_generates_and_keeps_local_keys(tmp_path: Path) -> None:
    first = config.secret_key(production=False, directory=tmp_path)
    assert first == config.secret_key(production=False, directory=tmp_path)
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_settings_pass_the_deployment_checks(tmp_path: Path) -> None:
    result = hubbub(
        "manage", "check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_doctor_explains_a_database_it_cannot_reach(tmp_path: Path) -> None:
    env = {**production_env(tmp_path), "HUBBUB_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    result = hubbub("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL  database unreachable" in result.stdout
    assert "fix: Check HUBBUB_DATABASE_URL" in result.stdout


def test_doctor_is_happy_with_a_migrated_embedded_install(tmp_path: Path) -> None:
    env = {"HUBBUB_DATA_DIR": str(tmp_path)}
    assert hubbub("manage", "migrate", "-v", "0", env=env).returncode == 0
    result = hubbub("doctor", env=env)
    assert result.returncode == 0, result.stdout
    assert "All good." in result.stdout
