"""`hubbub replay FILE`: feed a CSV or JSON Lines file of posts through listening.

The file becomes a replay source of the workspace; posts are accepted in
batches (with the source's cursor, so running it again resumes) and run
through the pipeline as they are accepted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hubbub.connectors.replay.reader import MAPPINGS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=Path, help="a .csv, .tsv, .jsonl, .ndjson or .txt (one post a line) file"
    )
    parser.add_argument("--workspace", required=True, help="the workspace's short name (slug)")
    parser.add_argument(
        "--preset",
        default="generic",
        choices=sorted(MAPPINGS),
        help="column mapping; twcs, complaints, semeval and tweeteval read ../shared/data/",
    )
    parser.add_argument("--platform", default="replay", help="platform name stored on mentions")
    parser.add_argument("--name", default="", help="source name (default: the file's name)")
    parser.add_argument(
        "--speed",
        default="max",
        help="max (as fast as possible), or a factor: 1 real time, 10 ten times faster",
    )
    parser.add_argument("--limit", type=int, default=None, help="stop after this many records")


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    from hubbub.connectors.replay.source import replay_source
    from hubbub.core.models import Workspace
    from hubbub.listening import services
    from hubbub.listening.models import Mention, SourceKind
    from hubbub.listening.pipeline.process import PipelineState, process_pending

    path = args.file.resolve()
    if not path.is_file():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    workspace = Workspace.objects.filter(slug=args.workspace).first()
    if workspace is None:
        print(f"no workspace {args.workspace!r}", file=sys.stderr)
        return 2
    speed = None if args.speed == "max" else float(args.speed)
    source = services.ensure_source(
        workspace_id=workspace.pk,
        name=args.name or path.name,
        kind=SourceKind.REPLAY,
        settings={"path": str(path), "preset": args.preset, "platform": args.platform},
    )
    state = PipelineState()
    before = Mention.objects.filter(workspace=workspace).count()

    def drain() -> None:
        while process_pending(state=state).inbound:
            pass

    report = replay_source(source_id=source.pk, speed=speed, limit=args.limit, after_batch=drain)
    stored = Mention.objects.filter(workspace=workspace).count() - before
    print(
        f"Replayed {report.read} record(s) from {path.name} into {workspace.name}: "
        f"{report.accepted} accepted, {report.repeated} already seen, {report.rejected} rejected; "
        f"{stored} new mention(s) matched the workspace's queries. Cursor now {report.cursor}."
    )
    return 0
