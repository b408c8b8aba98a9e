"""The engine access every group of store methods shares."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from propledger.store._database import WRITE_OPTION
from propledger.store._secrets import SecretCodec

__all__ = ["StoreBase", "UpsertInsert"]

UpsertInsert = sqlite.Insert | postgresql.Insert


class StoreBase:
    """Holds the engine and opens read and write transactions on it.

    ``secrets`` turns shared secrets into stored values and back; without it they are
    stored as plain text.
    """

    def __init__(self, engine: AsyncEngine, secrets: SecretCodec | None = None) -> None:
        self._engine = engine
        self._secrets = secrets or SecretCodec()
        # SQLAlchemy reports rowcount for INSERT only when asked to preserve it, and
        # record_found and add_job_items return that count.
        self._writer = engine.execution_options(**{WRITE_OPTION: True}, preserve_rowcount=True)

    @property
    def _is_postgresql(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Open a connection for reading. Its transaction is rolled back on exit."""
        return self._engine.connect()

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Open a write transaction, committed on exit unless an exception escapes."""
        return self._writer.begin()

    def _insert(self, table: Table) -> UpsertInsert:
        """Start an INSERT that supports ON CONFLICT on the engine's dialect."""
        if self._is_postgresql:
            return postgresql.insert(table)

        return sqlite.insert(table)
