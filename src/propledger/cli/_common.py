"""Helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from propledger.errors import PropledgerError

if TYPE_CHECKING:
    from propledger.settings import Settings

__all__ = [
    "bind_socket",
    "configure_logging",
    "database_option",
    "load_settings",
    "port_option",
    "run_async",
]

T = TypeVar("T")
FC = TypeVar("FC", bound=Callable[..., Any])

database_option = click.option(
    "--database-url",
    envvar="PROPLEDGER_DATABASE_URL",
    default="sqlite+aiosqlite:///propledger.db",
    show_default=True,
    help="SQLAlchemy URL of the inventory store (PROPLEDGER_DATABASE_URL).",
)


def port_option(default: int) -> Callable[[FC], FC]:
    """Return a ``--port`` option limited to valid TCP ports."""
    return click.option(
        "--port",
        default=default,
        show_default=True,
        type=click.IntRange(1, 65535),
        help="TCP port to listen on.",
    )


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end; a propledger error becomes a one-line CLI error."""
    try:
        return asyncio.run(coroutine)
    except PropledgerError as exc:
        raise click.ClickException(str(exc)) from exc


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket, or raise a CLI error naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"Cannot listen on {host} port {port}: {exc.strerror or exc}. "
            "Pick another --port or stop the program using it."
        ) from exc

    return sock


def load_settings(**overrides: object) -> Settings:
    """Read the settings from ``PROPLEDGER_*`` variables, or raise a one-line CLI error."""
    from propledger.settings import Settings

    try:
        return Settings.from_env(None, **overrides)
    except PropledgerError as exc:
        raise click.ClickException(str(exc)) from exc


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at ``level``, unless logging is configured already (``-v``)."""
    if logging.getLogger().handlers:
        return
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL at INFO, query string and all, and a Connect
    # request can carry a JWT there.
    logging.getLogger("httpx").setLevel(logging.WARNING)
