"""Deletion one property at a time, for every entity type without a bulk endpoint.

Issue properties fall back to this path when their bulk task fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence

from propledger.errors import JiraError
from propledger.jira import JiraClient
from propledger.model import EntityType, Outcome, PropertyRef, RemovalItem
from propledger.store import Store

__all__ = ["ItemDeleter", "classify_delete", "not_visible_reason"]

logger = logging.getLogger("propledger.removal")

CLAIM_BATCHES = 4
"""How many rounds of concurrent deletes one claim covers."""


def not_visible_reason(entity_type: EntityType, context: str) -> str:
    """Return the reason of a not_verified outcome for an entity the app cannot see."""
    return (
        f"{context} and the {entity_type.value} is not visible to the app: "
        "it was deleted, or it is hidden from the app."
    )


class ItemDeleter:
    """Deletes items of one job with one DELETE each, at most ``semaphore``'s count at once.

    The semaphore is shared with the other paths of the job, so the job as a whole never
    has more deletes in flight than its concurrency.
    """

    def __init__(
        self,
        store: Store,
        client: JiraClient,
        job_id: str,
        *,
        semaphore: asyncio.Semaphore,
        concurrency: int,
    ) -> None:
        self._store = store
        self._client = client
        self._job_id = job_id
        self._semaphore = semaphore
        self._concurrency = concurrency

    async def run(self, entity_types: Collection[EntityType]) -> None:
        """Claim and delete the job's pending items of ``entity_types`` until none is left."""
        while True:
            items = await self._store.claim_items(
                self._job_id, limit=self._concurrency * CLAIM_BATCHES, entity_types=entity_types
            )
            if not items:
                return
            await self.delete_items(items)

    async def delete_items(self, items: Sequence[RemovalItem]) -> None:
        """Delete claimed items concurrently and record each outcome."""
        async with asyncio.TaskGroup() as group:
            for item in items:
                group.create_task(self._delete_one(item))

    async def _delete_one(self, item: RemovalItem) -> None:
        detail: str | None
        async with self._semaphore:
            try:
                status = await self._client.delete_property(item.ref)
            except JiraError as exc:
                outcome, detail = Outcome.FAILED, str(exc)
            else:
                outcome, detail = await classify_delete(self._client, item.ref, status)
        await self._store.finish_item(self._job_id, item.ref, outcome, detail)
        if not outcome.is_removed:
            logger.warning(
                "Removal %s could not remove %s: %s",
                self._job_id,
                item.ref,
                detail,
                extra={"event": "removal.item", "job_id": self._job_id, "outcome": outcome.value},
            )


async def classify_delete(
    client: JiraClient, ref: PropertyRef, status: int
) -> tuple[Outcome, str | None]:
    """Return the outcome of a DELETE that Jira returned with ``status``.

    A 404 proves nothing by itself, because Jira also returns 404 for entities hidden from
    the app: the property counts as gone only when the entity's key list is readable.
    """
    if status == 204:
        return Outcome.DELETED, None
    if status in (401, 403):
        return Outcome.FORBIDDEN, (
            f"Jira returned {status}: the app may not change this {ref.entity_type.value}'s "
            "properties."
        )
    if status != 404:
        return Outcome.FAILED, f"Jira returned {status} to the delete."
    if ref.entity_type is EntityType.APP:
        return Outcome.GONE, "Already absent: Jira returned 404."
    try:
        keys = await client.list_property_keys(ref.entity_type, ref.entity_id)
    except JiraError as exc:
        return Outcome.NOT_VERIFIED, f"Jira returned 404 and the key list failed: {exc}"
    if keys is None:
        return Outcome.NOT_VERIFIED, not_visible_reason(ref.entity_type, "Jira returned 404")
    if ref.key in keys:
        return Outcome.FAILED, "Jira returned 404 to the delete but still lists the property."

    return Outcome.GONE, "Already absent: the entity is visible and holds no such property."
