"""A removal cut short by stopping the server resumes when the server starts again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
from tests.conftest import APP_BASE_URL, APP_KEY

from propledger.ledger import Ledger
from propledger.model import JobState
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite, serve
from propledger.web import create_app

KEY = f"{APP_KEY}.checklist"


class StallingTransport(httpx.AsyncBaseTransport):
    """Forwards requests until ``allowed`` matching ones went through, then stalls them."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        allowed: int,
        matches: Callable[[httpx.Request], bool],
    ) -> None:
        self.inner = inner
        self.allowed = allowed
        self.matches = matches
        self.stalled = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.matches(request):
            if self.allowed == 0:
                self.stalled.set()
                await asyncio.Event().wait()
            self.allowed -= 1

        return await self.inner.handle_async_request(request)


def is_delete(request: httpx.Request) -> bool:
    return request.method == "DELETE"


def is_task_poll(request: httpx.Request) -> bool:
    return request.method == "GET" and "/task/" in request.url.path


async def install(settings: Settings, fake: FakeJira, site: FakeSite) -> None:
    async with await Ledger.open(settings) as ledger:
        app = create_app(ledger, run_worker=False)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport) as client,
        ):
            response = await fake.install(site, app_base_url=APP_BASE_URL, client=client)
            assert response.status_code == 204


async def write_issue_properties(settings: Settings, site: FakeSite) -> None:
    async with await Ledger.open(settings) as ledger:
        tracked = await ledger.site(site.client_key)
        for issue_id in site.issues:
            await tracked.issue(issue_id).set_property(KEY, {"id": issue_id})


async def write_user_properties(settings: Settings, site: FakeSite) -> None:
    async with await Ledger.open(settings) as ledger:
        tracked = await ledger.site(site.client_key)
        for account_id in site.users:
            await tracked.user(account_id).set_property(KEY, {"id": account_id})


async def interrupt_removal(
    settings: Settings, fake: FakeJira, site: FakeSite, admin: str, stalling: StallingTransport
) -> str:
    """Request a removal, and stop the server once the transport stalls."""
    headers = {"Authorization": f"JWT {fake.context_token(site, admin)}"}
    first = dataclasses.replace(settings, jira_transport=stalling, removal_concurrency=2)
    async with await Ledger.open(first) as ledger:
        async with serve(create_app(ledger)) as url, httpx.AsyncClient(base_url=url) as http:
            created = await http.post(
                "/api/removals", json={"confirm": "acme.jira.test"}, headers=headers
            )
            assert created.status_code == 202
            await asyncio.wait_for(stalling.stalled.wait(), 10)
        job_id: str = created.json()["id"]
        interrupted = await ledger.store.get_job(job_id)
    assert interrupted.state is JobState.RUNNING
    assert interrupted.lease_owner is None

    return job_id


async def resume_removal(
    settings: Settings, fake: FakeJira, site: FakeSite, admin: str, job_id: str
) -> dict[str, Any]:
    """Start the server again and wait until the removal has ended."""
    headers = {"Authorization": f"JWT {fake.context_token(site, admin)}"}
    async with (
        await Ledger.open(settings) as ledger,
        serve(create_app(ledger)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for _ in range(200):
            status: dict[str, Any] = (
                await http.get(f"/api/removals/{job_id}", headers=headers)
            ).json()
            if not status["active"]:
                return status
            await asyncio.sleep(0.05)
    raise AssertionError(f"removal {job_id} did not end")


async def test_removal_resumes_after_restart(
    settings: Settings, fake: FakeJira, site: FakeSite, admin: str
):
    for _ in range(29):
        site.add_user()
    await install(settings, fake, site)
    await write_user_properties(settings, site)
    stalling = StallingTransport(fake.transport(), allowed=12, matches=is_delete)

    job_id = await interrupt_removal(settings, fake, site, admin, stalling)
    assert site.property_count(prefixes=(f"{APP_KEY}.",)) == 30 - 12
    status = await resume_removal(settings, fake, site, admin, job_id)

    assert status["state"] == "completed"
    assert status["totals"] == {"deleted": 30}
    assert site.property_count(prefixes=(f"{APP_KEY}.",)) == 0
    assert len(site.deletions) == 30
    assert len(set(site.deletions)) == 30


async def test_bulk_resumes_after_restart(
    settings: Settings, fake: FakeJira, site: FakeSite, admin: str
):
    for _ in range(25):
        site.add_issue(project_key="ACME")
    await install(settings, fake, site)
    await write_issue_properties(settings, site)
    # The bulk task runs, but its poll never returns: the items stay in flight.
    stalling = StallingTransport(fake.transport(), allowed=0, matches=is_task_poll)

    job_id = await interrupt_removal(settings, fake, site, admin, stalling)
    assert site.property_count(prefixes=(f"{APP_KEY}.",)) == 0
    status = await resume_removal(settings, fake, site, admin, job_id)

    assert status["state"] == "completed"
    assert status["totals"] == {"deleted": 30}
    assert sorted(site.deletions) == sorted(("issue", issue_id, KEY) for issue_id in site.issues)
    submits = [
        entry.status
        for entry in fake.request_log
        if entry.method == "DELETE" and entry.path == f"/rest/api/3/issue/properties/{KEY}"
    ]
    assert submits == [303, 303]
