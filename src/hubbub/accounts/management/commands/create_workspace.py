from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hubbub.accounts import services
from hubbub.core.errors import HubbubError


class Command(BaseCommand):
    help = "Create a workspace (a brand) and invite its first admin by email."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the brand's name, e.g. 'Brightwave'")
        parser.add_argument("--admin", required=True, help="the first admin's email address")
        parser.add_argument(
            "--slug", default="", help="short name in URLs (default: from the name)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace, token = services.start_workspace(
                name=options["name"], admin_email=options["admin"], slug=options["slug"]
            )
        except HubbubError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Created workspace {workspace.name} ({workspace.slug}).")
        self.stdout.write(
            f"An invitation is on its way to {options['admin']} (a `hubbub worker` sends it).\n"
            f"The link, valid for seven days, is also: {settings.HUBBUB_BASE_URL}/invite/{token}/"
        )
