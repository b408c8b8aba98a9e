"""The Store: opening, closing, and the query methods of every table."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from propledger.errors import StoreUnavailableError
from propledger.store._database import create_engine, database_url_from_env, mask_url, parse_url
from propledger.store._installations import InstallationQueries
from propledger.store._inventory import InventoryQueries
from propledger.store._items import ItemQueries
from propledger.store._jobs import JobQueries
from propledger.store._lifecycle import LifecycleQueries
from propledger.store._schema import metadata
from propledger.store._secrets import SecretCodec

__all__ = ["Store"]

logger = logging.getLogger("propledger.store")

# Key of the PostgreSQL advisory lock that serializes schema creation, so that a web
# server and a worker starting together do not both run CREATE TABLE.
_SCHEMA_LOCK_KEY = 0x70726F706C6564  # "propled" in ASCII


class Store(InstallationQueries, LifecycleQueries, InventoryQueries, JobQueries, ItemQueries):
    """propledger's database: installations, the inventory and removal jobs.

    Open it with :meth:`open` and close it with :meth:`close`, or use it as an async
    context manager. Every method runs in its own transaction.
    """

    def __init__(self, engine: AsyncEngine, url: URL, secrets: SecretCodec | None = None) -> None:
        super().__init__(engine, secrets)
        self._url = url

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        secret_keys: Sequence[str] | None = None,
        must_exist: bool = False,
    ) -> Store:
        """Connect to the database and create the tables that are missing.

        ``url`` defaults to ``PROPLEDGER_DATABASE_URL``, else ``sqlite+aiosqlite:///propledger.db``.
        ``secret_keys`` are the Fernet keys that encrypt shared secrets at rest, the
        first one for new values; they default to ``PROPLEDGER_SECRET_KEY``, and an
        empty sequence stores secrets as plain text. With ``must_exist``, a SQLite file
        that does not exist yet is an error instead of a new empty database, so
        read-only commands do not create one by mistake. Raises
        :class:`~propledger.errors.StoreUnavailableError` when the database cannot be
        opened or reached.
        """
        parsed = parse_url(database_url_from_env() if url is None else url)
        _check_sqlite_file(parsed, must_exist=must_exist)
        secrets = SecretCodec.from_env() if secret_keys is None else SecretCodec(secret_keys)
        engine = create_engine(parsed)
        store = cls(engine, parsed, secrets)
        try:
            await store._create_schema()
        except DBAPIError as exc:
            await engine.dispose()
            raise StoreUnavailableError(
                f"The store at {mask_url(parsed)} cannot be opened: {exc.orig}. Check the "
                "database URL and that the database server is running."
            ) from exc
        except BaseException:
            await engine.dispose()
            raise
        logger.info("Opened the store at %s", store.url)

        return store

    async def _create_schema(self) -> None:
        async with self._write() as conn:
            if self._is_postgresql:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY}
                )
            await conn.run_sync(metadata.create_all)

    @property
    def url(self) -> str:
        """The database URL with any password replaced by ``***``, safe to log."""
        return mask_url(self._url)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()
        logger.info("Closed the store at %s", self.url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Store {self.url}>"


def _check_sqlite_file(url: URL, *, must_exist: bool) -> None:
    # Checking the path first gives a clearer message than SQLite's, and avoids a failed
    # connect, whose aiosqlite worker thread can outlive the event loop.
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(str(url.database))
    if must_exist and not path.is_file():
        raise StoreUnavailableError(
            f"No propledger database exists at {path}. Check --database-url or "
            "PROPLEDGER_DATABASE_URL, or run the app once to create it."
        )
    if not path.parent.is_dir():
        raise StoreUnavailableError(
            f"The store at {path} cannot be opened: the folder {path.parent} does not exist. "
            "Create it, or check --database-url or PROPLEDGER_DATABASE_URL."
        )
