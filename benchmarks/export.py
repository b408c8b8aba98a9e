"""Benchmark the peak memory of exporting a large inventory.

Seeds ``--rows`` inventory rows (1,000,000 by default) into a SQLite store, then
exports them as CSV and as JSON Lines, each format in its own subprocess so that each
peak is measured alone. The child writes the export to the null device and reports its
peak resident set size: ``VmHWM`` from ``/proc/self/status`` on Linux, else
``ru_maxrss``. One JSON line per format: ``format``, ``rows``, ``peak_rss_mb`` and
``wall_seconds``. The exit status is 1 when a peak reaches ``--max-rss-mb`` (100).

    python benchmarks/export.py                 # 1,000,000 rows
    python benchmarks/export.py --rows 50000    # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from propledger.export import export_inventory
from propledger.hashing import ValueDigest
from propledger.model import EntityType, Installation, PropertyRef
from propledger.store import Store

APP_KEY = "com.example.bench"
CLIENT_KEY = "jira:export-benchmark"
SEED_BATCH = 10_000
FORMATS = ("csv", "jsonl")


async def seed(database_url: str, rows: int) -> None:
    """Insert ``rows`` present issue property rows, ``SEED_BATCH`` per transaction."""
    digest = ValueDigest("0" * 64, 42)
    async with await Store.open(database_url) as store:
        installation = Installation(CLIENT_KEY, "https://bench.jira.test", "not-a-real-secret")
        await store.save_installation(installation)
        for start in range(0, rows, SEED_BATCH):
            batch = [
                (PropertyRef(EntityType.ISSUE, str(10_000 + number // 3), key_name(number)), digest)
                for number in range(start, min(start + SEED_BATCH, rows))
            ]
            await store.record_found_many(CLIENT_KEY, batch)


def key_name(number: int) -> str:
    return f"{APP_KEY}.key{number % 3 + 1}"


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


async def export_to(sink: TextIO, database_url: str, export_format: str) -> dict[str, Any]:
    """Export the inventory into ``sink``; return the child's JSON line."""
    started = time.perf_counter()
    lines = 0
    async with await Store.open(database_url) as store:
        async for chunk in await export_inventory(store, CLIENT_KEY, export_format):
            sink.write(chunk)
            lines += chunk.count("\n")
    rows = lines - 1 if export_format == "csv" else lines

    return {
        "format": export_format,
        "rows": rows,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }


def run_child(database_url: str, export_format: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", export_format, "--database-url", database_url]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603

    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Inventory rows to export.")
    parser.add_argument("--max-rss-mb", type=float, default=100.0, help="Peak RSS limit, MiB.")
    parser.add_argument("--child", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            result = asyncio.run(export_to(sink, args.database_url, args.child))
        print(json.dumps(result))
        return 0

    status = 0
    with tempfile.TemporaryDirectory(prefix="propledger-export-bench-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'inventory.db'}"
        asyncio.run(seed(database_url, args.rows))
        for export_format in FORMATS:
            result = run_child(database_url, export_format)
            print(json.dumps(result), flush=True)
            if result["rows"] != args.rows or result["peak_rss_mb"] >= args.max_rss_mb:
                status = 1

    return status


if __name__ == "__main__":
    sys.exit(main())
