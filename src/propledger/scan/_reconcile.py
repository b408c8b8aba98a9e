"""Reconcile the inventory with what a scan found in the site.

For each inventory row within the key scope:

- found, and unknown to the inventory: added, with source scan;
- found, with another value digest than the inventory records: drifted, and the row
  takes the scanned digest and source scan while it stays present;
- found, but recorded removed or gone: reappeared, and present again;
- recorded present or pending, but not found: the entity's keys are listed again. A
  key still absent makes the row gone. A 404 leaves the row as it is and counts it
  unverified, because it may mean that the entity is hidden from the caller.

Rows written after the scan of their entity type started are left alone, because the
scan may have read the site before the write reached it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter

from propledger.hashing import ValueDigest
from propledger.model import EntityType, InventoryRow, PropertyRef, RowState
from propledger.scan._scanner import Found, SiteScanner, run_all
from propledger.scope import KeyScope
from propledger.store import Store

__all__ = ["ReconcileCounts", "Reconciler"]

logger = logging.getLogger("propledger.scan")

VERIFY_BATCH = 500
"""Rows not found whose entities are listed again together."""

_LIVE_STATES = (RowState.PENDING, RowState.PRESENT)


@dataclasses.dataclass(frozen=True, slots=True)
class ReconcileCounts:
    """Counts of one entity type's reconcile: properties found and rows changed.

    ``found`` counts the properties within the key scope that the site contains. The
    other fields count inventory rows by what reconcile did, or would do in a dry run.
    """

    found: int = 0
    added: int = 0
    unchanged: int = 0
    drifted: int = 0
    reappeared: int = 0
    gone: int = 0
    unverified: int = 0

    def __add__(self, other: ReconcileCounts) -> ReconcileCounts:
        return ReconcileCounts(
            **{
                field.name: getattr(self, field.name) + getattr(other, field.name)
                for field in dataclasses.fields(self)
            }
        )

    def as_dict(self) -> dict[str, int]:
        """Return the counts by field name."""
        return dataclasses.asdict(self)


class Reconciler:
    """Bring one installation's inventory in line with what a scan found.

    With ``dry_run`` the counts are the same, but nothing is written to the store.
    """

    def __init__(
        self,
        store: Store,
        scanner: SiteScanner,
        client_key: str,
        scope: KeyScope,
        *,
        dry_run: bool = False,
    ) -> None:
        self._store = store
        self._scanner = scanner
        self._client_key = client_key
        self._scope = scope
        self._dry_run = dry_run

    async def reconcile(
        self, entity_type: EntityType, found: Found, started_at: dt.datetime
    ) -> ReconcileCounts:
        """Reconcile the rows of one entity type with ``found``, which this call empties.

        ``started_at`` is when the scan of the entity type started.
        """
        counts: Counter[str] = Counter(found=len(found))
        missing: list[InventoryRow] = []
        rows = self._store.iter_inventory(self._client_key, entity_types=[entity_type])
        async for row in rows:
            if row.ref.key not in self._scope:
                continue
            digest = found.pop(row.ref, None)
            if digest is not None:
                counts[await self._compare(row, digest, started_at)] += 1
            elif row.state in _LIVE_STATES and row.last_written_at < started_at:
                missing.append(row)
                if len(missing) >= VERIFY_BATCH:
                    counts.update(await self._verify(entity_type, missing))
                    missing = []
        counts.update(await self._verify(entity_type, missing))
        counts["added"] += await self._add(found)
        found.clear()

        return ReconcileCounts(**counts)

    async def _compare(
        self, row: InventoryRow, digest: ValueDigest, started_at: dt.datetime
    ) -> str:
        if row.last_written_at >= started_at:
            return "unchanged"
        if row.state in (RowState.REMOVED, RowState.GONE):
            await self._mark_scanned(row.ref, digest, "reappeared")
            return "reappeared"
        if row.value_sha256 is not None and row.value_sha256 != digest.sha256:
            await self._mark_scanned(row.ref, digest, "drifted")
            return "drifted"
        if not self._dry_run and (row.state is RowState.PENDING or row.value_sha256 is None):
            await self._store.mark_present(
                self._client_key, row.ref, value_sha256=digest.sha256, value_size=digest.size
            )

        return "unchanged"

    async def _mark_scanned(self, ref: PropertyRef, digest: ValueDigest, change: str) -> None:
        logger.info(
            "Property %s in the site: %s %s key %s",
            change,
            ref.entity_type.value,
            ref.entity_id,
            ref.key,
            extra={"event": f"scan.{change}", "client_key": self._client_key},
        )
        if not self._dry_run:
            await self._store.mark_scanned(self._client_key, ref, digest)

    async def _verify(self, entity_type: EntityType, rows: list[InventoryRow]) -> Counter[str]:
        by_entity: dict[str, list[InventoryRow]] = {}
        for row in rows:
            by_entity.setdefault(row.ref.entity_id, []).append(row)
        counts: Counter[str] = Counter()

        async def verify(entity_id: str, entity_rows: list[InventoryRow]) -> None:
            keys = await self._scanner.property_keys(entity_type, entity_id)
            if keys is None:
                counts["unverified"] += len(entity_rows)
                return
            for row in entity_rows:
                if row.ref.key in keys:
                    # The search missed it, as Jira's search index may lag behind writes.
                    counts["unchanged"] += 1
                    continue
                counts["gone"] += 1
                if not self._dry_run:
                    await self._store.mark_gone(self._client_key, row.ref)

        await run_all(
            verify(entity_id, entity_rows) for entity_id, entity_rows in by_entity.items()
        )
        if counts["unverified"]:
            logger.warning(
                "%d %s properties were not found and their entities returned 404, which may "
                "mean hidden; their rows are kept",
                counts["unverified"],
                entity_type.value,
                extra={"event": "scan.unverified", "client_key": self._client_key},
            )

        return counts

    async def _add(self, found: Found) -> int:
        if self._dry_run:
            return len(found)

        return await self._store.record_found_many(self._client_key, found.items())
