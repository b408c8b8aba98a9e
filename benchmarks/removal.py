"""Benchmark: propledger's removal against a naive peer, on a rate-limited FakeJira.

FakeJira runs under uvicorn on 127.0.0.1, limited to 10 requests per second with a
burst of 20, and contains 10,000 issue properties over 2 keys, 500 user properties and 20
app properties (times ``--scale``). Two runners delete them all, each on a fresh site:

- ``peer``: one DELETE per property with atlassian-python-api (``delete_issue_property``,
  ``user_delete_property``) and a plain signed DELETE for app properties, sleeping on
  429 for as long as ``Retry-After`` specifies.
- ``propledger``: a removal job run by propledger's worker with its default settings.

Each run prints one JSON line with ``runner``, ``requests``, ``http_429``,
``wall_seconds`` and ``properties_left``; propledger's also has
``lower_bound_requests``: two requests per bulk task (a submit and a final poll) plus
one per property without a bulk endpoint. A last line gives the ratios.

When the peer would need more than ``--peer-limit`` seconds at the rate limit, it runs at
a tenth of the scale and its counts and time are multiplied by ten; its line then has
``measured_at_scale`` and ``extrapolated``.

    python benchmarks/removal.py               # the full benchmark
    python benchmarks/removal.py --scale 0.05  # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from atlassian import Jira

from propledger.connect import encode_app_token
from propledger.ledger import Ledger
from propledger.model import EntityType, Installation, PropertyRef
from propledger.removal import Worker, start_removal
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite, RateLimit, serve

APP_KEY = "com.example.bench"
KEYS = (f"{APP_KEY}.checklist", f"{APP_KEY}.status")
USER_KEY = f"{APP_KEY}.prefs"
# Credentials of the simulated site only; FakeJira accepts whatever it is given.
SHARED_SECRET = "benchmark-shared-secret-0123456789abcdef-0123"  # noqa: S105
ADMIN_EMAIL = "admin@example.test"
ADMIN_TOKEN = "benchmark-api-token"  # noqa: S105
PEER_EXTRAPOLATION_SCALE = 0.1


@dataclasses.dataclass(frozen=True)
class Workload:
    """The properties of one run: issues per key, user properties and app properties."""

    issues_per_key: int
    users: int
    app_properties: int

    @classmethod
    def at_scale(cls, scale: float) -> Workload:
        return cls(
            issues_per_key=max(1, round(5000 * scale)),
            users=max(1, round(500 * scale)),
            app_properties=max(1, round(20 * scale)),
        )

    @property
    def total(self) -> int:
        return self.issues_per_key * len(KEYS) + self.users + self.app_properties


@dataclasses.dataclass(frozen=True)
class Seeded:
    site: FakeSite
    refs: list[PropertyRef]
    admin_account_id: str


def seed(fake: FakeJira, base_url: str, workload: Workload) -> Seeded:
    """Fill a new site with the workload's properties, straight into FakeJira's memory."""
    site = fake.add_site(base_url, name="bench")
    site.shared_secret = SHARED_SECRET
    admin = site.add_user(is_admin=True, display_name="Site admin")
    site.add_api_token(ADMIN_EMAIL, ADMIN_TOKEN, admin.account_id)
    refs: list[PropertyRef] = []
    for _ in range(workload.issues_per_key):
        issue = site.add_issue(project_key="BENCH")
        for key in KEYS:
            issue.properties[key] = {"items": 3}
            refs.append(PropertyRef(EntityType.ISSUE, issue.id, key))
    for _ in range(workload.users):
        user = site.add_user()
        user.properties[USER_KEY] = {"compact": True}
        refs.append(PropertyRef(EntityType.USER, user.account_id, USER_KEY))
    app_values = site.app_properties.setdefault(APP_KEY, {})
    for index in range(workload.app_properties):
        app_values[f"{APP_KEY}.setting-{index}"] = {"on": True}
        refs.append(PropertyRef(EntityType.APP, APP_KEY, f"{APP_KEY}.setting-{index}"))

    return Seeded(site, refs, admin.account_id)


def peer_delete_all(base_url: str, refs: list[PropertyRef]) -> None:
    """Delete each property with one request, sleeping on 429 for the Retry-After seconds."""
    # Basic auth for the user calls; a session of its own for the app's signed calls,
    # because a session's auth would replace their JWT. Neither session reads proxy
    # settings, so every request goes straight to 127.0.0.1.
    with requests.Session() as user_session, requests.Session() as app_session:
        user_session.trust_env = False
        app_session.trust_env = False
        jira = Jira(
            url=base_url,
            username=ADMIN_EMAIL,
            password=ADMIN_TOKEN,
            cloud=True,
            session=user_session,
        )
        for ref in refs:
            while True:
                if ref.entity_type is EntityType.APP:
                    status, retry_after = _peer_delete_app_property(app_session, base_url, ref)
                else:
                    status, retry_after = _peer_delete(jira, ref)
                if status != 429:
                    break
                time.sleep(retry_after)


def _peer_delete_app_property(
    session: requests.Session, base_url: str, ref: PropertyRef
) -> tuple[int, float]:
    url = f"{base_url}/rest/atlassian-connect/1/addons/{APP_KEY}/properties/{ref.key}"
    token = encode_app_token(
        app_key=APP_KEY, shared_secret=SHARED_SECRET, method="DELETE", url=url, base_url=base_url
    )
    response = session.delete(url, headers={"Authorization": f"JWT {token}"})

    return response.status_code, float(response.headers.get("Retry-After", "1"))


def _peer_delete(jira: Jira, ref: PropertyRef) -> tuple[int, float]:
    try:
        if ref.entity_type is EntityType.ISSUE:
            jira.delete_issue_property(ref.entity_id, ref.key)
        else:
            jira.user_delete_property(account_id=ref.entity_id, key_property=ref.key)
    except requests.HTTPError as exc:
        if exc.response is None:
            raise
        return exc.response.status_code, float(exc.response.headers.get("Retry-After", "1"))

    return 204, 0.0


async def run_peer(workload: Workload, rate: float, burst: int) -> dict[str, Any]:
    fake = FakeJira(app_key=APP_KEY)
    async with serve(fake.app) as base_url:
        seeded = seed(fake, base_url, workload)
        seeded.site.rate_limit = RateLimit(requests_per_second=rate, burst=burst)
        started = time.perf_counter()
        await asyncio.to_thread(peer_delete_all, base_url, seeded.refs)
        wall = time.perf_counter() - started

    return _result("peer", fake, seeded.site, wall)


async def run_propledger(
    workload: Workload, rate: float, burst: int, database_dir: Path
) -> dict[str, Any]:
    fake = FakeJira(app_key=APP_KEY)
    settings = Settings(
        app_key=APP_KEY,
        app_base_url="https://app.example.test",
        database_url=f"sqlite+aiosqlite:///{database_dir / 'bench.db'}",
    )
    async with serve(fake.app) as base_url, await Ledger.open(settings) as ledger:
        seeded = seed(fake, base_url, workload)
        installation = Installation(
            client_key=seeded.site.client_key, base_url=base_url, shared_secret=SHARED_SECRET
        )
        await ledger.store.save_installation(installation)
        for ref in seeded.refs:
            await ledger.store.record_found(
                installation.client_key, ref, value_sha256=None, value_size=None
            )
        seeded.site.rate_limit = RateLimit(requests_per_second=rate, burst=burst)
        started = time.perf_counter()
        job, _ = await start_removal(
            ledger, client_key=installation.client_key, requested_by="benchmark"
        )
        finished = await Worker(ledger).run_once(job.id)
        wall = time.perf_counter() - started
    if finished is None:
        raise RuntimeError("The worker could not claim the benchmark's removal job.")
    result = _result("propledger", fake, seeded.site, wall)
    result["job_state"] = finished.state.value
    result["lower_bound_requests"] = lower_bound(workload, settings.bulk_chunk_size)

    return result


def lower_bound(workload: Workload, chunk_size: int) -> int:
    """Two requests per bulk task, plus one per property without a bulk endpoint."""
    tasks = len(KEYS) * math.ceil(workload.issues_per_key / chunk_size)

    return 2 * tasks + workload.users + workload.app_properties


def _result(runner: str, fake: FakeJira, site: FakeSite, wall: float) -> dict[str, Any]:
    log = [entry for entry in fake.request_log if entry.base_url == site.base_url]

    return {
        "runner": runner,
        "requests": len(log),
        "http_429": sum(1 for entry in log if entry.status == 429),
        "wall_seconds": round(wall, 2),
        "properties_left": site.property_count(),
    }


def extrapolate(result: dict[str, Any], measured: float, target: float) -> dict[str, Any]:
    factor = target / measured
    scaled = {
        name: round(result[name] * factor, 2)
        if name == "wall_seconds"
        else round(result[name] * factor)
        for name in ("requests", "http_429", "wall_seconds", "properties_left")
    }

    return result | scaled | {"measured_at_scale": measured, "extrapolated": True}


def ratios(peer: dict[str, Any], ours: dict[str, Any], scale: float) -> dict[str, Any]:
    """Return the ratios line. The acceptance targets are meant for the full scale."""
    over_bound = ours["requests"] / ours["lower_bound_requests"] - 1

    return {
        "ratios": True,
        "scale": scale,
        "requests_over_lower_bound": round(over_bound, 4),
        "requests_vs_peer": round(ours["requests"] / peer["requests"], 4),
        "wall_vs_peer": round(ours["wall_seconds"] / peer["wall_seconds"], 4),
        "acceptance": {
            "requests_within_10_percent_of_lower_bound": over_bound <= 0.10,
            "wall_within_10_percent_of_peer": ours["wall_seconds"] <= 0.10 * peer["wall_seconds"],
            "properties_left_zero": ours["properties_left"] == 0,
        },
    }


async def main(arguments: argparse.Namespace) -> None:
    workload = Workload.at_scale(arguments.scale)
    peer_scale = arguments.scale
    if workload.total / arguments.rate > arguments.peer_limit:
        peer_scale = arguments.scale * PEER_EXTRAPOLATION_SCALE
    print(f"Running the peer at scale {peer_scale:g}...", file=sys.stderr)
    peer = await run_peer(Workload.at_scale(peer_scale), arguments.rate, arguments.burst)
    if peer_scale != arguments.scale:
        peer = extrapolate(peer, peer_scale, arguments.scale)
    print(json.dumps(peer), flush=True)
    print(f"Running propledger at scale {arguments.scale:g}...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="propledger-bench-") as tmp:
        ours = await run_propledger(workload, arguments.rate, arguments.burst, Path(tmp))
    print(json.dumps(ours), flush=True)
    print(json.dumps(ratios(peer, ours, arguments.scale)), flush=True)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="Share of the full workload.")
    parser.add_argument("--rate", type=float, default=10.0, help="FakeJira's requests per second.")
    parser.add_argument("--burst", type=int, default=20, help="FakeJira's burst, in requests.")
    parser.add_argument(
        "--peer-limit",
        type=float,
        default=600.0,
        help="Seconds above which the peer runs at a tenth of the scale and is extrapolated.",
    )
    arguments = parser.parse_args()
    if not 0 < arguments.scale <= 1:
        parser.error(f"--scale is {arguments.scale}; give a number above 0 and at most 1.")

    return arguments


if __name__ == "__main__":
    asyncio.run(main(parse_arguments()))
