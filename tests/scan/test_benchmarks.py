"""The scan and export benchmarks, run small: their JSON lines and their limits."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run(script: str, *args: str) -> list[dict]:
    completed = subprocess.run(  # noqa: S603 - runs the repository's own scripts
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines()]


def test_scan_benchmark_small():
    rebuild, peer = run("scan.py", "--issues", "450")

    assert set(rebuild) == {
        "runner",
        "issues",
        "requests",
        "search_requests",
        "properties_seeded",
        "properties_found",
        "wall_seconds",
    }
    assert rebuild["runner"] == "propledger rebuild"
    # One issue count for the progress total, then one search per 100 issues.
    assert rebuild["search_requests"] == rebuild["requests"] == math.ceil(450 / 100) + 1
    assert rebuild["properties_found"] == rebuild["properties_seeded"] == 90 * 3
    assert peer["runner"] == "per-issue key listing"
    assert peer["requests"] == 450 + 1
    assert peer["properties_found"] == 270


def test_export_benchmark_small():
    lines = run("export.py", "--rows", "3000")

    assert [(line["format"], line["rows"]) for line in lines] == [("csv", 3000), ("jsonl", 3000)]
    assert all(0 < line["peak_rss_mb"] < 100 for line in lines)
