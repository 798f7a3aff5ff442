"""The `hubbub` command: one subcommand per module in this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

# name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("hubbub.cli.demo", "load the demo workspace and start the server"),
    "serve": ("hubbub.cli.serve", "run the web server (uvicorn, ASGI)"),
    "worker": ("hubbub.cli.worker", "run background jobs"),
    "listen": ("hubbub.cli.listen", "follow sources and run the listening pipeline"),
    "doctor": ("hubbub.cli.doctor", "check configuration, database, Redis and migrations"),
    "bench": ("hubbub.cli.bench", "measure hot paths and print the figures"),
    "replay": ("hubbub.cli.replay", "feed a CSV or JSON Lines file of posts through listening"),
    "deadletter": (
        "hubbub.cli.deadletter",
        "list or replay the posts the pipeline gave up on",
    ),
    "train": ("hubbub.cli.train", "train a triage model again from ../shared/data"),
    "eval": ("hubbub.cli.eval", "measure a triage model on ../shared/data"),
    "classify": ("hubbub.cli.classify", "label posts, one per line, as JSON lines"),
    "manage": ("hubbub.cli.manage", "run one of Django's management commands"),
}


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubbub.settings")
    import django

    from hubbub.core import origin

    django.setup()
    origin.set_for_process("cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubbub", description="Hubbub: social customer service.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["manage"]:
        # Everything after "manage" belongs to Django, flags included.
        from hubbub.cli import manage

        return manage.run_django(args_list[1:])
    args = build_parser().parse_args(args_list)
    run: Callable[[argparse.Namespace], int] = import_module(COMMANDS[args.command][0]).run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
