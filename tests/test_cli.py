"""The command line: clear one-line errors, and removal run against FakeJira over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner
from tests.conftest import APP_KEY

from propledger.cli import main
from propledger.ledger import Ledger
from propledger.settings import Settings
from propledger.testing import FakeJira, serve
from propledger.web import create_app

KEY = f"{APP_KEY}.checklist"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_summary_missing_database(tmp_path: Path):
    path = tmp_path / "nothing.db"

    result = invoke(
        "inventory", "summary", "--installation", "jira:x", "--database-url", f"sqlite:///{path}"
    )

    assert result.exit_code == 1
    assert result.output == (
        f"Error: No propledger database exists at {path}. Check --database-url or "
        "PROPLEDGER_DATABASE_URL, or run the app once to create it.\n"
    )
    assert not path.exists()


def test_summary_unknown_installation(database_url: str):
    asyncio.run(_create_store(database_url))

    result = invoke(
        "inventory", "summary", "--installation", "jira:nope", "--database-url", database_url
    )

    assert result.exit_code == 1
    assert result.output == (
        "Error: No installation is stored under client key 'jira:nope'. Check the client "
        "key, or install the app on that site first.\n"
    )


def test_serve_port_out_of_range():
    result = CliRunner().invoke(main, ["serve", "--port", "99999"])

    assert result.exit_code == 2
    assert "'--port': 99999 is not in the range 1<=x<=65535." in result.output


def test_fake_jira_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = invoke("fake-jira", "--port", str(port))

    assert result.exit_code == 1
    assert result.output == (
        f"Error: Cannot listen on 127.0.0.1 port {port}: Address already in use. "
        "Pick another --port or stop the program using it.\n"
    )


def test_demo_negative_count():
    result = CliRunner().invoke(main, ["demo", "--issues", "-1"])

    assert result.exit_code == 2
    assert "'--issues': -1 is not in the range x>=0." in result.output


async def _create_store(database_url: str) -> None:
    from propledger.store import Store

    async with await Store.open(database_url):
        pass


async def test_removal_run_reports_issues(database_url: str, tmp_path: Path):
    fake = FakeJira(app_key=APP_KEY)
    async with serve(fake.app) as jira_url:
        site = fake.add_site(jira_url)
        for _ in range(4):
            site.add_issue()
        settings = Settings(
            app_key=APP_KEY,
            app_base_url="http://127.0.0.1:9",
            database_url=database_url,
            install_keys_url=fake.install_keys_url(jira_url),
        )
        async with await Ledger.open(settings) as ledger:
            app = create_app(ledger, run_worker=False)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client,
            ):
                await fake.install(site, app_base_url=settings.app_base_url, client=client)
            tracked = await ledger.site(site.client_key)
            for issue_id in site.issues:
                await tracked.issue(issue_id).set_property(KEY, {"id": issue_id})
        hidden = sorted(site.issues, key=int)[0]
        site.hidden_issue_ids.add(hidden)
        env = os.environ | {
            "PROPLEDGER_APP_KEY": APP_KEY,
            "PROPLEDGER_BASE_URL": settings.app_base_url,
            "PROPLEDGER_DATABASE_URL": database_url,
        }

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "propledger",
            "removal",
            "run",
            "--installation",
            site.client_key,
            "--yes",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)

    receipt = json.loads(stdout)
    assert process.returncode == 1, stderr.decode()
    assert stderr.decode().startswith(f"Would delete 4 properties from {jira_url}: 4 issue.\n")
    assert receipt["state"] == "completed_with_issues"
    assert receipt["counts"] == {"issue": {"deleted": 3, "not_verified": 1}}
    assert [item["entity_id"] for item in receipt["not_removed"]] == [hidden]
    assert stderr.decode().endswith(
        f"Removal {receipt['id']} ended completed_with_issues: 1 property was not "
        "removed. The receipt lists each with its reason.\n"
    )
    assert site.property_count(prefixes=(f"{APP_KEY}.",)) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_manual_install_route(database_url: str):
    fake = FakeJira(app_key=APP_KEY)
    port = free_port()
    async with serve(fake.app) as jira_url:
        site = fake.add_site(jira_url)
        admin = site.add_user(is_admin=True).account_id
        settings = Settings(
            app_key=APP_KEY,
            app_base_url=f"http://127.0.0.1:{port}",
            database_url=database_url,
            install_keys_url=fake.install_keys_url(jira_url),
        )
        async with (
            await Ledger.open(settings) as ledger,
            serve(create_app(ledger, run_worker=False), port=port) as app_url,
            httpx.AsyncClient(base_url=jira_url) as http,
        ):
            refused = await http.post("/_fake/install", json={"appBaseUrl": "http://10.1.2.3"})
            installed = await http.post("/_fake/install", json={"appBaseUrl": app_url})
            token = await http.post("/_fake/context-token", json={})
            not_json = await http.post("/_fake/context-token", content=b"{x")
            page_url = (await http.post("/_fake/iframe-url", json={"appBaseUrl": app_url})).json()
            page = await http.get(page_url["url"])
            stored = await ledger.store.get_installation(site.client_key)

    assert refused.status_code == 400
    assert refused.json() == {
        "error": "The appBaseUrl 'http://10.1.2.3' is not an http URL on a loopback address. "
        'Send {"appBaseUrl": "http://127.0.0.1:8000"}.'
    }
    assert installed.json() == {"appStatus": 204, "clientKey": site.client_key}
    assert stored.shared_secret == site.shared_secret
    assert token.json()["accountId"] == admin
    assert token.json()["token"].count(".") == 2
    assert not_json.status_code == 400
    assert page_url["url"].startswith(f"{app_url}/admin/data?jwt=")
    assert page.status_code == 200
    assert "Data stored in your site" in page.text
