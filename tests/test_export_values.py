"""Exports with the current values read from the site, from the API and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from click.testing import CliRunner
from tests.conftest import APP_KEY

from propledger.cli import main
from propledger.export import EXPORT_FIELDS, export_inventory
from propledger.ledger import Ledger
from propledger.model import EntityType, Installation, PropertyRef
from propledger.store import Store
from propledger.testing import FakeJira, FakeSite, serve

KEY = f"{APP_KEY}.checklist"


async def write_three(ledger: Ledger, site: FakeSite) -> list[str]:
    """Write three issue properties and delete the last one; return the issue ids."""
    tracked = await ledger.site(site.client_key)
    issue_ids = sorted(site.issues, key=int)[:3]
    for number, issue_id in enumerate(issue_ids):
        await tracked.issue(issue_id).set_property(KEY, {"items": ["é", number]})
    await tracked.issue(issue_ids[2]).delete_property(KEY)

    return issue_ids


def headers(fake: FakeJira, site: FakeSite, account_id: str) -> dict[str, str]:
    return {"Authorization": f"JWT {fake.context_token(site, account_id)}"}


def value_reads(fake: FakeJira) -> list[str]:
    return [
        entry.path
        for entry in fake.request_log
        if entry.method == "GET" and entry.path.endswith(f"/properties/{KEY}")
    ]


async def test_api_jsonl_with_values(ledger, app_client, installed, fake, admin):
    issue_ids = await write_three(ledger, installed)
    installed.issues[issue_ids[1]].properties[KEY] = {"edited": "in Jira"}
    fake.request_log.clear()

    response = await app_client.get(
        "/api/inventory/export?format=jsonl&with_values=true",
        headers=headers(fake, installed, admin),
    )

    records = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200
    assert [(record["entity_id"], record["state"], record["value"]) for record in records] == [
        (issue_ids[0], "present", {"items": ["é", 0]}),
        (issue_ids[1], "present", {"edited": "in Jira"}),
        (issue_ids[2], "removed", None),
    ]
    assert list(records[0]) == [*EXPORT_FIELDS, "value"]
    assert sorted(value_reads(fake)) == sorted(
        f"/rest/api/3/issue/{issue_id}/properties/{KEY}" for issue_id in issue_ids[:2]
    )
    assert installed.shared_secret not in response.text


async def test_api_csv_value_is_json_text(ledger, app_client, installed, fake, admin):
    issue_ids = await write_three(ledger, installed)

    response = await app_client.get(
        "/api/inventory/export?format=csv&with_values=1", headers=headers(fake, installed, admin)
    )

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["entity_id"], row["value"]) for row in rows] == [
        (issue_ids[0], '{"items":["é",0]}'),
        (issue_ids[1], '{"items":["é",1]}'),
        (issue_ids[2], ""),
    ]
    assert installed.shared_secret not in response.text


async def test_api_without_values_reads_nothing(ledger, app_client, installed, fake, admin):
    await write_three(ledger, installed)
    fake.request_log.clear()

    response = await app_client.get(
        "/api/inventory/export?format=json", headers=headers(fake, installed, admin)
    )

    records = json.loads(response.text)
    assert [record.get("value", "absent") for record in records] == ["absent"] * 3
    assert value_reads(fake) == []


async def test_api_values_non_admin_403(ledger, app_client, installed, fake, member):
    await write_three(ledger, installed)
    fake.request_log.clear()

    response = await app_client.get(
        "/api/inventory/export?format=jsonl&with_values=true",
        headers=headers(fake, installed, member),
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "Only a Jira administrator of this site can see or remove the app's data."
    }
    assert value_reads(fake) == []
    assert installed.shared_secret not in response.text


async def test_json_export_of_empty_inventory(ledger):
    chunks = await export_inventory(ledger.store, "jira:none", "json")

    assert "".join([chunk async for chunk in chunks]) == "[]\n"


async def test_cli_export_with_values(tmp_path):
    fake = FakeJira(app_key=APP_KEY)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'export.db'}"
    secret = "cli-export-shared-secret-0123456789abcdef"
    output = tmp_path / "inventory.jsonl"
    async with serve(fake.app) as base_url:
        site = fake.add_site(base_url)
        site.shared_secret = secret
        issue = site.add_issue()
        issue.properties[KEY] = {"from": "site"}
        async with await Store.open(database_url) as store:
            await store.save_installation(Installation(site.client_key, base_url, secret))
            await store.record_found(
                site.client_key,
                PropertyRef(EntityType.ISSUE, issue.id, KEY),
                value_sha256=None,
                value_size=None,
            )
        env = {
            "PROPLEDGER_APP_KEY": APP_KEY,
            "PROPLEDGER_BASE_URL": "https://app.example.test",
        }
        args = ["inventory", "export", "--installation", site.client_key, "--format", "jsonl"]
        args += ["--with-values", "--output", str(output), "--database-url", database_url]
        result = await asyncio.to_thread(CliRunner().invoke, main, args, env=env)

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(record["entity_id"], record["value"]) for record in records] == [
        (issue.id, {"from": "site"})
    ]
    assert secret not in output.read_text()
    assert [(entry.method, entry.auth) for entry in fake.request_log] == [("GET", "jwt")]
