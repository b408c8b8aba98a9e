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
@database_option
def export(client_key: str, export_format: str, output: Any, database_url: str) -> None:
    """Export every inventory row of an installation; values are never included."""
    from propledger.export import export_inventory
    from propledger.store import Store

    async def run() -> None:
        async with await Store.open(database_url, must_exist=True) as store:
            await store.get_installation(client_key)
            async for chunk in await export_inventory(store, client_key, export_format):
                output.write(chunk)

    run_async(run())
