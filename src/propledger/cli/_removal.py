"""The ``propledger removal`` commands: plan, run and receipt."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from propledger.cli._common import database_option, load_settings, run_async

if TYPE_CHECKING:
    from propledger.removal import RemovalPlan

__all__ = ["removal"]

_ON = frozenset({"1", "true", "yes", "on"})

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
    click.echo(run_async(_plan(client_key, database_url)).describe())


@removal.command("run")
@installation_option
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; nothing is deleted.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--sweep",
    is_flag=True,
    help="Also delete each exact key of the key scope from every issue the app can edit, "
    "inventoried or not (PROPLEDGER_SWEEP).",
)
@database_option
def run_removal(client_key: str, dry_run: bool, yes: bool, sweep: bool, database_url: str) -> None:
    """Delete every inventoried property of an installation from its site.

    Reads PROPLEDGER_APP_KEY and PROPLEDGER_BASE_URL like serve. Issue properties go in
    bulk tasks, the rest one request each. With --sweep the removal ends with an
    empty-filter bulk delete of each exact key in the key scope (PROPLEDGER_KEYS). That
    delete reaches every issue the app can see and edit, so it also removes those keys
    where they were written before the app adopted propledger. Prefixes are never swept.
    Prints the plan to stderr and the receipt as JSON to stdout. Exits 1 when the
    removal ends with properties it could not remove; the receipt lists them.
    """
    # The plan goes to stderr, so stdout contains only the receipt's JSON.
    planned = run_async(_plan(client_key, database_url))
    click.echo(planned.describe(), err=True)
    sweep_keys = _sweep_keys(sweep)
    if sweep_keys is not None:
        click.echo(_describe_sweep(sweep_keys), err=True)
    if dry_run or not (planned.total or sweep_keys):
        return
    if not yes:
        click.confirm("Delete them? This cannot be undone", default=False, abort=True)
    receipt = run_async(_run(client_key, database_url, sweep))
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


async def _plan(client_key: str, database_url: str) -> RemovalPlan:
    from propledger.removal import plan_removal
    from propledger.store import Store

    async with await Store.open(database_url, must_exist=True) as store:
        return await plan_removal(store, client_key)


async def _run(client_key: str, database_url: str, sweep: bool) -> dict[str, Any]:
    from propledger.ledger import Ledger
    from propledger.removal import Worker, removal_receipt, start_removal
    from propledger.settings import Settings

    settings = Settings.from_env(database_url=database_url, sweep=True if sweep else None)
    async with await Ledger.open(settings) as ledger:
        job, _ = await start_removal(ledger, client_key=client_key, requested_by="operator")
        await Worker(ledger).run_once(job.id)
        return await removal_receipt(ledger.store, job.id, client_key=client_key)


def _sweep_keys(sweep: bool) -> frozenset[str] | None:
    """Return the exact keys a sweep would delete, or None when no sweep is asked for."""
    if not sweep and os.environ.get("PROPLEDGER_SWEEP", "").strip().lower() not in _ON:
        return None

    return load_settings(sweep=True).scope.keys


def _describe_sweep(keys: frozenset[str]) -> str:
    listed = ", ".join(sorted(keys)) or "none, because the key scope has no exact keys"

    return f"Would also sweep these keys from every issue the app can edit: {listed}."
