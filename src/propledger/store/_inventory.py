"""The inventory: one row per property an installation's app wrote into its site."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, func, select, update

from propledger.errors import ConfigurationError
from propledger.hashing import ValueDigest
from propledger.model import (
    EntityType,
    InventoryRow,
    PropertyRef,
    RowSource,
    RowState,
    utcnow,
)
from propledger.store._base import StoreBase
from propledger.store._schema import inventory

__all__ = ["InventoryQueries", "inventory_row_matches"]

logger = logging.getLogger("propledger.store")

_PROPERTY_COLUMNS = ["client_key", "entity_type", "entity_id", "property_key"]


def inventory_row_matches(client_key: Any, ref: PropertyRef) -> ColumnElement[bool]:
    """Build the WHERE clause that selects the inventory row of one property."""
    return and_(
        inventory.c.client_key == client_key,
        inventory.c.entity_type == ref.entity_type,
        inventory.c.entity_id == ref.entity_id,
        inventory.c.property_key == ref.key,
    )


def _row_from_db(row: Row[Any]) -> InventoryRow:
    return InventoryRow(
        client_key=row.client_key,
        ref=PropertyRef(row.entity_type, row.entity_id, row.property_key),
        state=row.state,
        source=row.source,
        first_written_at=row.first_written_at,
        last_written_at=row.last_written_at,
        value_sha256=row.value_sha256,
        value_size=row.value_size,
        removed_at=row.removed_at,
    )


class InventoryQueries(StoreBase):
    """Store methods for the inventory."""

    async def record_pending(
        self,
        client_key: str,
        ref: PropertyRef,
        *,
        value_sha256: str | None,
        value_size: int | None,
        source: RowSource = RowSource.WRITE,
    ) -> None:
        """Record a write that is about to be sent, as one atomic upsert.

        A new row starts pending. An existing row becomes pending again with the new
        hash and size, and keeps its ``first_written_at`` and its source.
        """
        now = utcnow()
        written = {
            "state": RowState.PENDING,
            "value_sha256": value_sha256,
            "value_size": value_size,
            "last_written_at": now,
            "removed_at": None,
        }
        statement = (
            self._insert(inventory)
            .values(
                client_key=client_key,
                entity_type=ref.entity_type,
                entity_id=ref.entity_id,
                property_key=ref.key,
                source=source,
                first_written_at=now,
                **written,
            )
            .on_conflict_do_update(index_elements=_PROPERTY_COLUMNS, set_=written)
        )
        async with self._write() as conn:
            await conn.execute(statement)
        logger.debug("Recorded pending write of %s for %s", ref, client_key)

    async def mark_present(
        self,
        client_key: str,
        ref: PropertyRef,
        *,
        value_sha256: str | None = None,
        value_size: int | None = None,
    ) -> None:
        """Mark the property as present in the site, updating the hash and size if given."""
        values: dict[str, Any] = {"state": RowState.PRESENT, "removed_at": None}
        if value_sha256 is not None:
            values["value_sha256"] = value_sha256
        if value_size is not None:
            values["value_size"] = value_size
        await self._update_row(client_key, ref, values)

    async def mark_removed(self, client_key: str, ref: PropertyRef) -> None:
        """Mark the property as removed from the site now."""
        await self._update_row(client_key, ref, {"state": RowState.REMOVED, "removed_at": utcnow()})

    async def mark_gone(self, client_key: str, ref: PropertyRef) -> None:
        """Mark the property as found absent from the site now, without propledger removing it."""
        await self._update_row(client_key, ref, {"state": RowState.GONE, "removed_at": utcnow()})

    async def discard_pending(self, client_key: str, ref: PropertyRef) -> bool:
        """Delete the row if it is still pending, and return whether it was deleted.

        For a write that Jira rejected outright: the property was never stored, so the
        row would otherwise ask every removal to delete something that does not exist.
        """
        statement = delete(inventory).where(
            inventory_row_matches(client_key, ref), inventory.c.state == RowState.PENDING
        )
        async with self._write() as conn:
            result = await conn.execute(statement)

        return bool(result.rowcount)

    async def _update_row(self, client_key: str, ref: PropertyRef, values: dict[str, Any]) -> None:
        statement = update(inventory).where(inventory_row_matches(client_key, ref)).values(values)
        async with self._write() as conn:
            result = await conn.execute(statement)
        if result.rowcount == 0:
            logger.warning(
                "No inventory row of %s for %s to mark %s",
                ref,
                client_key,
                values["state"].value,
            )

    async def record_found(
        self,
        client_key: str,
        ref: PropertyRef,
        *,
        value_sha256: str | None,
        value_size: int | None,
    ) -> bool:
        """Add a property found by a scan as present, unless the inventory has it already.

        Returns True if a row was added. An existing row is left unchanged.
        """
        now = utcnow()
        statement = (
            self._insert(inventory)
            .values(
                client_key=client_key,
                entity_type=ref.entity_type,
                entity_id=ref.entity_id,
                property_key=ref.key,
                state=RowState.PRESENT,
                source=RowSource.SCAN,
                value_sha256=value_sha256,
                value_size=value_size,
                first_written_at=now,
                last_written_at=now,
            )
            .on_conflict_do_nothing(index_elements=_PROPERTY_COLUMNS)
        )
        async with self._write() as conn:
            result = await conn.execute(statement)

        return result.rowcount == 1

    async def record_found_many(
        self, client_key: str, found: Iterable[tuple[PropertyRef, ValueDigest | None]]
    ) -> int:
        """Add many properties found by a scan as present, in one transaction.

        Properties the inventory has already are left unchanged, as in
        :meth:`record_found`. Returns how many rows were added.
        """
        now = utcnow()
        rows = [
            {
                "client_key": client_key,
                "entity_type": ref.entity_type,
                "entity_id": ref.entity_id,
                "property_key": ref.key,
                "state": RowState.PRESENT,
                "source": RowSource.SCAN,
                "value_sha256": digest.sha256 if digest else None,
                "value_size": digest.size if digest else None,
                "first_written_at": now,
                "last_written_at": now,
            }
            for ref, digest in found
        ]
        if not rows:
            return 0
        statement = self._insert(inventory).on_conflict_do_nothing(index_elements=_PROPERTY_COLUMNS)
        async with self._write() as conn:
            result = await conn.execute(statement, rows)

        return result.rowcount

    async def mark_scanned(self, client_key: str, ref: PropertyRef, digest: ValueDigest) -> bool:
        """Mark the property present with the value digest a scan read from the site.

        The row's source becomes scan, because its digest no longer describes a value
        the app wrote; ``first_written_at`` and ``last_written_at`` are kept. Returns
        False when the inventory has no row of the property.
        """
        values = {
            "state": RowState.PRESENT,
            "source": RowSource.SCAN,
            "value_sha256": digest.sha256,
            "value_size": digest.size,
            "removed_at": None,
        }
        statement = update(inventory).where(inventory_row_matches(client_key, ref)).values(values)
        async with self._write() as conn:
            result = await conn.execute(statement)

        return result.rowcount == 1

    async def list_entity_ids(self, client_key: str, entity_type: EntityType) -> list[str]:
        """Return the ids of the entities of one type that have inventory rows, sorted."""
        statement = (
            select(inventory.c.entity_id)
            .where(inventory.c.client_key == client_key, inventory.c.entity_type == entity_type)
            .distinct()
            .order_by(inventory.c.entity_id)
        )
        async with self._read() as conn:
            return list((await conn.execute(statement)).scalars())

    async def get_row(self, client_key: str, ref: PropertyRef) -> InventoryRow | None:
        """Return the inventory row of the property, or None."""
        statement = select(inventory).where(inventory_row_matches(client_key, ref))
        async with self._read() as conn:
            row = (await conn.execute(statement)).first()

        return None if row is None else _row_from_db(row)

    async def count_inventory(self, client_key: str) -> dict[EntityType, dict[RowState, int]]:
        """Count the installation's rows per entity type and state, leaving out zero counts."""
        statement = (
            select(inventory.c.entity_type, inventory.c.state, func.count())
            .where(inventory.c.client_key == client_key)
            .group_by(inventory.c.entity_type, inventory.c.state)
        )
        async with self._read() as conn:
            rows = (await conn.execute(statement)).all()
        counts: dict[EntityType, dict[RowState, int]] = {}
        for entity_type, state, count in rows:
            counts.setdefault(entity_type, {})[state] = count

        return counts

    async def last_found_by_scan(self, client_key: str) -> dt.datetime | None:
        """Return when a scan last added a row to the installation's inventory, or None.

        A scan adds only properties the inventory lacks, so a later scan that found
        nothing new leaves this time unchanged.
        """
        statement = select(func.max(inventory.c.first_written_at)).where(
            inventory.c.client_key == client_key, inventory.c.source == RowSource.SCAN
        )
        async with self._read() as conn:
            found: dt.datetime | None = (await conn.execute(statement)).scalar_one()

        return found

    async def iter_inventory(
        self,
        client_key: str,
        *,
        states: Collection[RowState] | None = None,
        entity_types: Collection[EntityType] | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[InventoryRow]:
        """Yield the installation's rows in id order, optionally filtered by state and type.

        Rows are read in batches of ``batch_size``, each batch in its own short
        transaction that resumes after the last id seen, so memory stays constant and no
        lock is held while the caller works on a row.
        """
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}.")

        statement = (
            select(inventory)
            .where(inventory.c.client_key == client_key)
            .order_by(inventory.c.id)
            .limit(batch_size)
        )
        if states is not None:
            statement = statement.where(inventory.c.state.in_(list(states)))
        if entity_types is not None:
            statement = statement.where(inventory.c.entity_type.in_(list(entity_types)))
        last_id: int | None = None
        while True:
            page = statement if last_id is None else statement.where(inventory.c.id > last_id)
            async with self._read() as conn:
                rows = (await conn.execute(page)).all()
            for row in rows:
                yield _row_from_db(row)
            if len(rows) < batch_size:
                return
            last_id = rows[-1].id
