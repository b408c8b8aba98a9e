"""Benchmark the inventory rebuild of a large site against per-issue key listing.

FakeJira runs under uvicorn on 127.0.0.1 with one site of ``--issues`` issues (50,000
by default); 20 % of them carry the app's three declared property keys. Two runners
scan the same site in the same run:

- ``propledger rebuild``: ``rebuild_inventory`` with a key scope of the three exact
  keys, signing as the Connect app, with a progress callback as ``propledger rebuild``
  passes. It counts the issues once for the progress total, reads the values through
  the enhanced JQL search, one pass of 100 issues per page, and records them in a
  SQLite inventory.
- ``per-issue key listing``: the naive peer. atlassian-python-api, with an API token,
  pages the issue ids through the same search (5000 ids per page) and then lists the
  property keys of every issue with ``get_issue_property_keys``, one request each. It
  only finds the keys; reading the values would cost one more request per property.

Each runner prints one JSON line: ``runner``, ``issues``, ``requests``,
``search_requests``, ``properties_seeded``, ``properties_found`` and ``wall_seconds``.
The exit status is 1 when the rebuild sends more than ceil(issues / 100) + 2 search
requests or misses a seeded property.

    python benchmarks/scan.py                 # 50,000 issues
    python benchmarks/scan.py --issues 2000   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from atlassian import Jira

from propledger.jira import ConnectAuth, JiraClient
from propledger.model import EntityType, Installation
from propledger.scan import ScanOptions, rebuild_inventory
from propledger.scope import KeyScope
from propledger.store import Store
from propledger.testing import FakeJira, FakeSite, LoggedRequest, serve

APP_KEY = "com.example.bench"
KEYS = tuple(f"{APP_KEY}.key{number}" for number in (1, 2, 3))
SHARED_SECRET = "benchmark-shared-secret-0123456789abcdef"  # noqa: S105 - FakeJira only
EMAIL = "operator@example.com"
API_TOKEN = "benchmark-api-token"  # noqa: S105 - FakeJira only
SEARCH_PATHS = ("/rest/api/3/search/jql", "/rest/api/3/search/approximate-count")
PEER_JQL = "project = BENCH ORDER BY id"


def seed(site: FakeSite, issues: int, share: float) -> int:
    """Create the issues and the app's properties; return how many properties were seeded."""
    every = round(1 / share)
    seeded = 0
    for number in range(issues):
        issue = site.add_issue(project_key="BENCH")
        if number % every == 0:
            for key in KEYS:
                issue.properties[key] = {"issue": issue.id, "checked": number % 2 == 0}
                seeded += 1

    return seeded


def result(
    runner: str,
    issues: int,
    log: list[LoggedRequest],
    seeded: int,
    found: int,
    wall_seconds: float,
) -> dict[str, Any]:
    return {
        "runner": runner,
        "issues": issues,
        "requests": len(log),
        "search_requests": sum(1 for entry in log if entry.path in SEARCH_PATHS),
        "properties_seeded": seeded,
        "properties_found": found,
        "wall_seconds": round(wall_seconds, 2),
    }


async def run_rebuild(fake: FakeJira, site: FakeSite, database_url: str) -> tuple[int, float]:
    """Rebuild the inventory as the app; return the properties found and the wall time."""
    installation = Installation(site.client_key, site.base_url, SHARED_SECRET)
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SHARED_SECRET, base_url=site.base_url)
    async with await Store.open(database_url) as store:
        await store.save_installation(installation)
        started = time.perf_counter()
        async with JiraClient(site.base_url, auth) as client:
            summary = await rebuild_inventory(
                store,
                client,
                installation,
                KeyScope(keys=frozenset(KEYS)),
                app_key=APP_KEY,
                options=ScanOptions(entity_types=(EntityType.ISSUE,)),
                # A progress callback, as the CLI passes, adds one issue count request.
                progress=lambda entity_type, done, total: None,
            )

        return summary.total.found, time.perf_counter() - started


def run_peer(base_url: str) -> tuple[int, float]:
    """List every issue's keys with atlassian-python-api; return the keys found and the time."""
    session = requests.Session()
    # Ignore proxy settings and .netrc, so every request goes straight to 127.0.0.1.
    session.trust_env = False
    jira = Jira(url=base_url, username=EMAIL, password=API_TOKEN, cloud=True, session=session)
    started = time.perf_counter()
    issue_ids: list[str] = []
    token: str | None = None
    while True:
        page = jira.enhanced_jql(PEER_JQL, fields="id", nextPageToken=token, limit=5000)
        issue_ids += [issue["id"] for issue in page["issues"]]
        token = page.get("nextPageToken")
        if page.get("isLast") or not token:
            break
    found = 0
    for issue_id in issue_ids:
        listed = jira.get_issue_property_keys(issue_id)
        found += sum(1 for entry in listed["keys"] if entry["key"] in KEYS)
    session.close()

    return found, time.perf_counter() - started


async def benchmark(issues: int, share: float) -> list[dict[str, Any]]:
    fake = FakeJira(app_key=APP_KEY)
    with tempfile.TemporaryDirectory(prefix="propledger-scan-bench-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'inventory.db'}"
        async with serve(fake.app) as base_url:
            site = fake.add_site(base_url, name="benchmark")
            site.shared_secret = SHARED_SECRET
            operator = site.add_user(is_admin=True, email=EMAIL)
            site.add_api_token(EMAIL, API_TOKEN, operator.account_id)
            seeded = seed(site, issues, share)

            found, wall = await run_rebuild(fake, site, database_url)
            rebuild = result("propledger rebuild", issues, fake.request_log, seeded, found, wall)
            fake.request_log.clear()
            # The peer blocks on each request, so it runs in a thread while this event
            # loop serves FakeJira.
            found, wall = await asyncio.to_thread(run_peer, base_url)
            peer = result("per-issue key listing", issues, fake.request_log, seeded, found, wall)

    return [rebuild, peer]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=50_000, help="Issues in the site.")
    parser.add_argument(
        "--share", type=float, default=0.2, help="Share of issues with the app's keys."
    )
    args = parser.parse_args()

    rebuild, peer = asyncio.run(benchmark(args.issues, args.share))
    for line in (rebuild, peer):
        print(json.dumps(line), flush=True)
    limit = math.ceil(args.issues / 100) + 2
    if rebuild["search_requests"] > limit:
        print(f"The rebuild sent more than {limit} search requests.", file=sys.stderr)
        return 1
    if rebuild["properties_found"] != rebuild["properties_seeded"]:
        print("The rebuild missed seeded properties.", file=sys.stderr)
        return 1

    return 0


if __name__ == "__main__":
    sys.exit(main())
