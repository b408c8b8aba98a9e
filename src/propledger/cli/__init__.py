"""The propledger command line: thin shells over the library.

Each command parses its options, calls one library function and prints the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from typing import Any

import click

from propledger.cli._common import database_option, run_async
from propledger.cli._rebuild import rebuild
from propledger.cli._removal import removal

__all__ = ["main"]


@click.group()
@click.version_option(package_name="propledger")
@click.option("-v", "--verbose", count=True, help="Log INFO (-v) or DEBUG (-vv) to stderr.")
def main(verbose: int) -> None:
    """Inventory and remove the properties a Jira Cloud app stores in customers' sites."""
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        # httpx logs every request URL at INFO, query string and all, and a Connect
        # request can carry a JWT there.
        logging.getLogger("httpx").setLevel(logging.WARNING)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of results.")
@click.option("--issues", default=200, show_default=True, help="Issue properties to write.")
@click.option("--users", default=20, show_default=True, help="User properties to write.")
@click.option("--app-properties", default=3, show_default=True, help="App properties to write.")
def demo(as_json: bool, issues: int, users: int, app_properties: int) -> None:
    """Run the whole story against FakeJira on 127.0.0.1: install, write, remove."""
    from propledger.demo import run_demo

    result = run_async(
        run_demo(issues=issues, users=users, app_properties=app_properties, report=click.echo)
    )
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        for name, value in result.items():
            click.echo(f"{name}: {value}")
    if result["properties_remaining_in_site"] or result["removal_state"] != "completed":
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="TCP port to listen on.")
@click.option("--no-worker", is_flag=True, help="Do not run a removal worker in-process.")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Serve the lifecycle routes, the admin API and a removal worker.

    Reads PROPLEDGER_APP_KEY, PROPLEDGER_BASE_URL and PROPLEDGER_DATABASE_URL.
    """
    import uvicorn

    from propledger.ledger import Ledger
    from propledger.settings import Settings
    from propledger.web import create_app

    async def run() -> None:
        async with await Ledger.open(Settings.from_env()) as ledger:
            app = create_app(ledger, run_worker=not no_worker)
            config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info")
            await uvicorn.Server(config).serve()

    run_async(run())


@main.command()
@click.option("--once", is_flag=True, help="Run at most one job, then exit.")
def worker(once: bool) -> None:
    """Run removal jobs from the store until stopped. Reads the same settings as serve."""
    from propledger.ledger import Ledger
    from propledger.removal import Worker
    from propledger.settings import Settings

    async def run() -> None:
        async with await Ledger.open(Settings.from_env()) as ledger:
            runner = Worker(ledger)
            if once:
                job = await runner.run_once()
                click.echo(
                    f"Removal {job.id} ended {job.state.value}." if job else "No job to run."
                )
                return
            await runner.run_forever()

    run_async(run())


@main.command("fake-jira")
@click.option("--port", default=8080, show_default=True, help="TCP port on 127.0.0.1.")
@click.option("--app-key", default="com.example.app", show_default=True, help="App key to accept.")
@click.option("--issues", default=10, show_default=True, help="Issues to create.")
@click.option(
    "--users", default=3, show_default=True, help="Users to create, one of them an admin."
)
def fake_jira(port: int, app_key: str, issues: int, users: int) -> None:
    """Serve FakeJira, a simulated Jira Cloud site, on 127.0.0.1 for manual runs."""
    from propledger.testing import FakeJira
    from propledger.testing import serve as serve_app

    fake = FakeJira(app_key=app_key)

    async def run() -> None:
        async with serve_app(fake.app, port=port) as base_url:
            site = fake.add_site(base_url, name="manual")
            for _ in range(issues):
                site.add_issue(project_key="DEMO")
            admin = site.add_user(is_admin=True, display_name="Site admin")
            for index in range(max(users - 1, 0)):
                site.add_user(display_name=f"User {index + 1}")
            click.echo(f"FakeJira serves {base_url} for app {app_key}.")
            click.echo(f"Install keys: {base_url}/_fake/install-keys")
            click.echo(f"Admin account id: {admin.account_id}. Press Ctrl+C to stop.")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        run_async(run())


@main.group()
def inventory() -> None:
    """Read the inventory of an installation."""


@inventory.command("summary")
@click.option("--installation", "client_key", required=True, help="The installation's clientKey.")
@database_option
def inventory_summary(client_key: str, database_url: str) -> None:
    """Print the inventory counts per entity type and state, as JSON."""
    from propledger.store import Store

    async def run() -> dict[str, Any]:
        async with await Store.open(database_url) as store:
            await store.get_installation(client_key)
            counts = await store.count_inventory(client_key)
        return {
            entity_type.value: {state.value: count for state, count in states.items()}
            for entity_type, states in counts.items()
        }

    click.echo(json.dumps(run_async(run()), indent=2, sort_keys=True))


@inventory.command("export")
@click.option("--installation", "client_key", required=True, help="The installation's clientKey.")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "jsonl", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option("--output", type=click.File("w"), default="-", help="File to write; - for stdout.")
@click.option(
    "--with-values",
    is_flag=True,
    help="Read each property's current value from the site and include it. "
    "Reads PROPLEDGER_APP_KEY and PROPLEDGER_BASE_URL like serve.",
)
@database_option
def inventory_export(
    client_key: str, export_format: str, output: Any, with_values: bool, database_url: str
) -> None:
    """Export every inventory row of an installation, without values unless asked."""
    from propledger.export import export_inventory, site_value_reader
    from propledger.ledger import Ledger
    from propledger.settings import Settings
    from propledger.store import Store

    async def run() -> None:
        if not with_values:
            async with await Store.open(database_url) as store:
                await store.get_installation(client_key)
                async for chunk in await export_inventory(store, client_key, export_format):
                    output.write(chunk)
            return
        async with await Ledger.open(Settings.from_env(database_url=database_url)) as ledger:
            installation = await ledger.store.get_installation(client_key)
            values = site_value_reader(await ledger.jira_client(installation))
            chunks = await export_inventory(ledger.store, client_key, export_format, values=values)
            async for chunk in chunks:
                output.write(chunk)

    run_async(run())


main.add_command(removal)
main.add_command(rebuild)
