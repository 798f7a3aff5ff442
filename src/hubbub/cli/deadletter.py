"""`hubbub deadletter list|replay`: the posts the pipeline gave up on, and another go for them.

The posts set aside are read from the database, which is the record; with
HUBBUB_REDIS_URL a replay also drops their entries from the dead-letter
stream. The runner then takes the revived posts again.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show the dead posts, oldest first")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    replay = actions.add_parser("replay", help="give dead posts another go")
    replay.add_argument("ids", nargs="*", type=int, help="inbound post ids (default: all)")


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    from django.conf import settings

    from hubbub.listening import selectors, services, streams

    # The database is the record (the dead-letter stream mirrors it, with Redis).
    if args.action == "replay":
        revived = services.revive_dead_posts(inbound_ids=args.ids or None)
        if revived and settings.HUBBUB_REDIS_URL:
            streams.forget_dead_letters(streams.connect(settings.HUBBUB_REDIS_URL), revived)
        print(f"{len(revived)} post(s) sent back to the pipeline.")
        return 0
    letters = selectors.dead_posts(limit=args.limit)
    if args.json:
        for letter in letters:
            print(json.dumps(asdict(letter)))
        return 0
    if not letters:
        print("No dead posts.")
        return 0
    for letter in letters:
        print(f"{letter.inbound_id:>10}  {letter.dead_at[:19]}  {letter.error[:100]}")
    return 0
