"""The ``propledger inventory`` commands: summary and export."""

from __future__ import annotations

import json
from typing import Any

import click

from propledger.cli._common import database_option, run_async

__all__ = ["inventory"]

installation_option = click.option(
    "--installation", "client_key", required=True, help="The installation's clientKey."
)


@click.group()
def inventory() -> None:
    """Read the inventory of an installation."""


@inventory.command("summary")
@installation_option
@database_option
def summary(client_key: str, database_url: str) -> None:
    """Print the inventory counts per entity type and state, as JSON."""
    from propledger.store import Store

    async def run() -> dict[str, Any]:
        async with await Store.open(database_url, must_exist=True) as store:
            await store.get_installation(client_key)
            counts = await store.count_inventory(client_key)
        return {
            entity_type.value: {state.value: count for state, count in states.items()}
            for entity_type, states in counts.items()
        }

    click.echo(json.dumps(run_async(run()), indent=2, sort_keys=True))


@inventory.command("export")
@installation_option
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
def export(
    client_key: str, export_format: str, output: Any, with_values: bool, database_url: str
) -> None:
    """Export every inventory row of an installation, without values unless asked."""
    from propledger.export import export_inventory, site_value_reader
    from propledger.ledger import Ledger
    from propledger.settings import Settings
    from propledger.store import Store

    async def run() -> None:
        if not with_values:
            async with await Store.open(database_url, must_exist=True) as store:
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
