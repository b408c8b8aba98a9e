"""The ``propledger removal`` commands: plan, run and receipt."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from propledger.cli._common import database_option, run_async

__all__ = ["removal"]

installation_option = click.option(
    "--installation", "client_key", required=True, help="The installation's clientKey."
)


@click.group()
def removal() -> None:
    """Plan, run and inspect removals of an installation's properties."""


@removal.command("plan")
@installation_option
@database_option
def plan(client_key: str, database_url: str) -> None:
    """Print what a removal would delete. Read-only: sends nothing to Jira."""
    click.echo(run_async(_describe_plan(client_key, database_url)))


@removal.command("run")
@installation_option
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; nothing is deleted.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_option
def run_removal(client_key: str, dry_run: bool, yes: bool, database_url: str) -> None:
    """Delete every inventoried property of an installation from its site.

    Reads PROPLEDGER_APP_KEY and PROPLEDGER_BASE_URL like serve. Exits 1 when the
    removal ends with properties it could not remove; the receipt lists them.
    """
    click.echo(run_async(_describe_plan(client_key, database_url)))
    if dry_run:
        return
    if not yes:
        click.confirm("Delete them? This cannot be undone", default=False, abort=True)
    receipt = run_async(_run(client_key, database_url))
    click.echo(json.dumps(receipt, indent=2))
    if receipt["state"] != "completed":
        missed = len(receipt["not_removed"])
        noun = "property was" if missed == 1 else "properties were"
        click.echo(
            f"Removal {receipt['id']} ended {receipt['state']}: {missed} {noun} not removed. "
            "The receipt lists each with its reason.",
            err=True,
        )
        sys.exit(1)


@removal.command("receipt")
@click.argument("job_id")
@database_option
def receipt(job_id: str, database_url: str) -> None:
    """Print the receipt of a removal as JSON."""
    from propledger.removal import removal_receipt
    from propledger.store import Store

    async def run() -> dict[str, Any]:
        async with await Store.open(database_url, must_exist=True) as store:
            job = await store.get_job(job_id)
            return await removal_receipt(store, job.id, client_key=job.client_key)

    click.echo(json.dumps(run_async(run()), indent=2))


async def _describe_plan(client_key: str, database_url: str) -> str:
    from propledger.removal import plan_removal
    from propledger.store import Store

    async with await Store.open(database_url, must_exist=True) as store:
        return (await plan_removal(store, client_key)).describe()


async def _run(client_key: str, database_url: str) -> dict[str, Any]:
    from propledger.ledger import Ledger
    from propledger.removal import Worker, removal_receipt, start_removal
    from propledger.settings import Settings

    async with await Ledger.open(Settings.from_env(database_url=database_url)) as ledger:
        job, _ = await start_removal(ledger, client_key=client_key, requested_by="operator")
        await Worker(ledger).run_once(job.id)
        return await removal_receipt(ledger.store, job.id, client_key=client_key)
