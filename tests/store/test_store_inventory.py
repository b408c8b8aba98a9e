"""The inventory: upserts, state changes, counts and keyset iteration."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

import pytest
from sqlalchemy import event

from propledger.errors import ConfigurationError
from propledger.model import EntityType, InventoryRow, PropertyRef, RowSource, RowState
from propledger.store._schema import inventory

ISSUE_FLAG = PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag")
USER_PREFS = PropertyRef(EntityType.USER, "5b10ac8d82e05b22cc7d4ef5", "com.acme.prefs")
HASH_A = "a" * 64
HASH_B = "b" * 64


async def test_record_pending_new(store):
    before = dt.datetime.now(dt.UTC)

    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row == InventoryRow(
        client_key="tenant-a",
        ref=ISSUE_FLAG,
        state=RowState.PENDING,
        source=RowSource.WRITE,
        first_written_at=row.first_written_at,
        last_written_at=row.first_written_at,
        value_sha256=HASH_A,
        value_size=12,
        removed_at=None,
    )
    assert before <= row.first_written_at <= dt.datetime.now(dt.UTC)


async def test_record_pending_existing_row(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    await store.mark_removed("tenant-a", ISSUE_FLAG)
    first = await store.get_row("tenant-a", ISSUE_FLAG)

    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_B, value_size=30)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row == dataclasses.replace(
        first,
        state=RowState.PENDING,
        value_sha256=HASH_B,
        value_size=30,
        last_written_at=row.last_written_at,
        removed_at=None,
    )
    assert row.first_written_at == first.first_written_at
    assert row.last_written_at > first.last_written_at


async def test_record_pending_keeps_source(store):
    await store.record_found("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)

    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_B, value_size=30)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row.source is RowSource.SCAN
    assert row.state is RowState.PENDING


async def test_record_pending_source_scan(store):
    await store.record_pending(
        "tenant-a", ISSUE_FLAG, value_sha256=None, value_size=None, source=RowSource.SCAN
    )

    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row.source is RowSource.SCAN
    assert row.value_sha256 is None
    assert row.value_size is None


async def test_record_pending_concurrent(store, second_store):
    writes = [
        (store if n % 2 else second_store).record_pending(
            "tenant-a", ISSUE_FLAG, value_sha256=f"{n:064x}", value_size=n
        )
        for n in range(20)
    ]

    await asyncio.gather(*writes)

    counts = await store.count_inventory("tenant-a")
    assert counts == {EntityType.ISSUE: {RowState.PENDING: 1}}


async def test_record_pending_installations_apart(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    await store.record_pending("tenant-b", ISSUE_FLAG, value_sha256=HASH_B, value_size=30)

    row_a = await store.get_row("tenant-a", ISSUE_FLAG)
    row_b = await store.get_row("tenant-b", ISSUE_FLAG)

    assert row_a.value_sha256 == HASH_A
    assert row_b.value_sha256 == HASH_B


async def test_mark_present_keeps_hash(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    pending = await store.get_row("tenant-a", ISSUE_FLAG)

    await store.mark_present("tenant-a", ISSUE_FLAG)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row == dataclasses.replace(pending, state=RowState.PRESENT)


async def test_mark_present_sets_hash(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=None, value_size=None)

    await store.mark_present("tenant-a", ISSUE_FLAG, value_sha256=HASH_B, value_size=30)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row.state is RowState.PRESENT
    assert row.value_sha256 == HASH_B
    assert row.value_size == 30


async def test_mark_present_after_removed(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    await store.mark_removed("tenant-a", ISSUE_FLAG)

    await store.mark_present("tenant-a", ISSUE_FLAG)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row.state is RowState.PRESENT
    assert row.removed_at is None


@pytest.mark.parametrize(
    ("method", "state"),
    [("mark_removed", RowState.REMOVED), ("mark_gone", RowState.GONE)],
)
async def test_mark_absent(store, method, state):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    pending = await store.get_row("tenant-a", ISSUE_FLAG)
    before = dt.datetime.now(dt.UTC)

    await getattr(store, method)("tenant-a", ISSUE_FLAG)
    row = await store.get_row("tenant-a", ISSUE_FLAG)

    assert row == dataclasses.replace(pending, state=state, removed_at=row.removed_at)
    assert before <= row.removed_at <= dt.datetime.now(dt.UTC)


async def test_mark_missing_row_warns(store, caplog):
    caplog.set_level(logging.WARNING, logger="propledger.store")

    await store.mark_present("tenant-a", ISSUE_FLAG)

    assert await store.get_row("tenant-a", ISSUE_FLAG) is None
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        (
            "WARNING",
            "No inventory row of issue 10001 property 'com.acme.flag' for tenant-a to mark present",
        )
    ]


async def test_record_found_new(store):
    added = await store.record_found("tenant-a", USER_PREFS, value_sha256=HASH_A, value_size=7)
    row = await store.get_row("tenant-a", USER_PREFS)

    assert added is True
    assert row == InventoryRow(
        client_key="tenant-a",
        ref=USER_PREFS,
        state=RowState.PRESENT,
        source=RowSource.SCAN,
        first_written_at=row.first_written_at,
        last_written_at=row.first_written_at,
        value_sha256=HASH_A,
        value_size=7,
    )


async def test_record_found_existing(store):
    await store.record_pending("tenant-a", USER_PREFS, value_sha256=HASH_A, value_size=7)
    existing = await store.get_row("tenant-a", USER_PREFS)

    added = await store.record_found("tenant-a", USER_PREFS, value_sha256=HASH_B, value_size=9)
    row = await store.get_row("tenant-a", USER_PREFS)

    assert added is False
    assert row == existing


async def test_last_found_by_scan_none(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    await store.record_found("tenant-b", USER_PREFS, value_sha256=HASH_A, value_size=7)

    assert await store.last_found_by_scan("tenant-a") is None


async def test_last_found_by_scan_latest(store):
    await store.record_found("tenant-a", ISSUE_FLAG, value_sha256=HASH_A, value_size=12)
    await store.record_found("tenant-a", USER_PREFS, value_sha256=HASH_B, value_size=7)
    await store.record_pending(
        "tenant-a",
        PropertyRef(EntityType.APP, "com.acme", "com.acme.config"),
        value_sha256=HASH_A,
        value_size=3,
    )
    latest = await store.get_row("tenant-a", USER_PREFS)

    found = await store.last_found_by_scan("tenant-a")

    assert found == latest.first_written_at
    assert found.tzinfo is not None


async def test_get_row_missing(store):
    await store.record_pending("tenant-a", ISSUE_FLAG, value_sha256=None, value_size=None)

    assert await store.get_row("tenant-b", ISSUE_FLAG) is None
    assert await store.get_row("tenant-a", USER_PREFS) is None


async def test_count_inventory(store):
    for n in range(3):
        ref = PropertyRef(EntityType.ISSUE, str(10000 + n), "com.acme.flag")
        await store.record_pending("tenant-a", ref, value_sha256=None, value_size=None)
    await store.mark_present("tenant-a", PropertyRef(EntityType.ISSUE, "10000", "com.acme.flag"))
    await store.mark_removed("tenant-a", PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag"))
    await store.record_found("tenant-a", USER_PREFS, value_sha256=None, value_size=None)
    app_ref = PropertyRef(EntityType.APP, "com.acme.app", "com.acme.settings")
    await store.record_found("tenant-a", app_ref, value_sha256=None, value_size=None)
    await store.mark_gone("tenant-a", app_ref)
    await store.record_pending("tenant-b", ISSUE_FLAG, value_sha256=None, value_size=None)

    counts = await store.count_inventory("tenant-a")

    assert counts == {
        EntityType.ISSUE: {RowState.PENDING: 1, RowState.PRESENT: 1, RowState.REMOVED: 1},
        EntityType.USER: {RowState.PRESENT: 1},
        EntityType.APP: {RowState.GONE: 1},
    }


async def test_count_inventory_empty(store):
    assert await store.count_inventory("tenant-a") == {}


async def insert_rows(store, client_key, count, *, state=RowState.PRESENT):
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "client_key": client_key,
            "entity_type": EntityType.ISSUE,
            "entity_id": str(10000 + n),
            "property_key": "com.acme.flag",
            "state": state,
            "source": RowSource.WRITE,
            "first_written_at": now,
            "last_written_at": now,
        }
        for n in range(count)
    ]
    async with store._writer.begin() as conn:
        await conn.execute(inventory.insert(), rows)


def count_inventory_selects(store):
    statements = []

    @event.listens_for(store._engine.sync_engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT") and "FROM inventory" in statement:
            statements.append(statement)

    return statements


async def test_iter_inventory_pages(store):
    await insert_rows(store, "tenant-a", 2500)
    await insert_rows(store, "tenant-b", 10)
    selects = count_inventory_selects(store)

    rows = [row async for row in store.iter_inventory("tenant-a", batch_size=1000)]

    assert [row.ref.entity_id for row in rows] == [str(10000 + n) for n in range(2500)]
    assert {row.client_key for row in rows} == {"tenant-a"}
    assert len(selects) == 3


async def test_iter_inventory_exact_batches(store):
    await insert_rows(store, "tenant-a", 4)
    selects = count_inventory_selects(store)

    rows = [row async for row in store.iter_inventory("tenant-a", batch_size=2)]

    assert len(rows) == 4
    assert len(selects) == 3


async def test_iter_inventory_states(store):
    await insert_rows(store, "tenant-a", 5)
    await store.mark_removed("tenant-a", PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag"))
    await store.mark_gone("tenant-a", PropertyRef(EntityType.ISSUE, "10003", "com.acme.flag"))

    rows = [
        row
        async for row in store.iter_inventory(
            "tenant-a", states=[RowState.PENDING, RowState.PRESENT], batch_size=2
        )
    ]

    assert [row.ref.entity_id for row in rows] == ["10000", "10002", "10004"]


async def test_iter_inventory_allows_writes(store, second_store):
    await insert_rows(store, "tenant-a", 4)
    seen = []

    async for row in store.iter_inventory("tenant-a", batch_size=2):
        seen.append(row.ref.entity_id)
        await second_store.mark_removed("tenant-a", row.ref)

    assert seen == ["10000", "10001", "10002", "10003"]
    assert await store.count_inventory("tenant-a") == {EntityType.ISSUE: {RowState.REMOVED: 4}}


async def test_iter_inventory_empty(store):
    assert [row async for row in store.iter_inventory("tenant-a")] == []


async def test_iter_inventory_batch_size_invalid(store):
    with pytest.raises(ConfigurationError) as caught:
        async for _ in store.iter_inventory("tenant-a", batch_size=0):
            pass

    assert str(caught.value) == "batch_size must be at least 1, got 0."
