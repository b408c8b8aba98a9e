"""Opening the store: database URLs, SQLite settings, schema creation and timestamps."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError

from propledger.errors import ConfigurationError, StoreUnavailableError
from propledger.model import EntityType, Installation, PropertyRef
from propledger.store import DEFAULT_DATABASE_URL, Store, database_url_from_env
from propledger.store._database import mask_url, parse_url
from propledger.store._schema import inventory


def test_database_url_from_env_default(monkeypatch):
    monkeypatch.delenv("PROPLEDGER_DATABASE_URL", raising=False)

    assert database_url_from_env() == "sqlite+aiosqlite:///propledger.db"
    assert DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///propledger.db"


def test_database_url_from_env_set(monkeypatch):
    monkeypatch.setenv("PROPLEDGER_DATABASE_URL", "postgresql+psycopg://app@db.test/ledger")

    assert database_url_from_env() == "postgresql+psycopg://app@db.test/ledger"


def test_database_url_from_env_empty(monkeypatch):
    monkeypatch.setenv("PROPLEDGER_DATABASE_URL", "")

    assert database_url_from_env() == DEFAULT_DATABASE_URL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        ("sqlite+aiosqlite:///a.db", "sqlite+aiosqlite:///a.db"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_parse_url_drivers(url, expected):
    assert parse_url(url).render_as_string() == expected


def test_parse_url_unsupported_driver():
    with pytest.raises(ConfigurationError) as caught:
        parse_url("mysql+aiomysql://u:hunter2@h/d")

    assert str(caught.value) == (
        "The database driver 'mysql+aiomysql' is not supported. "
        "Use sqlite+aiosqlite or postgresql+psycopg."
    )


def test_parse_url_invalid_hides_text():
    with pytest.raises(ConfigurationError) as caught:
        parse_url("not a url hunter2")

    assert str(caught.value) == (
        "The database URL in PROPLEDGER_DATABASE_URL or --database-url is not a valid "
        "SQLAlchemy URL. "
        "Use a URL such as 'sqlite+aiosqlite:///propledger.db'."
    )


def test_mask_url_password():
    url = make_url("postgresql+psycopg://app:hunter2@db.test:5432/ledger")

    assert mask_url(url) == "postgresql+psycopg://app:***@db.test:5432/ledger"


def test_mask_url_password_in_query():
    url = make_url("postgresql+psycopg://app@db.test/ledger?password=hunter2&sslmode=require")

    masked = mask_url(url)

    assert "hunter2" not in masked
    assert masked == "postgresql+psycopg://app@db.test/ledger?password=%2A%2A%2A&sslmode=require"


async def test_open_url_property(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"

    async with await Store.open(url) as store:
        assert store.url == url
        assert repr(store) == f"<Store {url}>"


async def test_open_from_env(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("PROPLEDGER_DATABASE_URL", url)

    async with await Store.open() as store:
        assert store.url == url
    assert (tmp_path / "env.db").exists()


async def test_open_logs_masked_url(tmp_path, caplog):
    url = f"sqlite+aiosqlite:///{tmp_path / 'log.db'}"
    caplog.set_level(logging.INFO, logger="propledger.store")

    store = await Store.open(url)
    await store.close()

    assert [record.getMessage() for record in caplog.records] == [
        f"Opened the store at {url}",
        f"Closed the store at {url}",
    ]


async def test_open_twice_keeps_rows(database_url):
    ref = PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag")
    async with await Store.open(database_url) as first:
        await first.record_pending("tenant-a", ref, value_sha256=None, value_size=None)

    async with await Store.open(database_url) as second:
        row = await second.get_row("tenant-a", ref)

    assert row is not None
    assert row.ref == ref


async def test_sqlite_pragmas(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    async with store, store._engine.connect() as conn:
        journal_mode = await conn.scalar(text("PRAGMA journal_mode"))
        foreign_keys = await conn.scalar(text("PRAGMA foreign_keys"))
        busy_timeout = await conn.scalar(text("PRAGMA busy_timeout"))

    assert journal_mode == "wal"
    assert foreign_keys == 1
    assert busy_timeout == 10_000


async def test_sqlite_memory_database():
    async with await Store.open("sqlite+aiosqlite://") as store:
        ref = PropertyRef(EntityType.USER, "5b10ac8d82e05b22cc7d4ef5", "com.acme.prefs")
        await store.record_pending("tenant-a", ref, value_sha256=None, value_size=None)

        row = await store.get_row("tenant-a", ref)

    assert row is not None


async def test_timestamps_aware_utc(store):
    ref = PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag")
    before = dt.datetime.now(dt.UTC)
    await store.record_pending("tenant-a", ref, value_sha256=None, value_size=None)
    after = dt.datetime.now(dt.UTC)

    row = await store.get_row("tenant-a", ref)

    assert row.first_written_at.tzinfo is dt.UTC
    assert before <= row.first_written_at <= after


async def test_timestamps_converted_to_utc(store):
    plus_two = dt.timezone(dt.timedelta(hours=2))
    installed_at = dt.datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    inst = Installation("tenant-a", "https://acme.jira.test", "s3cret", installed_at=installed_at)

    await store.save_installation(inst)
    stored = await store.get_installation("tenant-a")

    assert stored.installed_at == dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    assert stored.installed_at.tzinfo is dt.UTC


async def test_timestamps_naive_rejected(store):
    naive = dt.datetime(2026, 3, 1, 12, 0)
    inst = Installation("tenant-a", "https://acme.jira.test", "s3cret", installed_at=naive)

    with pytest.raises(StatementError) as caught:
        await store.save_installation(inst)

    assert isinstance(caught.value.orig, ValueError)
    assert str(caught.value.orig) == (
        "The datetime 2026-03-01T12:00:00 has no time zone. "
        "Pass an aware datetime such as propledger.model.utcnow()."
    )


async def test_sqlite_timestamps_stored_as_utc_text(tmp_path):
    async with await Store.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}") as store:
        ref = PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag")
        await store.record_pending("tenant-a", ref, value_sha256=None, value_size=None)
        row = await store.get_row("tenant-a", ref)
        async with store._engine.connect() as conn:
            raw = await conn.scalar(select(text("first_written_at")).select_from(inventory))

    assert raw == row.first_written_at.strftime("%Y-%m-%d %H:%M:%S.%f")


async def test_open_must_exist_missing_file(tmp_path):
    path = tmp_path / "missing.db"

    with pytest.raises(StoreUnavailableError) as caught:
        await Store.open(f"sqlite+aiosqlite:///{path}", must_exist=True)

    assert str(caught.value) == (
        f"No propledger database exists at {path}. Check --database-url or "
        "PROPLEDGER_DATABASE_URL, or run the app once to create it."
    )
    assert not path.exists()


async def test_open_missing_folder(tmp_path):
    path = tmp_path / "no-such-folder" / "x.db"

    with pytest.raises(StoreUnavailableError) as caught:
        await Store.open(f"sqlite+aiosqlite:///{path}")

    assert str(caught.value) == (
        f"The store at {path} cannot be opened: the folder {path.parent} does not exist. "
        "Create it, or check --database-url or PROPLEDGER_DATABASE_URL."
    )
