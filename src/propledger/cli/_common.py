"""Helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from propledger.errors import PropledgerError

__all__ = ["database_option", "run_async"]

T = TypeVar("T")

database_option = click.option(
    "--database-url",
    envvar="PROPLEDGER_DATABASE_URL",
    default="sqlite+aiosqlite:///propledger.db",
    show_default=True,
    help="SQLAlchemy URL of the inventory store (PROPLEDGER_DATABASE_URL).",
)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end; a propledger error becomes a one-line CLI error."""
    try:
        return asyncio.run(coroutine)
    except PropledgerError as exc:
        raise click.ClickException(str(exc)) from exc
