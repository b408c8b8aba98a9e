"""The demo: the whole story of propledger against FakeJira, on 127.0.0.1.

FakeJira and propledger's app both run under uvicorn. The app is installed through the
signed lifecycle and writes properties through tracked writes. Then a site admin
removes them all over HTTP, and the result reports what was written and what is left.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from propledger.ledger import Ledger
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite, serve
from propledger.tracking import TrackedEntity, TrackedSite
from propledger.web import create_app

__all__ = ["DEMO_APP_KEY", "run_demo"]

DEMO_APP_KEY = "com.example.checklist"
Report = Callable[[str], None]


async def run_demo(
    *,
    issues: int = 200,
    users: int = 20,
    app_properties: int = 3,
    database_url: str | None = None,
    report: Report = print,
    fake: FakeJira | None = None,
) -> dict[str, Any]:
    """Run the demo and return its result, as ``propledger demo --json`` prints it.

    ``fake`` is the FakeJira to run against, for a caller that inspects it afterwards;
    its app key must be :data:`DEMO_APP_KEY`.
    """
    fake = fake or FakeJira(app_key=DEMO_APP_KEY)
    with tempfile.TemporaryDirectory(prefix="propledger-demo-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"
        async with serve(fake.app) as jira_url:
            site = fake.add_site(jira_url, name="demo")
            admin = _populate(site, issues=issues, users=users)
            report(f"FakeJira serves {site.base_url} with {issues} issues and {users} users.")
            settings = Settings(
                app_key=DEMO_APP_KEY,
                app_base_url=f"http://127.0.0.1:{_free_port()}",
                database_url=url,
                install_keys_url=f"{jira_url}/_fake/install-keys",
                retry_base_delay=0.05,
            )
            async with await Ledger.open(settings) as ledger:
                app = create_app(ledger)
                port = int(settings.app_base_url.rsplit(":", 1)[1])
                async with serve(app, port=port) as app_url, httpx.AsyncClient() as http:
                    return await _story(
                        fake,
                        site,
                        admin,
                        ledger,
                        http,
                        app_url,
                        report,
                        counts=(issues, users, app_properties),
                    )


async def _story(
    fake: FakeJira,
    site: FakeSite,
    admin: str,
    ledger: Ledger,
    http: httpx.AsyncClient,
    app_url: str,
    report: Report,
    *,
    counts: tuple[int, int, int],
) -> dict[str, Any]:
    response = await fake.install(site, app_base_url=app_url, client=http)
    response.raise_for_status()
    report(f"Installed {DEMO_APP_KEY} through the signed lifecycle as {site.client_key}.")
    tracked = await ledger.site(site.client_key)
    written = await _write(tracked, site, counts)
    summary = await ledger.inventory_summary(site.client_key)
    inventory = ", ".join(
        f"{count} {state} {entity_type}"
        for entity_type, states in summary.items()
        for state, count in states.items()
    )
    report(f"Wrote {written} properties through tracked writes. Inventory: {inventory}.")
    state = await _remove(fake, site, admin, http, app_url, report)
    rows = await ledger.store.count_inventory(site.client_key)
    remaining = site.property_count(prefixes=(f"{DEMO_APP_KEY}.",))
    report(f"Removal ended {state}; the site still contains {remaining} of the app's properties.")

    return {
        "properties_written": written,
        "inventory_rows": sum(sum(states.values()) for states in rows.values()),
        "removal_state": state,
        "properties_remaining_in_site": remaining,
        "requests_sent": sum(1 for entry in fake.request_log if entry.path.startswith("/rest/")),
    }


def _populate(site: FakeSite, *, issues: int, users: int) -> str:
    for _ in range(issues):
        site.add_issue(project_key="DEMO")
    for index in range(users):
        site.add_user(display_name=f"Demo user {index + 1}")

    return site.add_user(is_admin=True, display_name="Site admin").account_id


async def _write(tracked: TrackedSite, site: FakeSite, counts: tuple[int, int, int]) -> int:
    issues, users, app_properties = counts
    writes: list[tuple[TrackedEntity, str, dict[str, Any]]] = []
    for issue in list(site.issues.values())[:issues]:
        writes.append((tracked.issue(issue.id), f"{DEMO_APP_KEY}.checklist", {"done": 1}))
    members = [user for user in site.users.values() if not user.is_admin][:users]
    for user in members:
        writes.append((tracked.user(user.account_id), f"{DEMO_APP_KEY}.prefs", {"compact": True}))
    for index in range(app_properties):
        writes.append((tracked.app(), f"{DEMO_APP_KEY}.setting-{index + 1}", {"enabled": True}))
    semaphore = asyncio.Semaphore(8)

    async def write(entity: TrackedEntity, key: str, value: dict[str, Any]) -> None:
        async with semaphore:
            await entity.set_property(key, value)

    await asyncio.gather(*(write(*args) for args in writes))

    return len(writes)


async def _remove(
    fake: FakeJira,
    site: FakeSite,
    admin: str,
    http: httpx.AsyncClient,
    app_url: str,
    report: Report,
) -> str:
    headers = {"Authorization": f"JWT {fake.context_token(site, admin)}"}
    host = httpx.URL(site.base_url).host
    response = await http.post(f"{app_url}/api/removals", json={"confirm": host}, headers=headers)
    response.raise_for_status()
    job_id = response.json()["id"]
    report(f"A site admin requested removal {job_id}.")
    for _ in range(600):
        status = (await http.get(f"{app_url}/api/removals/{job_id}", headers=headers)).json()
        if not status["active"]:
            totals = ", ".join(f"{count} {name}" for name, count in status["totals"].items())
            report(f"Removal totals: {totals or 'nothing to remove'}.")
            return str(status["state"])
        await asyncio.sleep(0.1)
    raise TimeoutError(f"Removal {job_id} did not finish within 60 seconds.")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
