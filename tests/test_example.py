"""The example checklist app: its own routes store checklists through tracked writes."""

from __future__ import annotations

import importlib.util

import httpx
from tests.conftest import APP_BASE_URL, APP_KEY, REPO_ROOT

from propledger.ledger import Ledger
from propledger.model import EntityType, PropertyRef, RowState
from propledger.testing import FakeJira, FakeSite


def load_example():
    path = REPO_ROOT / "examples" / "checklist_app.py"
    spec = importlib.util.spec_from_file_location("checklist_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    return module


async def test_checklist_round_trip(ledger: Ledger, fake: FakeJira, site: FakeSite, admin: str):
    app = load_example().build_app(ledger)
    issue_id = next(iter(site.issues))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_BASE_URL) as client,
    ):
        installed = await fake.install(site, app_base_url=APP_BASE_URL, client=client)
        headers = {"Authorization": f"JWT {fake.context_token(site, admin)}"}
        empty = await client.get(f"/checklist/{issue_id}", headers=headers)
        saved = await client.put(
            f"/checklist/{issue_id}",
            json={"items": [{"text": "Ship", "done": False}]},
            headers=headers,
        )
        read = await client.get(f"/checklist/{issue_id}", headers=headers)
        invalid = await client.put(f"/checklist/{issue_id}", content=b"[]", headers=headers)

    key = f"{APP_KEY}.checklist"
    row = await ledger.store.get_row(site.client_key, PropertyRef(EntityType.ISSUE, issue_id, key))
    assert installed.status_code == 204
    assert empty.json() == {"items": []}
    assert saved.status_code == 200
    assert read.json() == {"items": [{"text": "Ship", "done": False}]}
    assert site.issues[issue_id].properties == {key: {"items": [{"text": "Ship", "done": False}]}}
    assert row is not None
    assert row.state is RowState.PRESENT
    assert invalid.status_code == 400
    assert invalid.json() == {"error": 'Send {"items": [{"text": ..., "done": ...}]}.'}
