"""Database URLs and engines: SQLite through aiosqlite, PostgreSQL through psycopg 3."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from propledger.errors import ConfigurationError

__all__ = [
    "DATABASE_URL_ENV_VAR",
    "DEFAULT_DATABASE_URL",
    "SQLITE_BUSY_TIMEOUT_MS",
    "WRITE_OPTION",
    "create_engine",
    "database_url_from_env",
    "mask_url",
    "parse_url",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///propledger.db"
"""The database used when neither an argument nor the environment names one."""

DATABASE_URL_ENV_VAR = "PROPLEDGER_DATABASE_URL"

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for another process's write lock, in milliseconds."""

WRITE_OPTION = "propledger_write"
"""Execution option that marks a transaction as a writer (BEGIN IMMEDIATE on SQLite)."""

# Plain driver names map to the async drivers propledger ships with.
_DRIVER_ALIASES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
}


def database_url_from_env() -> str:
    """Return ``PROPLEDGER_DATABASE_URL`` if it is set and not empty, else the default."""
    return os.environ.get(DATABASE_URL_ENV_VAR) or DEFAULT_DATABASE_URL


def parse_url(url: str) -> URL:
    """Parse a database URL and switch plain ``sqlite``/``postgresql`` to the async drivers.

    Raises ConfigurationError for text that is not a URL or names another database. The
    message leaves the URL out, because it may contain a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"The database URL in {DATABASE_URL_ENV_VAR} or --database-url is not a valid "
            f"SQLAlchemy URL. Use a URL such as {DEFAULT_DATABASE_URL!r}."
        ) from exc

    driver = _DRIVER_ALIASES.get(parsed.drivername)
    if driver is None:
        raise ConfigurationError(
            f"The database driver {parsed.drivername!r} is not supported. "
            "Use sqlite+aiosqlite or postgresql+psycopg."
        )

    return parsed.set(drivername=driver)


def mask_url(url: URL) -> str:
    """Return the URL as text for logs and messages, with any password replaced by ``***``."""
    if "password" in url.query:
        url = url.update_query_dict({"password": "***"})

    return url.render_as_string(hide_password=True)


def create_engine(url: URL) -> AsyncEngine:
    """Create the async engine, with SQLite set up for several processes sharing one file.

    Statement parameters and result rows, which include shared secrets, are left out
    of the logs of SQLAlchemy and aiosqlite, even at DEBUG, and out of error messages.
    """
    engine = create_async_engine(url, hide_parameters=True)
    _add_filter("sqlalchemy.engine.Engine", _ResultRowFilter)
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, in_memory=url.database in (None, "", ":memory:"))
        _add_filter("aiosqlite", _StatementParameterFilter)

    return engine


class _ResultRowFilter(logging.Filter):
    """Replaces the values of the result rows that SQLAlchemy logs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Row "):
            record.msg = "Row (values hidden)"
            record.args = ()

        return True


class _StatementParameterFilter(logging.Filter):
    """Removes the bound parameters from aiosqlite's DEBUG records, keeping the SQL text.

    aiosqlite logs every call it runs, arguments included, so without this filter the
    parameters of an INSERT, such as a shared secret, reach any DEBUG log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_describe_call(arg) for arg in record.args)

        return True


def _describe_call(arg: object) -> object:
    if not isinstance(arg, functools.partial):
        return arg
    name = getattr(arg.func, "__name__", "call")
    statement = arg.args[0] if arg.args and isinstance(arg.args[0], str) else None

    return f"{name}({statement!r}, ...)" if statement is not None else f"{name}(...)"


def _add_filter(logger_name: str, filter_class: type[logging.Filter]) -> None:
    # Added once per process: every engine's records pass through the same logger.
    target = logging.getLogger(logger_name)
    if not any(isinstance(item, filter_class) for item in target.filters):
        target.addFilter(filter_class())


def _configure_sqlite(engine: AsyncEngine, *, in_memory: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (see on_begin), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            # WAL lets a web server read while a worker writes to the same file.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        # A writer takes the write lock at BEGIN. A deferred transaction that reads and
        # then writes could fail with "database is locked" without waiting for the
        # busy timeout, and read-then-write checks would not be atomic.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
