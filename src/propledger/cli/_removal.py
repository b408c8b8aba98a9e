"""The ``propledger removal`` commands: plan, run, status and receipt."""

from __future__ import annotations

import json
from typing import Any

import click

from propledger.cli._common import run_async

__all__ = ["removal"]


@click.group()
def removal() -> None:
    """Plan, run and inspect removals. Reads PROPLEDGER_* settings like serve."""


@removal.command("plan")
@click.option("--installation", "client_key", required=True, help="The installation's clientKey.")
def plan(client_key: str) -> None:
    """Print what a removal would delete. Read-only: sends nothing to Jira."""
    from propledger.removal import plan_removal
    from propledger.store import Store, database_url_from_env

    async def run() -> str:
        async with await Store.open(database_url_from_env()) as store:
            return (await plan_removal(store, client_key)).describe()

    click.echo(run_async(run()))


@removal.command("run")
@click.option("--installation", "client_key", required=True, help="The installation's clientKey.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def run_removal(client_key: str, dry_run: bool, yes: bool) -> None:
    """Delete every inventoried property of an installation from its site."""
    from propledger.ledger import Ledger
    from propledger.removal import Worker, plan_removal, removal_receipt, start_removal
    from propledger.settings import Settings

    async def run() -> dict[str, Any] | None:
        async with await Ledger.open(Settings.from_env()) as ledger:
            planned = await plan_removal(ledger.store, client_key)
            click.echo(planned.describe())
            if dry_run or not planned.total:
                return None
            if not yes and not click.confirm("Delete them? This cannot be undone", default=False):
                return None
            job, _ = await start_removal(ledger, client_key=client_key, requested_by="operator")
            await Worker(ledger).run_once(job.id)
            return await removal_receipt(ledger.store, job.id, client_key=client_key)

    receipt = run_async(run())
    if receipt is not None:
        click.echo(json.dumps(receipt, indent=2))


@removal.command("receipt")
@click.argument("job_id")
def receipt(job_id: str) -> None:
    """Print the receipt of a removal as JSON."""
    from propledger.removal import removal_receipt
    from propledger.store import Store, database_url_from_env

    async def run() -> dict[str, Any]:
        async with await Store.open(database_url_from_env()) as store:
            job = await store.get_job(job_id)
            return await removal_receipt(store, job.id, client_key=job.client_key)

    click.echo(json.dumps(run_async(run()), indent=2))
