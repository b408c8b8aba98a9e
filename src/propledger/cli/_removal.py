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
@click.option(
    "--sweep",
    is_flag=True,
    help="Also delete each exact key of the key scope from every issue the app can edit, "
    "inventoried or not (PROPLEDGER_SWEEP).",
)
def run_removal(client_key: str, dry_run: bool, yes: bool, sweep: bool) -> None:
    """Delete every inventoried property of an installation from its site.

    Issue properties go in bulk tasks, the rest one request each. With --sweep the
    removal ends with an empty-filter bulk delete of each exact key in the key scope
    (PROPLEDGER_KEYS). That delete reaches every issue the app can see and edit, so it
    also removes those keys where they were written before the app adopted propledger.
    Prefixes are never swept.
    """
    from propledger.ledger import Ledger
    from propledger.removal import Worker, plan_removal, removal_receipt, start_removal
    from propledger.settings import Settings

    async def run() -> dict[str, Any] | None:
        settings = Settings.from_env(sweep=True if sweep else None)
        async with await Ledger.open(settings) as ledger:
            planned = await plan_removal(ledger.store, client_key)
            click.echo(planned.describe())
            if settings.sweep:
                click.echo(_describe_sweep(settings.scope.keys))
            sweeps = settings.sweep and bool(settings.scope.keys)
            if dry_run or not (planned.total or sweeps):
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


def _describe_sweep(keys: frozenset[str]) -> str:
    listed = ", ".join(sorted(keys)) or "none, because the key scope has no exact keys"

    return f"Would also sweep these keys from every issue the app can edit: {listed}."
