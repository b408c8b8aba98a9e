"""The items of a removal job: adding, claiming, finishing, releasing and counting."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

import pytest
from sqlalchemy import select

from propledger.errors import ConfigurationError, RemovalNotFoundError
from propledger.model import (
    EntityType,
    ItemState,
    Outcome,
    PropertyRef,
    RemovalItem,
    RowState,
)
from propledger.store._schema import removal_items

ADMIN = "5b10a2844c20165700ede21g"


def issue(entity_id: str, key: str = "com.acme.flag") -> PropertyRef:
    return PropertyRef(EntityType.ISSUE, entity_id, key)


USER_PREFS = PropertyRef(EntityType.USER, "5b10ac8d82e05b22cc7d4ef5", "com.acme.prefs")
APP_SETTINGS = PropertyRef(EntityType.APP, "com.acme.app", "com.acme.settings")


async def write(store, client_key, ref, state=RowState.PRESENT):
    await store.record_pending(client_key, ref, value_sha256=None, value_size=None)
    if state is RowState.PRESENT:
        await store.mark_present(client_key, ref)
    elif state is RowState.REMOVED:
        await store.mark_removed(client_key, ref)
    elif state is RowState.GONE:
        await store.mark_gone(client_key, ref)


async def job_with_items(store, refs, client_key="tenant-a"):
    for ref in refs:
        await write(store, client_key, ref)
    job, _ = await store.create_job(client_key, ADMIN)
    await store.add_job_items(job.id)

    return job


async def item_columns(store, job_id, *columns):
    statement = (
        select(removal_items.c.entity_id, *(removal_items.c[name] for name in columns))
        .where(removal_items.c.job_id == job_id)
        .order_by(removal_items.c.entity_id)
    )
    async with store._engine.connect() as conn:
        rows = (await conn.execute(statement)).all()

    return {row[0]: tuple(row[1:]) for row in rows}


async def test_add_job_items_selects_rows(store):
    await write(store, "tenant-a", issue("10001"), RowState.PENDING)
    await write(store, "tenant-a", issue("10002"), RowState.PRESENT)
    await write(store, "tenant-a", issue("10003"), RowState.REMOVED)
    await write(store, "tenant-a", issue("10004"), RowState.GONE)
    await write(store, "tenant-a", USER_PREFS, RowState.PRESENT)
    await write(store, "tenant-b", issue("10005"), RowState.PRESENT)
    job, _ = await store.create_job("tenant-a", ADMIN)

    added = await store.add_job_items(job.id)
    items = await store.list_items(job.id)

    assert added == 3
    assert items == [
        RemovalItem(job.id, issue("10001"), ItemState.PENDING),
        RemovalItem(job.id, issue("10002"), ItemState.PENDING),
        RemovalItem(job.id, USER_PREFS, ItemState.PENDING),
    ]


async def test_add_job_items_idempotent(store):
    job = await job_with_items(store, [issue("10001"), issue("10002")])

    again = await store.add_job_items(job.id)
    await write(store, "tenant-a", issue("10003"), RowState.PENDING)
    later = await store.add_job_items(job.id)

    assert again == 0
    assert later == 1
    assert [item.ref for item in await store.list_items(job.id)] == [
        issue("10001"),
        issue("10002"),
        issue("10003"),
    ]


async def test_add_job_items_keeps_finished(store):
    job = await job_with_items(store, [issue("10001")])
    await store.claim_items(job.id, limit=10)
    await store.finish_item(job.id, issue("10001"), Outcome.FAILED, "HTTP 500")

    added = await store.add_job_items(job.id)

    assert added == 0
    assert (await store.list_items(job.id))[0].state is ItemState.DONE


async def test_add_job_items_missing_job(store):
    with pytest.raises(RemovalNotFoundError) as caught:
        await store.add_job_items("missing")

    assert str(caught.value) == (
        "No removal job 'missing' was found for this installation. "
        "Check the job id, or start a new removal."
    )


async def test_claim_items_order_and_limit(store):
    job = await job_with_items(store, [issue("10003"), USER_PREFS, issue("10001"), APP_SETTINGS])
    before = dt.datetime.now(dt.UTC)

    first = await store.claim_items(job.id, limit=3)
    second = await store.claim_items(job.id, limit=3)
    third = await store.claim_items(job.id, limit=3)

    assert first == [
        RemovalItem(job.id, APP_SETTINGS, ItemState.IN_FLIGHT),
        RemovalItem(job.id, issue("10001"), ItemState.IN_FLIGHT),
        RemovalItem(job.id, issue("10003"), ItemState.IN_FLIGHT),
    ]
    assert second == [RemovalItem(job.id, USER_PREFS, ItemState.IN_FLIGHT)]
    assert third == []
    columns = await item_columns(store, job.id, "attempts", "started_at")
    assert {attempts for attempts, _ in columns.values()} == {1}
    assert all(started_at >= before for _, started_at in columns.values())


async def test_claim_items_entity_types(store):
    job = await job_with_items(store, [issue("10001"), USER_PREFS, APP_SETTINGS])

    claimed = await store.claim_items(
        job.id, limit=10, entity_types=[EntityType.USER, EntityType.APP]
    )
    rest = await store.list_items(job.id)

    assert [item.ref for item in claimed] == [APP_SETTINGS, USER_PREFS]
    assert [(item.ref, item.state) for item in rest] == [
        (APP_SETTINGS, ItemState.IN_FLIGHT),
        (issue("10001"), ItemState.PENDING),
        (USER_PREFS, ItemState.IN_FLIGHT),
    ]


async def test_claim_items_concurrent_disjoint(store, second_store):
    job = await job_with_items(store, [issue(str(10000 + n)) for n in range(30)])
    claims = [(store, second_store)[n % 2].claim_items(job.id, limit=5) for n in range(8)]

    results = await asyncio.gather(*claims)

    refs = [item.ref for batch in results for item in batch]
    assert len(refs) == 30
    assert len(set(refs)) == 30


async def test_claim_items_limit_invalid(store):
    with pytest.raises(ConfigurationError) as caught:
        await store.claim_items("any", limit=0)

    assert str(caught.value) == "limit must be at least 1, got 0."


@pytest.mark.parametrize("outcome", [Outcome.DELETED, Outcome.GONE])
async def test_finish_item_removed(store, outcome):
    job = await job_with_items(store, [issue("10001")])
    await store.claim_items(job.id, limit=10)
    before = dt.datetime.now(dt.UTC)

    await store.finish_item(job.id, issue("10001"), outcome)
    item = (await store.list_items(job.id))[0]
    row = await store.get_row("tenant-a", issue("10001"))

    assert item == RemovalItem(
        job.id, issue("10001"), ItemState.DONE, outcome, None, item.finished_at
    )
    assert before <= item.finished_at <= dt.datetime.now(dt.UTC)
    assert row.state is RowState.REMOVED
    assert row.removed_at == item.finished_at


@pytest.mark.parametrize("outcome", [Outcome.NOT_VERIFIED, Outcome.FORBIDDEN, Outcome.FAILED])
async def test_finish_item_not_removed(store, outcome):
    job = await job_with_items(store, [issue("10001")])
    row_before = await store.get_row("tenant-a", issue("10001"))
    await store.claim_items(job.id, limit=10)

    await store.finish_item(job.id, issue("10001"), outcome, "Jira returned 404")
    item = (await store.list_items(job.id))[0]
    row = await store.get_row("tenant-a", issue("10001"))

    assert (item.state, item.outcome, item.detail) == (
        ItemState.DONE,
        outcome,
        "Jira returned 404",
    )
    assert row == row_before


async def test_finish_item_rewritten_during_removal(store, caplog):
    job = await job_with_items(store, [issue("10001")])
    await store.claim_items(job.id, limit=10)
    await store.record_pending("tenant-a", issue("10001"), value_sha256=None, value_size=None)
    caplog.set_level(logging.WARNING, logger="propledger.store")

    await store.finish_item(job.id, issue("10001"), Outcome.DELETED)
    row = await store.get_row("tenant-a", issue("10001"))

    assert row.state is RowState.PENDING
    assert [record.getMessage() for record in caplog.records] == [
        "Left the inventory row of issue 10001 property 'com.acme.flag' for tenant-a "
        "unchanged, because it is missing or was written again during the removal"
    ]


async def test_finish_item_other_installation_row(store):
    await write(store, "tenant-b", issue("10001"))
    job = await job_with_items(store, [issue("10001")])
    await store.claim_items(job.id, limit=10)

    await store.finish_item(job.id, issue("10001"), Outcome.DELETED)

    assert (await store.get_row("tenant-a", issue("10001"))).state is RowState.REMOVED
    assert (await store.get_row("tenant-b", issue("10001"))).state is RowState.PRESENT


async def test_finish_item_missing_item(store):
    job = await job_with_items(store, [issue("10001")])

    with pytest.raises(RemovalNotFoundError) as caught:
        await store.finish_item(job.id, issue("10002"), Outcome.DELETED)

    assert str(caught.value) == (
        f"Removal job {job.id!r} has no item for issue 10002 property 'com.acme.flag'. "
        "Add the job's items with add_job_items before finishing them."
    )


async def test_finish_item_missing_job(store):
    with pytest.raises(RemovalNotFoundError, match="No removal job 'missing' was found"):
        await store.finish_item("missing", issue("10001"), Outcome.DELETED)


async def test_finish_item_rolls_back_together(store):
    job = await job_with_items(store, [issue("10001")])
    row_before = await store.get_row("tenant-a", issue("10001"))

    with pytest.raises(RemovalNotFoundError):
        await store.finish_item(job.id, issue("10002"), Outcome.DELETED)

    assert await store.get_row("tenant-a", issue("10001")) == row_before
    assert (await store.list_items(job.id))[0].state is ItemState.PENDING


async def test_release_in_flight(store):
    job = await job_with_items(store, [issue("10001"), issue("10002"), issue("10003")])
    await store.claim_items(job.id, limit=2)
    await store.finish_item(job.id, issue("10001"), Outcome.DELETED)

    released = await store.release_in_flight(job.id)
    again = await store.release_in_flight(job.id)
    items = await store.list_items(job.id)
    reclaimed = await store.claim_items(job.id, limit=10)

    assert released == 1
    assert again == 0
    assert [item.state for item in items] == [ItemState.DONE, ItemState.PENDING, ItemState.PENDING]
    assert [item.ref for item in reclaimed] == [issue("10002"), issue("10003")]
    attempts = await item_columns(store, job.id, "attempts")
    assert attempts == {"10001": (1,), "10002": (2,), "10003": (1,)}


async def test_job_counts(store):
    refs = [issue(str(10000 + n)) for n in range(6)] + [USER_PREFS, APP_SETTINGS]
    job = await job_with_items(store, refs)
    await store.claim_items(job.id, limit=4, entity_types=[EntityType.ISSUE])
    await store.claim_items(job.id, limit=1, entity_types=[EntityType.APP])
    await store.finish_item(job.id, issue("10000"), Outcome.DELETED)
    await store.finish_item(job.id, issue("10001"), Outcome.DELETED)
    await store.finish_item(job.id, issue("10002"), Outcome.NOT_VERIFIED, "404 from the issue")
    await store.finish_item(job.id, USER_PREFS, Outcome.GONE)

    counts = await store.job_counts(job.id)

    assert counts == {
        EntityType.ISSUE: {"deleted": 2, "not_verified": 1, "in_flight": 1, "pending": 2},
        EntityType.USER: {"gone": 1},
        EntityType.APP: {"in_flight": 1},
    }


async def test_job_counts_empty(store):
    job, _ = await store.create_job("tenant-a", ADMIN)

    assert await store.job_counts(job.id) == {}


async def test_list_items_outcomes(store):
    job = await job_with_items(store, [issue("10001"), issue("10002"), issue("10003"), USER_PREFS])
    await store.claim_items(job.id, limit=10)
    await store.finish_item(job.id, issue("10001"), Outcome.DELETED)
    await store.finish_item(job.id, issue("10002"), Outcome.FORBIDDEN, "403 from Jira")
    await store.finish_item(job.id, USER_PREFS, Outcome.FAILED, "timed out")

    not_removed = await store.list_items(
        job.id, outcomes=[Outcome.NOT_VERIFIED, Outcome.FORBIDDEN, Outcome.FAILED]
    )

    assert [dataclasses.replace(item, finished_at=None) for item in not_removed] == [
        RemovalItem(job.id, issue("10002"), ItemState.DONE, Outcome.FORBIDDEN, "403 from Jira"),
        RemovalItem(job.id, USER_PREFS, ItemState.DONE, Outcome.FAILED, "timed out"),
    ]


async def test_list_items_other_job(store):
    job = await job_with_items(store, [issue("10001")])

    assert await store.list_items("another-job") == []
    assert len(await store.list_items(job.id)) == 1


async def test_pending_keys(store):
    job = await job_with_items(
        store,
        [
            issue("10001", "com.acme.b"),
            issue("10002", "com.acme.a"),
            issue("10003", "com.acme.b"),
            issue("10004", "com.acme.c"),
            USER_PREFS,
        ],
    )
    await store.claim_items(job.id, limit=10, property_key="com.acme.c")

    keys = await store.pending_keys(job.id, EntityType.ISSUE)

    assert keys == ["com.acme.a", "com.acme.b"]
    assert await store.pending_keys(job.id, EntityType.COMMENT) == []


async def test_claim_items_by_key(store):
    job = await job_with_items(
        store,
        [
            issue("10001", "com.acme.a"),
            issue("10001", "com.acme.b"),
            issue("10002", "com.acme.a"),
            issue("10003", "com.acme.a"),
        ],
    )

    first = await store.claim_items(
        job.id, limit=2, entity_types=[EntityType.ISSUE], property_key="com.acme.a"
    )
    second = await store.claim_items(
        job.id, limit=2, entity_types=[EntityType.ISSUE], property_key="com.acme.a"
    )

    assert [item.ref for item in first] == [
        issue("10001", "com.acme.a"),
        issue("10002", "com.acme.a"),
    ]
    assert [item.ref for item in second] == [issue("10003", "com.acme.a")]
    pending = [
        item.ref for item in await store.list_items(job.id) if item.state is ItemState.PENDING
    ]
    assert pending == [issue("10001", "com.acme.b")]


async def test_finish_items_many(store):
    refs = [issue("10001"), issue("10002"), issue("10003")]
    job = await job_with_items(store, refs)
    await store.claim_items(job.id, limit=10)

    await store.finish_items(
        job.id,
        [
            (refs[0], Outcome.DELETED, None),
            (refs[1], Outcome.NOT_VERIFIED, "Hidden."),
            (refs[2], Outcome.DELETED, None),
        ],
    )
    items = await store.list_items(job.id)
    rows = [await store.get_row("tenant-a", ref) for ref in refs]

    assert [(item.state, item.outcome, item.detail) for item in items] == [
        (ItemState.DONE, Outcome.DELETED, None),
        (ItemState.DONE, Outcome.NOT_VERIFIED, "Hidden."),
        (ItemState.DONE, Outcome.DELETED, None),
    ]
    assert len({item.finished_at for item in items}) == 1
    assert [row.state for row in rows] == [RowState.REMOVED, RowState.PRESENT, RowState.REMOVED]


async def test_finish_items_unknown_item(store):
    job = await job_with_items(store, [issue("10001")])
    await store.claim_items(job.id, limit=10)

    with pytest.raises(RemovalNotFoundError) as caught:
        await store.finish_items(
            job.id,
            [(issue("10001"), Outcome.DELETED, None), (issue("99999"), Outcome.DELETED, None)],
        )

    assert str(caught.value) == (
        f"Removal job {job.id!r} has no item for issue 99999 property 'com.acme.flag'. "
        "Add the job's items with add_job_items before finishing them."
    )
    assert (await store.list_items(job.id))[0].state is ItemState.IN_FLIGHT
    assert (await store.get_row("tenant-a", issue("10001"))).state is RowState.PRESENT
