"""The removal API: a Jira admin's signed, confirmed request removes every property."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from tests.conftest import APP_BASE_URL, APP_KEY

from propledger.ledger import Ledger
from propledger.removal import removal_receipt, start_removal
from propledger.removal.worker import Worker
from propledger.scope import KeyScope
from propledger.testing import FakeJira, FakeSite
from propledger.web import create_app

KEY = f"{APP_KEY}.checklist"


def bearer(fake: FakeJira, site: FakeSite, account_id: str) -> dict[str, str]:
    return {"Authorization": f"JWT {fake.context_token(site, account_id)}"}


async def write_properties(ledger: Ledger, site: FakeSite) -> int:
    tracked = await ledger.site(site.client_key)
    while len(site.users) < 2:
        site.add_user()
    for issue_id in site.issues:
        await tracked.issue(issue_id).set_property(KEY, {"items": [issue_id]})
    for user in list(site.users.values())[:2]:
        await tracked.user(user.account_id).set_property(f"{APP_KEY}.prefs", True)
    await tracked.app().set_property(f"{APP_KEY}.config", {"v": 1})

    return len(site.issues) + 2 + 1


async def wait_until_done(client: httpx.AsyncClient, job_id: str, headers) -> dict:
    for _ in range(200):
        response = await client.get(f"/api/removals/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        if not response.json()["active"]:
            return response.json()
        await asyncio.sleep(0.02)
    raise AssertionError(f"removal {job_id} did not finish")


async def test_admin_removes_everything(
    ledger, app_client, installed: FakeSite, fake: FakeJira, admin: str
):
    written = await write_properties(ledger, installed)
    headers = bearer(fake, installed, admin)

    response = await app_client.post(
        "/api/removals", json={"confirm": "acme.jira.test"}, headers=headers
    )
    status = await wait_until_done(app_client, response.json()["id"], headers)

    assert response.status_code == 202
    assert response.headers["location"] == f"/api/removals/{response.json()['id']}"
    assert response.json()["created"] is True
    assert status["state"] == "completed"
    assert status["counts"] == {
        "app": {"deleted": 1},
        "issue": {"deleted": 5},
        "user": {"deleted": 2},
    }
    assert status["totals"] == {"deleted": written}
    assert installed.property_count(prefixes=(f"{APP_KEY}.",)) == 0
    # The five issue properties go in one bulk delete; the rest one DELETE each.
    deletes = [(entry.path, entry.status) for entry in fake.request_log if entry.method == "DELETE"]
    assert sorted(deletes) == sorted(
        [(f"/rest/api/3/issue/properties/{KEY}", 303)]
        + [(f"/rest/api/3/user/properties/{APP_KEY}.prefs", 204)] * 2
        + [(f"/rest/atlassian-connect/1/addons/{APP_KEY}/properties/{APP_KEY}.config", 204)]
    )
    assert len(installed.deletions) == written


async def test_non_admin_gets_403_and_nothing_starts(
    ledger, app_client, installed: FakeSite, fake: FakeJira, member: str
):
    await write_properties(ledger, installed)
    before = len(fake.request_log)

    response = await app_client.post(
        "/api/removals", json={"confirm": "acme.jira.test"}, headers=bearer(fake, installed, member)
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "Only a Jira administrator of this site can remove the app's data. "
        "Ask a Jira admin to open this page."
    }
    assert await ledger.store.latest_job(installed.client_key) is None
    assert [(entry.method, entry.path) for entry in fake.request_log[before:]] == [
        ("POST", "/rest/api/3/permissions/check")
    ]
    assert installed.property_count(prefixes=(f"{APP_KEY}.",)) == 8


async def test_wrong_confirmation_gets_400(
    ledger, app_client, installed: FakeSite, fake: FakeJira, admin: str
):
    response = await app_client.post(
        "/api/removals", json={"confirm": "acme"}, headers=bearer(fake, installed, admin)
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "The confirmation does not match. Type the site's host name, "
        "acme.jira.test, to confirm the removal."
    }
    assert await ledger.store.latest_job(installed.client_key) is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing token"),
        ({"Authorization": "JWT not-a-token"}, "malformed token"),
    ],
    ids=["missing", "malformed"],
)
async def test_bad_token_gets_401(app_client, installed: FakeSite, headers, reason):
    response = await app_client.post("/api/removals", json={"confirm": "x"}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": f"Invalid or missing token: {reason}."}


async def test_body_not_json_gets_400(app_client, installed: FakeSite, fake: FakeJira, admin):
    response = await app_client.post(
        "/api/removals", content=b"{confirm", headers=bearer(fake, installed, admin)
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": 'The request body is not valid JSON. Send {"confirm": ...}.'
    }


async def test_second_request_returns_active_job(
    ledger, site: FakeSite, fake: FakeJira, admin: str
):
    # Without a worker the first job stays queued, so the second request finds it active.
    app = create_app(ledger, run_worker=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=APP_BASE_URL) as client,
    ):
        await fake.install(site, app_base_url=APP_BASE_URL, client=client)
        headers = bearer(fake, site, admin)
        first = await client.post(
            "/api/removals", json={"confirm": "acme.jira.test"}, headers=headers
        )
        second = await client.post(
            "/api/removals", json={"confirm": "acme.jira.test"}, headers=headers
        )

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["id"] == first.json()["id"]
    assert (first.json()["created"], second.json()["created"]) == (True, False)
    assert second.json()["state"] == "queued"


async def test_other_installations_job_is_404(
    ledger, app_client, installed: FakeSite, fake: FakeJira, admin: str
):
    other = fake.add_site("https://globex.jira.test", name="globex")
    other_admin = other.add_user(is_admin=True).account_id
    response = await fake.install(other, app_base_url=APP_BASE_URL, client=app_client)
    assert response.status_code == 204
    created = await app_client.post(
        "/api/removals", json={"confirm": "acme.jira.test"}, headers=bearer(fake, installed, admin)
    )

    crossed = await app_client.get(
        f"/api/removals/{created.json()['id']}", headers=bearer(fake, other, other_admin)
    )

    assert crossed.status_code == 404
    assert crossed.json() == {
        "error": f"No removal job {created.json()['id']!r} was found for this installation. "
        "Check the job id, or start a new removal."
    }


async def test_hidden_issue_not_verified(
    ledger, app_client, installed: FakeSite, fake: FakeJira, admin: str
):
    await write_properties(ledger, installed)
    hidden_id = next(iter(installed.issues))
    installed.hidden_issue_ids.add(hidden_id)
    headers = bearer(fake, installed, admin)

    created = await app_client.post(
        "/api/removals", json={"confirm": "acme.jira.test"}, headers=headers
    )
    status = await wait_until_done(app_client, created.json()["id"], headers)
    receipt = await app_client.get(f"/api/removals/{created.json()['id']}/receipt", headers=headers)

    assert status["state"] == "completed_with_issues"
    assert status["counts"]["issue"] == {"deleted": 4, "not_verified": 1}
    assert receipt.status_code == 200
    assert receipt.json()["not_removed"] == [
        {
            "entity_type": "issue",
            "entity_id": hidden_id,
            "key": KEY,
            "outcome": "not_verified",
            "reason": "Bulk task 10000 completed and the issue is not visible to the app: it "
            "was deleted, or it is hidden from the app.",
        }
    ]
    assert receipt.json()["installation"] == {
        "client_key": installed.client_key,
        "base_url": "https://acme.jira.test",
    }


async def test_keys_outside_scope_not_deleted(
    ledger, settings, installed: FakeSite, fake: FakeJira
):
    await write_properties(ledger, installed)
    narrowed = dataclasses.replace(settings, key_scope=KeyScope(keys=frozenset({KEY})))

    async with await Ledger.open(narrowed) as narrow_ledger:
        job, _ = await start_removal(
            narrow_ledger, client_key=installed.client_key, requested_by="op"
        )
        finished = await Worker(narrow_ledger).run_once(job.id)
        receipt = await removal_receipt(
            narrow_ledger.store, job.id, client_key=installed.client_key
        )

    assert finished is not None
    assert finished.state.value == "completed_with_issues"
    assert receipt["counts"] == {
        "app": {"failed": 1},
        "issue": {"deleted": 5},
        "user": {"failed": 2},
    }
    assert {item["key"] for item in receipt["not_removed"]} == {
        f"{APP_KEY}.prefs",
        f"{APP_KEY}.config",
    }
    assert receipt["not_removed"][0]["reason"] == (
        f"The key {receipt['not_removed'][0]['key']!r} is outside the app's key scope "
        f"(key {KEY!r}), so propledger does not delete it. Add it to PROPLEDGER_KEYS or "
        "PROPLEDGER_KEY_PREFIXES to remove it."
    )
    assert installed.property_count(prefixes=(f"{APP_KEY}.",)) == 3
    deleted_keys = {
        entry.path.rsplit("/", 1)[-1] for entry in fake.request_log if entry.method == "DELETE"
    }
    assert deleted_keys == {KEY}


async def test_huge_body_gets_413(app_client, installed: FakeSite, fake: FakeJira, admin: str):
    body = b'{"confirm": "' + b"x" * 200_000 + b'"}'

    response = await app_client.post(
        "/api/removals", content=body, headers=bearer(fake, installed, admin)
    )

    assert response.status_code == 413
    assert response.json()["error"].startswith("The request body is larger than")
