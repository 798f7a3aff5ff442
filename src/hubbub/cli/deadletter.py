"""`hubbub deadletter list|replay`: the posts the pipeline gave up on, and another go for them.

With HUBBUB_REDIS_URL this reads the dead-letter stream; embedded, the posts
set aside in the database. Either way a replay revives the posts there, and
the runner takes them again.
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

    client = streams.connect(settings.HUBBUB_REDIS_URL) if settings.HUBBUB_REDIS_URL else None
    if args.action == "replay":
        wanted = args.ids or None
        if client is not None:
            count = streams.replay_dead_letters(client, inbound_ids=wanted)
        else:
            count = len(services.revive_dead_posts(inbound_ids=wanted))
        print(f"{count} post(s) sent back to the pipeline.")
        return 0
    letters = (
        [
            selectors.DeadPost(
                inbound_id=letter.inbound_id,
                error=letter.error,
                dead_at=letter.at,
                entry_id=letter.entry_id,
            )
            for letter in streams.dead_letters(client, limit=args.limit)
        ]
        if client is not None
        else selectors.dead_posts(limit=args.limit)
    )
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
