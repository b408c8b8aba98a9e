"""The ``propledger secrets`` commands: encryption keys for shared secrets at rest."""

from __future__ import annotations

import click

from propledger.cli._common import database_option, run_async

__all__ = ["secrets"]


@click.group()
def secrets() -> None:
    """Manage the Fernet keys in PROPLEDGER_SECRET_KEY that encrypt shared secrets."""


@secrets.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for PROPLEDGER_SECRET_KEY."""
    from propledger.store import generate_secret_key

    click.echo(generate_secret_key())


@secrets.command("rotate")
@database_option
def rotate(database_url: str) -> None:
    """Re-encrypt every stored shared secret with the first key in PROPLEDGER_SECRET_KEY.

    Put the new key first and keep the old keys after it until this command has run.
    Secrets stored as plain text are encrypted too.
    """
    from propledger.store import Store

    async def run() -> int:
        async with await Store.open(database_url) as store:
            return await store.rotate_secrets()

    count = run_async(run())
    noun = "installation" if count == 1 else "installations"
    click.echo(f"Re-encrypted the shared secrets of {count} {noun} with the first key.")
