"""Workers SIGKILLed in the middle of a removal: the next worker takes over through the lease.

FakeJira runs under uvicorn in the test process, and ``propledger worker`` processes
reach it over HTTP and share the SQLite store. Each worker is killed at a random point
after it has made progress, and then a new one is started. The last one runs to the end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import APP_BASE_URL, APP_KEY
from tests.seeding import Seed, install_directly, record_inventory, seed_site

from propledger.model import JobState
from propledger.store import Store
from propledger.testing import FakeJira, FakeSite, Faults, serve

logger = logging.getLogger("tests.crash_safety")

KILL_SEED = 20250301
KILLS = 5
SEED = Seed(
    issues=850,
    issue_keys=(f"{APP_KEY}.flag", f"{APP_KEY}.note"),
    users=200,
    user_key=f"{APP_KEY}.prefs",
    app_properties=100,
    app_key_prefix=f"{APP_KEY}.setting-",
)


def worker_environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PROPLEDGER_APP_KEY": APP_KEY,
        "PROPLEDGER_BASE_URL": APP_BASE_URL,
        "PROPLEDGER_DATABASE_URL": database_url,
        "PROPLEDGER_LEASE_SECONDS": "1.5",
        "PROPLEDGER_BULK_CHUNK_SIZE": "100",
        "PROPLEDGER_REQUEST_RATE": "50",
        "PROPLEDGER_RETRY_BASE_DELAY": "0.01",
    }


async def start_worker(env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "propledger", "-v", "worker", env=env, stdout=log, stderr=log
        )


async def wait_until(condition: Callable[[], bool]) -> None:
    # FakeJira's record of deletions has no event to wait on, so it is polled.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def wait_for_job(store: Store, job_id: str) -> JobState:
    # The job changes in another process's transactions, so it is polled.
    while (job := await store.get_job(job_id)).state.is_active:  # noqa: ASYNC110
        await asyncio.sleep(0.1)

    return job.state


async def kill_workers(
    site: FakeSite, store: Store, job_id: str, env: dict[str, str], log_path: Path
) -> None:
    rng = random.Random(KILL_SEED)
    for number in range(1, KILLS + 1):
        worker = await start_worker(env, log_path)
        # Progress the worker must make before it is killed: whole bulk chunks of 100
        # and single deletes count alike, then a random delay lands the kill anywhere.
        target = len(site.deletions) + rng.randint(1, 200)
        delay = rng.uniform(0.0, 0.3)
        async with asyncio.timeout(30):
            await wait_until(lambda target=target: len(site.deletions) >= target)
        await asyncio.sleep(delay)
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        counts = await store.job_counts(job_id)
        logger.info(
            "Killed worker %d (pid %d) after %d deletions, with %d items in flight",
            number,
            worker.pid,
            len(site.deletions),
            sum(outcomes.get("in_flight", 0) for outcomes in counts.values()),
        )


async def test_sigkilled_workers(tmp_path: Path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'propledger.db'}"
    fake = FakeJira(app_key=APP_KEY)
    async with serve(fake.app) as url, await Store.open(database_url) as store:
        site = fake.add_site(url, name="crash")
        refs = seed_site(site, SEED)
        installation = await install_directly(store, site)
        await record_inventory(store, installation.client_key, refs)
        # Latency and a running poll per task widen the window between a bulk submit
        # and the check after it, so kills land there too.
        site.faults = Faults(latency=0.005)
        site.task_options.running_polls = 1
        job, _ = await store.create_job(installation.client_key, "operator")
        env = worker_environment(database_url)
        log_path = tmp_path / "workers.log"

        await kill_workers(site, store, job.id, env, log_path)
        last = await start_worker(env, log_path)
        try:
            async with asyncio.timeout(60):
                state = await wait_for_job(store, job.id)
        finally:
            last.send_signal(signal.SIGKILL)
            await last.wait()
        counts = await store.job_counts(job.id)

    assert state is JobState.COMPLETED, log_path.read_text()[-3000:]
    assert sum(sum(outcomes.values()) for outcomes in counts.values()) == SEED.total == 2000
    assert site.property_count() == 0
    assert len(site.deletions) == SEED.total
    assert len(set(site.deletions)) == SEED.total
