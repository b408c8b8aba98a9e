"""``propledger removal run`` as a process, against FakeJira served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.conftest import APP_BASE_URL, APP_KEY
from tests.seeding import Seed, install_directly, record_inventory, seed_site

from propledger.store import Store
from propledger.testing import FakeJira, serve

FLAG = f"{APP_KEY}.flag"
LEGACY = "legacy-flag"


async def run_cli(database_url: str, *arguments: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "PROPLEDGER_APP_KEY": APP_KEY,
        "PROPLEDGER_BASE_URL": APP_BASE_URL,
        "PROPLEDGER_DATABASE_URL": database_url,
        "PROPLEDGER_KEYS": f"{FLAG},{LEGACY}",
        "PROPLEDGER_KEY_PREFIXES": f"{APP_KEY}.",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "propledger",
        *arguments,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None

    return process.returncode, stdout.decode(), stderr.decode()


async def test_run_with_sweep(tmp_path: Path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'propledger.db'}"
    fake = FakeJira(app_key=APP_KEY)
    seed = Seed(2, (FLAG,), 1, f"{APP_KEY}.prefs", 1, f"{APP_KEY}.setting-")
    async with serve(fake.app) as url, await Store.open(database_url) as store:
        site = fake.add_site(url, name="cli")
        refs = seed_site(site, seed)
        untracked = site.add_issue(project_key="SEED")
        untracked.properties.update({FLAG: 1, LEGACY: 2, f"{APP_KEY}.note": 3})
        await install_directly(store, site)
        await record_inventory(store, site.client_key, refs)

        code, stdout, stderr = await run_cli(
            database_url, "removal", "run", "--installation", site.client_key, "--yes", "--sweep"
        )

    assert code == 0, stderr
    assert stderr.splitlines()[:2] == [
        f"Would delete 4 properties from {url}: 1 app, 2 issue, 1 user.",
        f"Would also sweep these keys from every issue the app can edit: {FLAG}, {LEGACY}.",
    ]
    receipt = json.loads(stdout)
    assert receipt["state"] == "completed"
    assert receipt["totals"] == {"deleted": 4}
    sweeps = [entry.path for entry in fake.request_log if entry.body == {}]
    assert sweeps == [
        f"/rest/api/3/issue/properties/{FLAG}",
        f"/rest/api/3/issue/properties/{LEGACY}",
    ]
    assert site.properties() == [("issue", untracked.id, f"{APP_KEY}.note")]
