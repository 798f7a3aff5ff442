"""Benches that measure inside scratch databases: one child process per database.

The child is `hubbub bench <name> --phase child …`, started with the
environment of a fresh database (a scratch SQLite file, and a scratch
PostgreSQL database when a URL is given, dropped and re-created) after its
migrations; its last line of output is its figures as JSON. Figures of
databases after the first carry the database's name as a prefix
(`postgres_…`), so one JSON object holds them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hubbub.cli.bench_web import _environment, _hubbub, _reset_postgres


def measure_in_scratch(
    bench: str, child_args: Sequence[str], *, db: str, database_url: str
) -> dict[str, Any] | None:
    """Run the bench's child in a fresh database; its figures, or None (said why) if it failed."""
    with tempfile.TemporaryDirectory(prefix=f"hubbub-bench-{bench}-") as data_dir:
        if db == "sqlite":
            url = f"sqlite:///{Path(data_dir) / 'bench.sqlite3'}"
        else:
            _reset_postgres(database_url)
            url = database_url
        env = _environment(Path(data_dir), url)
        # The local servers the benches talk to listen on loopback, which the SSRF
        # guard refuses by default.
        env["HUBBUB_SAFE_HTTP_ALLOW"] = "127.0.0.1"
        _hubbub("manage", "migrate", "--verbosity", "0", env=env)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "hubbub.cli.main", "bench", bench, "--phase", "child"),
                *child_args,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
            return None
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def over_databases(
    bench: str,
    child_args: Sequence[str],
    *,
    database_url: str,
    show: Callable[[str, dict[str, Any]], None],
) -> dict[str, Any] | None:
    """Every database's figures in one object (SQLite's unprefixed); None if one failed."""
    figures: dict[str, Any] = {}
    databases = [("sqlite", "")] + ([("postgres", database_url)] if database_url else [])
    for db, url in databases:
        result = measure_in_scratch(bench, child_args, db=db, database_url=url)
        if result is None:
            return None
        show(db, result)
        prefix = "" if db == "sqlite" else f"{db}_"
        figures.update({f"{prefix}{key}": value for key, value in result.items()})
    return figures
