"""`hubbub doctor`: say plainly what is wrong with this installation and how to fix it."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def check_settings() -> Finding:
    try:
        from hubbub.cli.main import setup_django

        setup_django()
    except Exception as error:
        return Finding(
            False,
            f"configuration: {error}",
            "Fix the environment variable named above (see README, Configuration).",
        )
    from django.conf import settings

    mode = "production" if settings.PRODUCTION else "embedded (development)"
    return Finding(True, f"configuration loads; mode {mode}; data directory {settings.DATA_DIR}")


def check_data_dir() -> Finding:
    from django.conf import settings

    try:
        with tempfile.NamedTemporaryFile(dir=settings.DATA_DIR):
            pass
    except OSError as error:
        return Finding(
            False,
            f"data directory {settings.DATA_DIR} is not writable ({error})",
            "Set HUBBUB_DATA_DIR to a directory this user can write.",
        )
    return Finding(True, f"data directory {settings.DATA_DIR} is writable")


def check_database() -> Finding:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        return Finding(
            False,
            f"database unreachable: {error}",
            "Check HUBBUB_DATABASE_URL, that the server runs, and the credentials.",
        )
    return Finding(True, f"database reachable ({connection.vendor})")


def pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check_migrations() -> Finding:
    try:
        pending = pending_migrations()
    except Exception as error:
        return Finding(False, f"cannot read migration state: {error}", "Fix the database first.")
    if pending:
        return Finding(
            False,
            f"{len(pending)} migration(s) not applied (first: {pending[0]})",
            "Run: hubbub manage migrate",
        )
    return Finding(True, "all migrations applied")


def check_redis() -> Finding:
    from django.conf import settings

    if not settings.HUBBUB_REDIS_URL:
        return Finding(True, "Redis not configured: live events stay within one server process")
    import redis

    try:
        redis.Redis.from_url(settings.HUBBUB_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return Finding(
            False,
            f"Redis at HUBBUB_REDIS_URL unreachable: {error}",
            "Start Redis or correct HUBBUB_REDIS_URL (or unset it to run embedded).",
        )
    return Finding(True, "Redis reachable")


def check_deploy() -> Finding:
    from django.conf import settings
    from django.core import checks

    tags = ["security"] if settings.PRODUCTION else []
    problems = [
        m
        for m in checks.run_checks(include_deployment_checks=settings.PRODUCTION, tags=tags or None)
        if m.level >= checks.WARNING
    ]
    if problems:
        first = problems[0]
        return Finding(
            False,
            f"{len(problems)} system check problem(s); first: {first.id}: {first.msg}",
            first.hint or "Run: hubbub manage check --deploy",
        )
    return Finding(
        True,
        "Django system checks pass" + (" (with deployment checks)" if settings.PRODUCTION else ""),
    )


def check_email() -> Finding:
    from django.conf import settings

    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        if settings.PRODUCTION:
            return Finding(
                False,
                "email goes to the console, so invitations and password resets never arrive",
                "Set HUBBUB_EMAIL_URL=smtp://user:password@host:587?starttls=1",
            )
        return Finding(
            True, "email is printed to the console (set HUBBUB_EMAIL_URL to send for real)"
        )
    return Finding(True, f"email goes through {settings.EMAIL_HOST}:{settings.EMAIL_PORT}")


CHECKS: list[Callable[[], Finding]] = [
    check_data_dir,
    check_database,
    check_migrations,
    check_redis,
    check_email,
    check_deploy,
]


def run(args: argparse.Namespace) -> int:
    findings = [check_settings()]
    if findings[0].ok:
        findings += [check() for check in CHECKS]
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "ok": all(f.ok for f in findings),
                    "findings": [{"ok": f.ok, "what": f.what, "fix": f.fix} for f in findings],
                }
            )
        )
    else:
        for finding in findings:
            print(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.what}")
            if finding.fix:
                print(f"      fix: {finding.fix}")
        bad = sum(not f.ok for f in findings)
        print("\nAll good." if not bad else f"\n{bad} problem(s) found.")
    return 0 if all(f.ok for f in findings) else 1
