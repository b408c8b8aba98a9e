"""Removal of issue properties in bulk tasks: verification, fallbacks, progress and sweep."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import APP_KEY
from tests.seeding import Seed, install_directly, record_inventory, seed_site

from propledger.ledger import Ledger
from propledger.model import EntityType, JobState, RemovalJob
from propledger.removal import Worker, removal_receipt, start_removal
from propledger.scope import KeyScope
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite

FLAG = f"{APP_KEY}.flag"
NOTE = f"{APP_KEY}.note"
BULK_FLAG = f"/rest/api/3/issue/properties/{FLAG}"
SEED = Seed(
    issues=50,
    issue_keys=(FLAG,),
    users=3,
    user_key=f"{APP_KEY}.prefs",
    app_properties=2,
    app_key_prefix=f"{APP_KEY}.setting-",
)


@pytest.fixture
def bulk_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, bulk_chunk_size=20, request_rate=500.0, max_request_rate=1000.0
    )


@pytest.fixture
async def bulk_ledger(bulk_settings: Settings) -> AsyncIterator[Ledger]:
    async with await Ledger.open(bulk_settings) as ledger:
        yield ledger


@pytest.fixture
async def seeded(bulk_ledger: Ledger, fake: FakeJira) -> FakeSite:
    site = fake.add_site("https://bulk.jira.test", name="bulk")
    refs = seed_site(site, SEED)
    await install_directly(bulk_ledger.store, site)
    await record_inventory(bulk_ledger.store, site.client_key, refs)

    return site


async def remove(ledger: Ledger, site: FakeSite) -> RemovalJob:
    job, _ = await start_removal(ledger, client_key=site.client_key, requested_by="operator")
    finished = await Worker(ledger).run_once(job.id)
    assert finished is not None

    return finished


def requests_to(fake: FakeJira, site: FakeSite) -> list[tuple[str, str, int]]:
    return [
        (entry.method, entry.path, entry.status)
        for entry in fake.request_log
        if entry.base_url == site.base_url
    ]


def bulk_bodies(fake: FakeJira, path: str) -> list[object]:
    return [
        entry.body for entry in fake.request_log if entry.method == "DELETE" and entry.path == path
    ]


def issue_ids(site: FakeSite) -> list[int]:
    return sorted(int(issue_id) for issue_id in site.issues)


async def test_chunks_by_key(bulk_ledger: Ledger, seeded: FakeSite, fake: FakeJira):
    job = await remove(bulk_ledger, seeded)

    ids = sorted(str(issue_id) for issue_id in issue_ids(seeded))
    chunks = [ids[start : start + 20] for start in range(0, 50, 20)]
    assert job.state is JobState.COMPLETED
    assert bulk_bodies(fake, BULK_FLAG) == [
        {"entityIds": [int(issue_id) for issue_id in chunk]} for chunk in chunks
    ]
    assert seeded.properties() == []
    assert len(seeded.deletions) == SEED.total
    bulk_requests = [request for request in requests_to(fake, seeded) if "/issue" in request[1]]
    assert [(method, status) for method, _, status in bulk_requests] == [("DELETE", 303)] * 3
    polls = [request for request in requests_to(fake, seeded) if "/task/" in request[1]]
    assert [(method, path) for method, path, _ in polls] == [
        ("GET", "/rest/api/3/task/10000"),
        ("GET", "/rest/api/3/task/10001"),
        ("GET", "/rest/api/3/task/10002"),
    ]
    searches = [entry.body for entry in fake.request_log if entry.path == "/rest/api/3/search/jql"]
    assert searches == [
        {"jql": f"id in ({','.join(chunk)})", "fields": ["id"], "maxResults": 5000}
        for chunk in chunks
    ]


async def test_two_keys_two_tasks(bulk_ledger: Ledger, fake: FakeJira, settings: Settings):
    site = fake.add_site("https://keys.jira.test", name="keys")
    refs = seed_site(site, dataclasses.replace(SEED, issues=10, issue_keys=(FLAG, NOTE)))
    await install_directly(bulk_ledger.store, site)
    await record_inventory(bulk_ledger.store, site.client_key, refs)

    job = await remove(bulk_ledger, site)

    assert job.state is JobState.COMPLETED
    ids = [int(issue_id) for issue_id in sorted(site.issues)]
    assert bulk_bodies(fake, BULK_FLAG) == [{"entityIds": ids}]
    assert bulk_bodies(fake, f"/rest/api/3/issue/properties/{NOTE}") == [{"entityIds": ids}]
    assert site.properties() == []


async def test_hidden_issues_not_verified(bulk_ledger: Ledger, seeded: FakeSite):
    ordered = sorted(seeded.issues, key=int)
    hidden = ordered[15:25]
    seeded.hidden_issue_ids.update(hidden)
    # Chunks of 20 issues, in id order, go to tasks 10000, 10001 and 10002.
    task_of = {issue_id: 10000 + position // 20 for position, issue_id in enumerate(ordered)}

    job = await remove(bulk_ledger, seeded)
    receipt = await removal_receipt(bulk_ledger.store, job.id, client_key=seeded.client_key)

    assert job.state is JobState.COMPLETED_WITH_ISSUES
    assert receipt["state"] == "completed_with_issues"
    assert receipt["counts"]["issue"] == {"deleted": 40, "not_verified": 10}
    assert receipt["not_removed"] == [
        {
            "entity_type": "issue",
            "entity_id": issue_id,
            "key": FLAG,
            "outcome": "not_verified",
            "reason": f"Bulk task {task_of[issue_id]} completed and the issue is not visible "
            "to the app: it was deleted, or it is hidden from the app.",
        }
        for issue_id in hidden
    ]
    assert sorted(seeded.properties()) == sorted(("issue", issue_id, FLAG) for issue_id in hidden)


async def test_failed_task_falls_back(bulk_ledger: Ledger, seeded: FakeSite, fake: FakeJira):
    seeded.task_options.fail_next = 1

    job = await remove(bulk_ledger, seeded)

    first_chunk = sorted(seeded.issues, key=int)[:20]
    assert job.state is JobState.COMPLETED
    assert seeded.properties() == []
    per_issue = [
        path
        for method, path, status in requests_to(fake, seeded)
        if method == "DELETE" and path.startswith("/rest/api/3/issue/1")
    ]
    assert sorted(per_issue) == sorted(
        f"/rest/api/3/issue/{issue_id}/properties/{FLAG}" for issue_id in first_chunk
    )
    assert len(bulk_bodies(fake, BULK_FLAG)) == 3
    assert len(seeded.deletions) == len(set(seeded.deletions)) == SEED.total


class RejectingBulk(httpx.AsyncBaseTransport):
    """Returns 400 for bulk deletes and forwards everything else to FakeJira."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" and "/issue/properties/" in request.url.path:
            return httpx.Response(400, json={"errorMessages": ["Rejected."], "errors": {}})

        return await self.inner.handle_async_request(request)


async def test_rejected_chunk_falls_back(bulk_settings: Settings, fake: FakeJira):
    settings = dataclasses.replace(bulk_settings, jira_transport=RejectingBulk(fake.transport()))
    async with await Ledger.open(settings) as ledger:
        site = fake.add_site("https://reject.jira.test", name="reject")
        refs = seed_site(site, dataclasses.replace(SEED, issues=5))
        await install_directly(ledger.store, site)
        await record_inventory(ledger.store, site.client_key, refs)

        job = await remove(ledger, site)
        counts = await ledger.store.job_counts(job.id)

    assert job.state is JobState.COMPLETED
    assert counts[EntityType.ISSUE] == {"deleted": 5}
    assert site.properties() == []
    assert not any("/task/" in path for _, path, _ in requests_to(fake, site))


async def test_task_progress_polled(bulk_ledger: Ledger, seeded: FakeSite, fake: FakeJira):
    seeded.task_options.running_polls = 2

    job = await remove(bulk_ledger, seeded)

    polls = [path for method, path, _ in requests_to(fake, seeded) if "/task/" in path]
    assert job.state is JobState.COMPLETED
    assert polls == [f"/rest/api/3/task/{task}" for task in (10000, 10001, 10002) for _ in range(3)]
    assert seeded.properties() == []


async def test_sweep_sends_exact_keys(settings: Settings, fake: FakeJira):
    scope = KeyScope(keys=frozenset({FLAG, "legacy-flag"}), prefixes=(f"{APP_KEY}.",))
    swept = dataclasses.replace(
        settings, sweep=True, key_scope=scope, request_rate=500.0, max_request_rate=1000.0
    )
    async with await Ledger.open(swept) as ledger:
        site = fake.add_site("https://sweep.jira.test", name="sweep")
        refs = seed_site(site, dataclasses.replace(SEED, issues=3))
        untracked = site.add_issue(project_key="SEED")
        untracked.properties.update({FLAG: 1, "legacy-flag": 2, NOTE: 3})
        await install_directly(ledger.store, site)
        await record_inventory(ledger.store, site.client_key, refs)

        job = await remove(ledger, site)

    sweeps = [
        (entry.path, entry.body)
        for entry in fake.request_log
        if entry.method == "DELETE" and entry.body == {}
    ]
    assert job.state is JobState.COMPLETED
    assert sweeps == [
        (BULK_FLAG, {}),
        ("/rest/api/3/issue/properties/legacy-flag", {}),
    ]
    assert site.properties() == [("issue", untracked.id, NOTE)]


async def test_sweep_off_by_default(bulk_ledger: Ledger, seeded: FakeSite, fake: FakeJira):
    await remove(bulk_ledger, seeded)

    assert [entry for entry in fake.request_log if entry.body == {}] == []
