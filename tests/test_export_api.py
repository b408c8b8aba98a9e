"""The inventory export endpoint: admins only, streamed, never a secret or a value."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import APP_KEY

from propledger.ledger import Ledger
from propledger.testing import FakeJira, FakeSite


async def write_two(ledger: Ledger, site: FakeSite) -> list[str]:
    tracked = await ledger.site(site.client_key)
    issue_ids = sorted(site.issues, key=int)[:2]
    for issue_id in issue_ids:
        await tracked.issue(issue_id).set_property(f"{APP_KEY}.secretive", {"token": "hunter2"})

    return issue_ids


def headers(fake: FakeJira, site: FakeSite, account_id: str) -> dict[str, str]:
    return {"Authorization": f"JWT {fake.context_token(site, account_id)}"}


async def test_export_csv(ledger, app_client, installed: FakeSite, fake: FakeJira, admin):
    issue_ids = await write_two(ledger, installed)

    response = await app_client.get(
        "/api/inventory/export?format=csv", headers=headers(fake, installed, admin)
    )

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="propledger-inventory-acme.jira.test.csv"'
    )
    assert [
        (row["entity_type"], row["entity_id"], row["property_key"], row["state"]) for row in rows
    ] == [("issue", issue_id, f"{APP_KEY}.secretive", "present") for issue_id in issue_ids]
    assert "hunter2" not in response.text
    assert installed.shared_secret not in response.text


async def test_export_jsonl(ledger, app_client, installed: FakeSite, fake: FakeJira, admin):
    await write_two(ledger, installed)

    response = await app_client.get(
        "/api/inventory/export?format=jsonl", headers=headers(fake, installed, admin)
    )

    records = [json.loads(line) for line in response.text.splitlines()]
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert [record["value_size"] for record in records] == [len('{"token":"hunter2"}')] * 2
    assert set(records[0]) == {
        "entity_type",
        "entity_id",
        "property_key",
        "state",
        "source",
        "first_written_at",
        "last_written_at",
        "removed_at",
        "value_size",
        "value_sha256",
    }


async def test_export_non_admin_403(app_client, installed: FakeSite, fake: FakeJira, member):
    response = await app_client.get(
        "/api/inventory/export?format=csv", headers=headers(fake, installed, member)
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "Only a Jira administrator of this site can see or remove the app's data."
    }


async def test_export_unknown_format_400(app_client, installed: FakeSite, fake: FakeJira, admin):
    response = await app_client.get(
        "/api/inventory/export?format=xml", headers=headers(fake, installed, admin)
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "The export format 'xml' is unknown. Use one of: csv, jsonl, json."
    }


async def test_export_invalid_flag_400(app_client, installed: FakeSite, fake: FakeJira, admin):
    response = await app_client.get(
        "/api/inventory/export?format=csv&with_values=maybe",
        headers=headers(fake, installed, admin),
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "The with_values parameter 'maybe' is invalid. Use true or false."
    }
