"""A removal cut short by stopping the server resumes when the server starts again."""

from __future__ import annotations

import asyncio
import collections
import dataclasses

import httpx
from tests.conftest import APP_BASE_URL, APP_KEY

from propledger.ledger import Ledger
from propledger.model import JobState
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite, serve
from propledger.web import create_app

KEY = f"{APP_KEY}.checklist"


class StallingTransport(httpx.AsyncBaseTransport):
    """Forwards requests until ``allowed`` DELETEs went through, then stalls every DELETE."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, allowed: int) -> None:
        self.inner = inner
        self.allowed = allowed
        self.stalled = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            if self.allowed == 0:
                self.stalled.set()
                await asyncio.Event().wait()
            self.allowed -= 1

        return await self.inner.handle_async_request(request)


async def install_and_write(settings: Settings, fake: FakeJira, site: FakeSite) -> None:
    async with await Ledger.open(settings) as ledger:
        app = create_app(ledger, run_worker=False)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport) as client,
        ):
            response = await fake.install(site, app_base_url=APP_BASE_URL, client=client)
            assert response.status_code == 204
        tracked = await ledger.site(site.client_key)
        for issue_id in site.issues:
            await tracked.issue(issue_id).set_property(KEY, {"id": issue_id})


async def test_removal_resumes_after_restart(
    settings: Settings, fake: FakeJira, site: FakeSite, admin: str
):
    for _ in range(25):
        site.add_issue(project_key="ACME")
    await install_and_write(settings, fake, site)
    headers = {"Authorization": f"JWT {fake.context_token(site, admin)}"}
    stalling = StallingTransport(fake.transport(), allowed=12)
    first = dataclasses.replace(settings, jira_transport=stalling, removal_concurrency=2)

    async with await Ledger.open(first) as ledger:
        async with serve(create_app(ledger)) as url, httpx.AsyncClient(base_url=url) as http:
            created = await http.post(
                "/api/removals", json={"confirm": "acme.jira.test"}, headers=headers
            )
            assert created.status_code == 202
            await asyncio.wait_for(stalling.stalled.wait(), 10)
        job_id = created.json()["id"]
        interrupted = await ledger.store.get_job(job_id)
    assert interrupted.state is JobState.RUNNING
    assert interrupted.lease_owner is None
    assert site.property_count(prefixes=(f"{APP_KEY}.",)) == 30 - 12

    async with (
        await Ledger.open(settings) as ledger,
        serve(create_app(ledger)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for _ in range(200):
            status = (await http.get(f"/api/removals/{job_id}", headers=headers)).json()
            if not status["active"]:
                break
            await asyncio.sleep(0.05)

    assert status["state"] == "completed"
    assert status["totals"] == {"deleted": 30}
    assert site.property_count(prefixes=(f"{APP_KEY}.",)) == 0
    deleted = collections.Counter(
        entry.path for entry in fake.request_log if entry.method == "DELETE" and entry.status == 204
    )
    assert len(deleted) == 30
    assert set(deleted.values()) == {1}
