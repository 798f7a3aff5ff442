"""Stopping the embedded server stops the job worker and the listener it started."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from hubbub.cli.serve import free_port
from hubbub.testing import child_env, hubbub_command

pytestmark = pytest.mark.django_db(transaction=True)


def children_of(pid: int) -> set[int]:
    listed = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(part) for part in listed.read_text().split()} if listed.exists() else set()


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_sigterm_stops_the_server_and_its_worker_and_listener() -> None:
    server = subprocess.Popen(
        [*hubbub_command("serve", "--port", str(free_port()), "--with-worker")],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        children: set[int] = set()
        while time.monotonic() < deadline and len(children) < 2:
            children = children_of(server.pid)
            time.sleep(0.2)
        assert len(children) == 2, "the server did not start its worker and listener"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(running(pid) for pid in children):
            time.sleep(0.2)
        assert not [pid for pid in children if running(pid)]
    finally:
        if server.poll() is None:
            server.kill()
