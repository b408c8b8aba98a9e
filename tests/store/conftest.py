"""Fixtures that run every store test on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from propledger.store import Store

POSTGRESQL_URL_ENV_VAR = "PROPLEDGER_TEST_POSTGRESQL_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'propledger.db'}"
        return

    server_url = os.environ.get(POSTGRESQL_URL_ENV_VAR)
    if not server_url:
        pytest.skip(
            f"{POSTGRESQL_URL_ENV_VAR} is not set; start a server with "
            f"`export {POSTGRESQL_URL_ENV_VAR}=$(scripts/postgres.sh url)`."
        )

    # Each test gets its own schema, so tests that share the server cannot see each
    # other's rows, and nothing needs to be dropped table by table.
    schema = f"test_{uuid.uuid4().hex}"
    admin = create_async_engine(server_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """An open store on an empty database."""
    store = await Store.open(database_url)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def second_store(database_url: str) -> AsyncIterator[Store]:
    """Another store on the same database, as a second process would open it."""
    store = await Store.open(database_url)
    try:
        yield store
    finally:
        await store.close()
