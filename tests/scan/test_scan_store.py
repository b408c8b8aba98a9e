"""Store methods of the rebuild, on SQLite and on PostgreSQL."""

from __future__ import annotations

from tests.store.conftest import database_url, store  # noqa: F401 - fixtures for both backends

from propledger.hashing import ValueDigest
from propledger.model import EntityType, PropertyRef, RowSource, RowState

CLIENT_KEY = "tenant-a"
FLAG = PropertyRef(EntityType.ISSUE, "10001", "com.acme.flag")
OTHER = PropertyRef(EntityType.ISSUE, "10002", "com.acme.flag")
PREFS = PropertyRef(EntityType.USER, "5b10ac8d82e05b22cc7d4ef5", "com.acme.prefs")
DIGEST = ValueDigest("a" * 64, 7)


async def test_record_found_many_counts_new(store):  # noqa: F811
    await store.record_pending(CLIENT_KEY, FLAG, value_sha256="b" * 64, value_size=3)

    added = await store.record_found_many(
        CLIENT_KEY, [(FLAG, DIGEST), (OTHER, DIGEST), (PREFS, None)]
    )

    assert added == 2
    kept = await store.get_row(CLIENT_KEY, FLAG)
    assert (kept.state, kept.source, kept.value_sha256) == (
        RowState.PENDING,
        RowSource.WRITE,
        "b" * 64,
    )
    new = await store.get_row(CLIENT_KEY, OTHER)
    assert (new.state, new.source, new.value_sha256, new.value_size) == (
        RowState.PRESENT,
        RowSource.SCAN,
        "a" * 64,
        7,
    )
    assert (await store.get_row(CLIENT_KEY, PREFS)).value_sha256 is None


async def test_record_found_many_empty(store):  # noqa: F811
    assert await store.record_found_many(CLIENT_KEY, []) == 0


async def test_mark_scanned_updates_row(store):  # noqa: F811
    await store.record_pending(CLIENT_KEY, FLAG, value_sha256="b" * 64, value_size=3)
    await store.mark_removed(CLIENT_KEY, FLAG)
    before = await store.get_row(CLIENT_KEY, FLAG)

    updated = await store.mark_scanned(CLIENT_KEY, FLAG, DIGEST)

    row = await store.get_row(CLIENT_KEY, FLAG)
    assert updated is True
    assert (row.state, row.source, row.value_sha256, row.value_size, row.removed_at) == (
        RowState.PRESENT,
        RowSource.SCAN,
        "a" * 64,
        7,
        None,
    )
    assert (row.first_written_at, row.last_written_at) == (
        before.first_written_at,
        before.last_written_at,
    )


async def test_mark_scanned_missing_row(store):  # noqa: F811
    assert await store.mark_scanned(CLIENT_KEY, FLAG, DIGEST) is False


async def test_list_entity_ids(store):  # noqa: F811
    second_user = PropertyRef(EntityType.USER, "0a-user", "com.acme.other")
    await store.record_found_many(
        CLIENT_KEY,
        [
            (FLAG, None),
            (PREFS, None),
            (second_user, None),
            (PropertyRef(EntityType.USER, PREFS.entity_id, "k2"), None),
        ],
    )
    await store.record_found(
        "tenant-b", PropertyRef(EntityType.USER, "b-user", "k"), value_sha256=None, value_size=None
    )

    ids = await store.list_entity_ids(CLIENT_KEY, EntityType.USER)

    assert ids == ["0a-user", "5b10ac8d82e05b22cc7d4ef5"]


async def test_iter_inventory_by_entity_type(store):  # noqa: F811
    await store.record_found_many(CLIENT_KEY, [(FLAG, None), (PREFS, None), (OTHER, None)])

    rows = [
        row
        async for row in store.iter_inventory(
            CLIENT_KEY, entity_types=[EntityType.ISSUE], batch_size=1
        )
    ]

    assert [row.ref for row in rows] == [FLAG, OTHER]
