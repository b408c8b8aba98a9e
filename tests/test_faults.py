"""A removal over HTTP completes although FakeJira fails, rate-limits and drops requests."""

from __future__ import annotations

import collections

from tests.conftest import APP_BASE_URL, APP_KEY
from tests.seeding import Seed, install_directly, record_inventory, seed_site

from propledger.ledger import Ledger
from propledger.model import JobState
from propledger.removal import Worker, start_removal
from propledger.settings import Settings
from propledger.testing import FakeJira, Faults, serve

SEED = Seed(
    issues=150,
    issue_keys=(f"{APP_KEY}.flag", f"{APP_KEY}.note"),
    users=60,
    user_key=f"{APP_KEY}.prefs",
    app_properties=6,
    app_key_prefix=f"{APP_KEY}.setting-",
)


async def test_removal_survives_faults(database_url: str):
    fake = FakeJira(app_key=APP_KEY)
    settings = Settings(
        app_key=APP_KEY,
        app_base_url=APP_BASE_URL,
        database_url=database_url,
        retry_base_delay=0.01,
        bulk_chunk_size=50,
        request_rate=100.0,
        max_request_rate=400.0,
    )
    async with serve(fake.app) as url, await Ledger.open(settings) as ledger:
        site = fake.add_site(url, name="faulty")
        refs = seed_site(site, SEED)
        await install_directly(ledger.store, site)
        await record_inventory(ledger.store, site.client_key, refs)
        site.faults = Faults(
            internal_errors=0.05, rate_limited=0.05, dropped_connections=0.01, seed=5
        )
        job, _ = await start_removal(ledger, client_key=site.client_key, requested_by="operator")

        finished = await Worker(ledger).run_once(job.id)
        counts = await ledger.store.job_counts(job.id)

    statuses = collections.Counter(entry.status for entry in fake.request_log)
    assert finished is not None
    assert finished.state is JobState.COMPLETED
    assert site.property_count() == 0
    assert sum(sum(outcomes.values()) for outcomes in counts.values()) == SEED.total
    assert len(site.deletions) == len(set(site.deletions)) == SEED.total
    assert site.faults.injected == {"500": statuses[500], "429": statuses[429], "drop": statuses[0]}
    assert min(statuses[500], statuses[429], statuses[0]) > 0
