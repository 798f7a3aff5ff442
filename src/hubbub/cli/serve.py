"""`hubbub serve`: the web server (uvicorn, ASGI)."""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import socket
import subprocess
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("HUBBUB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HUBBUB_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument(
        "--with-worker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run a job worker and a listener (default: yes when embedded, no in production)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_command(*, port: int, workers: int = 1) -> list[str]:
    """The argv that runs `hubbub serve` as a child process (benchmarks, tests)."""
    return [
        sys.executable,
        "-m",
        "hubbub.cli.main",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-with-worker",
        "--log-level",
        "warning",
    ]


CHILD_STOP_SECONDS = 10


def start_child(command: str) -> subprocess.Popen[bytes]:
    """A `hubbub worker` or `hubbub listen` beside the server, stopped with it."""
    child = subprocess.Popen([sys.executable, "-m", "hubbub.cli.main", command])
    atexit.register(child.terminate)
    return child


def _stop_children_on_sigterm(children: list[subprocess.Popen[bytes]]) -> None:
    """On SIGTERM stop the worker and listener too, then exit.

    uvicorn answers SIGTERM by shutting down and raising the signal again
    with the handler that was there before it started, this one; with the
    default handler the process would die at once, atexit hooks unrun, and
    leave its children running.
    """

    def stop(signum: int, frame: object) -> None:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=CHILD_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    import uvicorn
    from django.conf import settings

    from hubbub.cli.doctor import pending_migrations

    pending = pending_migrations()
    if pending:
        if settings.PRODUCTION:
            print(
                f"{len(pending)} migration(s) not applied. Run: hubbub manage migrate",
                file=sys.stderr,
            )
            return 1
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
    with_worker = not settings.PRODUCTION if args.with_worker is None else args.with_worker
    if with_worker:
        _stop_children_on_sigterm([start_child("worker"), start_child("listen")])
    uvicorn.run(
        "hubbub.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        lifespan="off",
        log_level=args.log_level,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=3,
    )
    return 0
