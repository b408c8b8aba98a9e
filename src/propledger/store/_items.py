"""The items of a removal job: one per property to delete, with its progress and outcome."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from propledger.errors import ConfigurationError, RemovalNotFoundError
from propledger.model import (
    EntityType,
    ItemState,
    Outcome,
    PropertyRef,
    RemovalItem,
    RowState,
    utcnow,
)
from propledger.store._base import StoreBase
from propledger.store._inventory import inventory_row_matches
from propledger.store._jobs import job_not_found
from propledger.store._schema import inventory, removal_items, removal_jobs

__all__ = ["ItemQueries"]

logger = logging.getLogger("propledger.store")

_ITEM_KEY = (removal_items.c.entity_type, removal_items.c.entity_id, removal_items.c.property_key)


def _item_matches(job_id: str, ref: PropertyRef) -> ColumnElement[bool]:
    return and_(
        removal_items.c.job_id == job_id,
        removal_items.c.entity_type == ref.entity_type,
        removal_items.c.entity_id == ref.entity_id,
        removal_items.c.property_key == ref.key,
    )


def _item_from_row(row: Row[Any]) -> RemovalItem:
    return RemovalItem(
        job_id=row.job_id,
        ref=PropertyRef(row.entity_type, row.entity_id, row.property_key),
        state=row.state,
        outcome=row.outcome,
        detail=row.detail,
        finished_at=row.finished_at,
    )


def _sort_key(item: RemovalItem) -> tuple[str, str, str]:
    return item.ref.entity_type.value, item.ref.entity_id, item.ref.key


async def _job_client_key(conn: AsyncConnection, job_id: str) -> str:
    statement = select(removal_jobs.c.client_key).where(removal_jobs.c.id == job_id)
    client_key = await conn.scalar(statement)
    if client_key is None:
        raise job_not_found(job_id)

    return str(client_key)


class ItemQueries(StoreBase):
    """Store methods for the items of removal jobs."""

    async def add_job_items(self, job_id: str) -> int:
        """Add a pending item for each pending or present inventory row not yet in the job.

        Returns how many items were added, so a second call adds only rows recorded
        since the first. Raises RemovalNotFoundError for an unknown job id.
        """
        async with self._write() as conn:
            client_key = await _job_client_key(conn, job_id)
            already_added = (
                select(literal(1))
                .where(
                    removal_items.c.job_id == job_id,
                    removal_items.c.entity_type == inventory.c.entity_type,
                    removal_items.c.entity_id == inventory.c.entity_id,
                    removal_items.c.property_key == inventory.c.property_key,
                )
                .exists()
            )
            rows = select(
                literal(job_id, removal_items.c.job_id.type),
                inventory.c.entity_type,
                inventory.c.entity_id,
                inventory.c.property_key,
                literal(ItemState.PENDING, removal_items.c.state.type),
                literal(0, removal_items.c.attempts.type),
            ).where(
                inventory.c.client_key == client_key,
                inventory.c.state.in_([RowState.PENDING, RowState.PRESENT]),
                ~already_added,
            )
            columns = ["job_id", "entity_type", "entity_id", "property_key", "state", "attempts"]
            statement = (
                self._insert(removal_items).from_select(columns, rows).on_conflict_do_nothing()
            )
            added = (await conn.execute(statement)).rowcount
        logger.info("Added %d items to removal job %s", added, job_id)

        return added

    async def claim_items(
        self,
        job_id: str,
        *,
        limit: int,
        entity_types: Collection[EntityType] | None = None,
        property_key: str | None = None,
    ) -> list[RemovalItem]:
        """Move up to ``limit`` pending items to in_flight and return them.

        ``entity_types`` and ``property_key`` restrict the items claimed. Items are picked
        and returned ordered by entity type, entity id and property key. Each claim
        counts one attempt. On PostgreSQL, rows another transaction is claiming are
        skipped, so concurrent callers get disjoint items.
        """
        if limit < 1:
            raise ConfigurationError(f"limit must be at least 1, got {limit}.")

        chosen = (
            select(*_ITEM_KEY)
            .where(removal_items.c.job_id == job_id, removal_items.c.state == ItemState.PENDING)
            .order_by(*_ITEM_KEY)
            .limit(limit)
        )
        if entity_types is not None:
            chosen = chosen.where(removal_items.c.entity_type.in_(list(entity_types)))
        if property_key is not None:
            chosen = chosen.where(removal_items.c.property_key == property_key)
        if self._is_postgresql:
            chosen = chosen.with_for_update(skip_locked=True)
        async with self._write() as conn:
            # Select the keys first, then update exactly those. PostgreSQL 15 may plan a
            # LIMIT subquery inside the UPDATE as a nested loop that reruns it for each
            # row, which then claims more than `limit` items.
            keys = [tuple(key) for key in (await conn.execute(chosen)).all()]
            if not keys:
                return []
            statement = (
                update(removal_items)
                .where(removal_items.c.job_id == job_id, tuple_(*_ITEM_KEY).in_(keys))
                .values(
                    state=ItemState.IN_FLIGHT,
                    attempts=removal_items.c.attempts + 1,
                    started_at=utcnow(),
                )
                .returning(*removal_items.c)
            )
            rows = (await conn.execute(statement)).all()

        return sorted((_item_from_row(row) for row in rows), key=_sort_key)

    async def pending_keys(self, job_id: str, entity_type: EntityType) -> list[str]:
        """Return the sorted property keys of the job's pending items of one entity type."""
        statement = (
            select(removal_items.c.property_key)
            .where(
                removal_items.c.job_id == job_id,
                removal_items.c.entity_type == entity_type,
                removal_items.c.state == ItemState.PENDING,
            )
            .distinct()
            .order_by(removal_items.c.property_key)
        )
        async with self._read() as conn:
            return list((await conn.scalars(statement)).all())

    async def finish_item(
        self,
        job_id: str,
        ref: PropertyRef,
        outcome: Outcome,
        detail: str | None = None,
    ) -> None:
        """Record the item's outcome and, for a verified removal, mark its inventory row removed.

        Both changes happen in one transaction. The inventory row stays as it is when the
        app wrote the property again after the item was claimed, because that write may
        have reached the site after the delete. ``detail`` must never contain a property
        value. Raises RemovalNotFoundError for an unknown job or an item not in the job.
        """
        await self.finish_items(job_id, [(ref, outcome, detail)])

    async def finish_items(
        self, job_id: str, results: Sequence[tuple[PropertyRef, Outcome, str | None]]
    ) -> None:
        """Record the outcomes of many items in one transaction, as :meth:`finish_item` does.

        ``results`` contains ``(ref, outcome, detail)`` triples. If one item is not in the
        job, RemovalNotFoundError is raised and no outcome is recorded.
        """
        now = utcnow()
        async with self._write() as conn:
            client_key = await _job_client_key(conn, job_id)
            for ref, outcome, detail in results:
                statement = (
                    update(removal_items)
                    .where(_item_matches(job_id, ref))
                    .values(state=ItemState.DONE, outcome=outcome, detail=detail, finished_at=now)
                    .returning(removal_items.c.started_at)
                )
                item = (await conn.execute(statement)).first()
                if item is None:
                    raise RemovalNotFoundError(
                        f"Removal job {job_id!r} has no item for {ref}. "
                        "Add the job's items with add_job_items before finishing them."
                    )
                if outcome.is_removed:
                    await self._mark_row_removed(conn, client_key, ref, item.started_at, now)

    async def _mark_row_removed(
        self,
        conn: AsyncConnection,
        client_key: str,
        ref: PropertyRef,
        started_at: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        conditions = [inventory_row_matches(client_key, ref)]
        if started_at is not None:
            conditions.append(inventory.c.last_written_at <= started_at)
        statement = (
            update(inventory).where(*conditions).values(state=RowState.REMOVED, removed_at=now)
        )
        result = await conn.execute(statement)
        if result.rowcount == 0:
            logger.warning(
                "Left the inventory row of %s for %s unchanged, "
                "because it is missing or was written again during the removal",
                ref,
                client_key,
            )

    async def release_in_flight(self, job_id: str) -> int:
        """Move the job's in_flight items back to pending and return how many moved.

        A worker calls this when it resumes a job whose previous owner stopped without
        finishing its items.
        """
        statement = (
            update(removal_items)
            .where(removal_items.c.job_id == job_id, removal_items.c.state == ItemState.IN_FLIGHT)
            .values(state=ItemState.PENDING, started_at=None)
        )
        async with self._write() as conn:
            released = (await conn.execute(statement)).rowcount
        if released:
            logger.info("Released %d in-flight items of removal job %s", released, job_id)

        return released

    async def job_counts(self, job_id: str) -> dict[EntityType, dict[str, int]]:
        """Count the job's items per entity type.

        Finished items are counted under their outcome value (such as ``"deleted"``),
        unfinished ones under ``"pending"`` or ``"in_flight"``. Zero counts are left out.
        """
        statement = (
            select(
                removal_items.c.entity_type,
                removal_items.c.state,
                removal_items.c.outcome,
                func.count(),
            )
            .where(removal_items.c.job_id == job_id)
            .group_by(removal_items.c.entity_type, removal_items.c.state, removal_items.c.outcome)
        )
        async with self._read() as conn:
            rows = (await conn.execute(statement)).all()
        counts: dict[EntityType, dict[str, int]] = {}
        for entity_type, state, outcome, count in rows:
            label = outcome.value if state is ItemState.DONE else state.value
            per_type = counts.setdefault(entity_type, {})
            per_type[label] = per_type.get(label, 0) + count

        return counts

    async def list_items(
        self, job_id: str, *, outcomes: Collection[Outcome] | None = None
    ) -> list[RemovalItem]:
        """Return the job's items ordered by entity type, entity id and property key.

        With ``outcomes``, only finished items with one of those outcomes are returned.
        """
        statement = select(removal_items).where(removal_items.c.job_id == job_id)
        if outcomes is not None:
            statement = statement.where(removal_items.c.outcome.in_(list(outcomes)))
        async with self._read() as conn:
            rows = (await conn.execute(statement)).all()

        return sorted((_item_from_row(row) for row in rows), key=_sort_key)
