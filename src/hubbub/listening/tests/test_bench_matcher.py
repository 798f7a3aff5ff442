"""`hubbub bench matcher` runs on the shared data and agrees with the naive way."""

from __future__ import annotations

import json
import subprocess
import sys

from hubbub.datasets import DataMissing, shared_data_dir
from hubbub.testing import missing_component


def test_the_matcher_bench_prints_its_figures_as_json() -> None:
    try:
        shared_data_dir()
    except DataMissing as error:
        missing_component(str(error))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hubbub.cli.main",
            "bench",
            "matcher",
            "--queries",
            "500",
            "--posts",
            "3000",
            "--naive-posts",
            "100",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["queries"] == 500
    assert figures["posts"] == 3000
    assert figures["disagreements_with_naive"] == 0
    assert figures["candidates_per_post"] < 500  # presearch: far fewer than every query
    assert {"posts_per_s", "naive_posts_per_s", "speedup_x", "index_mb"} <= figures.keys()
