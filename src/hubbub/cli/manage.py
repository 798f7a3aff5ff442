"""`hubbub manage …`: Django's own management commands."""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help="a Django command and its options")


def run_django(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubbub.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["hubbub manage", *argv])
    return 0


def run(args: argparse.Namespace) -> int:
    return run_django(list(args.args))
