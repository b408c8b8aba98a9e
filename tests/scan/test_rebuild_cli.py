"""The rebuild command against FakeJira served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.scan.conftest import APP_KEY, KEY_A, KEY_B, SHARED_SECRET

from propledger.cli import main
from propledger.model import EntityType, Installation, PropertyRef, RowSource, RowState
from propledger.scan import ReconcileCounts
from propledger.store import Store
from propledger.testing import FakeJira, FakeSite, serve

EMAIL = "operator@example.com"
API_TOKEN = "operator-api-token-for-the-cli"


@dataclass
class Served:
    fake: FakeJira
    site: FakeSite
    database_url: str

    async def invoke(self, *args: str, env: dict[str, str] | None = None) -> Result:
        environment = {
            "PROPLEDGER_APP_KEY": APP_KEY,
            "PROPLEDGER_BASE_URL": "https://app.example.test",
            "PROPLEDGER_DATABASE_URL": self.database_url,
            "COLUMNS": "100",
            **(env or {}),
        }
        runner = CliRunner()
        # The command runs its own event loop, so it runs in a thread while this loop
        # serves FakeJira.
        return await asyncio.to_thread(runner.invoke, main, list(args), env=environment)

    async def rows(self) -> dict[PropertyRef, tuple[RowState, RowSource]]:
        async with await Store.open(self.database_url) as store:
            rows = [row async for row in store.iter_inventory(self.site.client_key)]
        return {row.ref: (row.state, row.source) for row in rows}


@pytest.fixture
async def served(fake: FakeJira, tmp_path: Path) -> AsyncIterator[Served]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    async with serve(fake.app) as base_url:
        site = fake.add_site(base_url, name="served")
        site.shared_secret = SHARED_SECRET
        for number in range(3):
            issue = site.add_issue("ACME")
            issue.properties[KEY_A] = {"n": number}
        site.app_properties[APP_KEY] = {KEY_B: True}
        async with await Store.open(database_url) as store:
            await store.save_installation(Installation(site.client_key, base_url, SHARED_SECRET))
        yield Served(fake, site, database_url)


async def test_rebuild_json_summary(served: Served):
    result = await served.invoke("rebuild", "--installation", served.site.client_key, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "installation": served.site.client_key,
        "dry_run": False,
        "entity_types": {
            "issue": ReconcileCounts(found=3, added=3).as_dict(),
            "user": ReconcileCounts().as_dict(),
            "project": ReconcileCounts().as_dict(),
            "app": ReconcileCounts(found=1, added=1).as_dict(),
        },
        "total": ReconcileCounts(found=4, added=4).as_dict(),
    }
    rows = await served.rows()
    assert rows[PropertyRef(EntityType.APP, APP_KEY, KEY_B)] == (RowState.PRESENT, RowSource.SCAN)
    assert len(rows) == 4
    assert {entry.auth for entry in served.fake.request_log} == {"jwt"}


async def test_rebuild_table_and_progress(served: Served):
    result = await served.invoke(
        "rebuild", "--installation", served.site.client_key, "--entity-types", "issue"
    )

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines == [
        f"Inventory rebuild of {served.site.client_key}",
        "type   found  added  unchanged  drifted  reappeared  gone  unverified",
        "─" * 69,
        "issue      3      3          0        0           0     0           0",
        "total      3      3          0        0           0     0           0",
    ]
    assert "issue properties" in result.stderr
    assert "100%" in result.stderr


async def test_rebuild_dry_run_writes_nothing(served: Served):
    result = await served.invoke(
        "rebuild", "--installation", served.site.client_key, "--dry-run", "--json"
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True
    assert summary["total"] == ReconcileCounts(found=4, added=4).as_dict()
    assert await served.rows() == {}


async def test_rebuild_dry_run_table_title(served: Served):
    result = await served.invoke("rebuild", "--installation", served.site.client_key, "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].strip() == (
        f"Inventory rebuild of {served.site.client_key} (dry run: nothing was written)"
    )
    assert await served.rows() == {}


async def test_rebuild_operator_mode(served: Served, tmp_path: Path):
    admin = served.site.add_user(is_admin=True, email=EMAIL)
    served.site.add_api_token(EMAIL, API_TOKEN, admin.account_id)
    member = served.site.add_user()
    member.properties[KEY_A] = "prefs"

    result = await served.invoke(
        "rebuild",
        "--installation",
        served.site.client_key,
        "--site",
        served.site.base_url,
        "--email",
        EMAIL,
        "--token-env",
        "SCAN_TOKEN",
        "--json",
        env={"SCAN_TOKEN": API_TOKEN},
    )

    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["entity_types"]) == ["issue", "user", "project"]
    assert (await served.rows())[PropertyRef(EntityType.USER, member.account_id, KEY_A)] == (
        RowState.PRESENT,
        RowSource.SCAN,
    )
    assert {entry.auth for entry in served.fake.request_log} == {"basic"}
    assert API_TOKEN not in result.output


async def test_rebuild_accounts_file(served: Served, tmp_path: Path):
    member = served.site.add_user()
    member.properties[KEY_A] = 1
    accounts = tmp_path / "accounts.txt"
    accounts.write_text(f"{member.account_id}\n")

    result = await served.invoke(
        "rebuild",
        "--installation",
        served.site.client_key,
        "--entity-types",
        "user",
        "--accounts-file",
        str(accounts),
        "--json",
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == ReconcileCounts(found=1, added=1).as_dict()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--site", "http://127.0.0.1:9", "--email", EMAIL],
            {},
            "The operator mode needs --site, --email and --token-env together. "
            "Give all three, or none to scan as the app.",
        ),
        (
            ["--site", "http://127.0.0.1:9", "--email", EMAIL, "--token-env", "NO_SUCH_VAR"],
            {},
            "The environment variable NO_SUCH_VAR is empty or not set. "
            "Export the operator's Atlassian API token in it.",
        ),
        (
            ["--site", "http://127.0.0.1:9", "--email", EMAIL, "--token-env", "SCAN_TOKEN",
             "--entity-types", "issue,app"],
            {"SCAN_TOKEN": API_TOKEN},
            "Invalid value for --entity-types: App properties can be read only by the app "
            "itself, not with an API token. Leave out 'app', or rebuild without --site to "
            "scan as the app.",
        ),
        (
            ["--entity-types", "issue,comment"],
            {},
            "Invalid value for --entity-types: comment is not a scannable entity type. "
            "Give a comma-separated list of: issue, user, project, app.",
        ),
        (
            ["--concurrency", "0"],
            {},
            "The scan concurrency 0 is below 1. Use 1 or more.",
        ),
    ],
)  # fmt: skip
async def test_rebuild_usage_errors(served: Served, args, env, message):
    result = await served.invoke(
        "rebuild", "--installation", served.site.client_key, *args, env=env
    )

    assert result.exit_code == 2
    assert " ".join(result.stderr.split()).endswith(f"Error: {message}")
    assert served.fake.request_log == []


async def test_rebuild_other_site_rejected(served: Served):
    env = {"SCAN_TOKEN": API_TOKEN}
    args = ["--site", "http://127.0.0.1:9", "--email", EMAIL, "--token-env", "SCAN_TOKEN"]

    result = await served.invoke(
        "rebuild", "--installation", served.site.client_key, *args, env=env
    )

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: The Jira client points at http://127.0.0.1:9, but installation "
        f"{served.site.client_key} is at {served.site.base_url}. Scan the installation's "
        "own site.\n"
    )


async def test_rebuild_unknown_installation(served: Served):
    result = await served.invoke("rebuild", "--installation", "jira:unknown")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No installation is stored under client key 'jira:unknown'. "
        "Check the client key, or install the app on that site first.\n"
    )
