"""`hubbub demo`: migrate, load the Brightwave demo workspace, start the server."""

from __future__ import annotations

import argparse
import sys

from hubbub.cli import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    serve.add_arguments(parser)
    parser.add_argument("--no-serve", action="store_true", help="load the data and exit")


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from hubbub.demo.seed import DEMO_PASSWORD, seed_demo

    if settings.PRODUCTION:
        print(
            "hubbub demo creates accounts with a published password; "
            "it does not run with HUBBUB_ENV=production.",
            file=sys.stderr,
        )
        return 2
    call_command("migrate", interactive=False, verbosity=0)
    logins = seed_demo()
    url = f"http://{args.host}:{args.port}/"
    print(f"\nHubbub demo: Brightwave (a fictional broadband brand)\n\n  Open {url}\n")
    print(f"  Sign in with any of these (password: {DEMO_PASSWORD}):")
    for login in logins:
        print(f"    {login.email:<28} {login.role:<18} {login.name}")
    print()
    if args.no_serve:
        return 0
    return serve.run(args)
