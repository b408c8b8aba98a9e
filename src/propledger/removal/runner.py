"""The removal runner: deletes a job's properties and records each outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from propledger.jira import JiraClient, TaskPolling
from propledger.ledger import Ledger
from propledger.model import EntityType, JobState, Outcome, RemovalJob
from propledger.removal.bulk import IssueBulkDeleter, sweep_keys
from propledger.removal.items import ItemDeleter, classify_delete

__all__ = ["LeaseLostError", "RemovalRunner", "classify_delete"]

logger = logging.getLogger("propledger.removal")

_PER_ITEM_TYPES = tuple(
    entity_type for entity_type in EntityType if entity_type is not EntityType.ISSUE
)


class LeaseLostError(Exception):
    """Another worker took the job over because this one stopped renewing its lease."""


class RemovalRunner:
    """Runs one removal job that its worker has claimed.

    Issue properties go in bulk tasks and the other entity types one DELETE each, both
    at once. Each item is marked in flight before its request and done after it, so a
    job cut short by a crash resumes with the items it had not finished. With the
    ``sweep`` setting the job ends with an empty-filter bulk delete of each exact key in
    the key scope.
    """

    def __init__(self, ledger: Ledger, *, owner: str) -> None:
        self._ledger = ledger
        self._store = ledger.store
        self._owner = owner

    async def run(self, job: RemovalJob) -> RemovalJob:
        """Delete every item of ``job`` and return the job in its final state."""
        installation = await self._store.get_installation(job.client_key)
        client = await self._ledger.jira_client(installation)
        resumed = await self._store.release_in_flight(job.id)
        if resumed:
            logger.info("Removal %s resumes %d unfinished properties", job.id, resumed)
        if job.state is JobState.QUEUED:
            job = await self._store.set_job_state(job.id, JobState.RUNNING)
        await self._with_lease(job.id, self._delete_all(job, client))

        return await self._finish(job)

    async def _with_lease(self, job_id: str, work: Coroutine[Any, Any, None]) -> None:
        # The lease is renewed beside the work; once renewal fails, the work is cancelled,
        # because another worker may already be running the same job.
        current = asyncio.current_task()
        if current is None:
            raise RuntimeError("A removal must run inside an asyncio task.")
        lost = asyncio.Event()
        renewer = asyncio.create_task(self._renew_lease(job_id, lost, current))
        try:
            await work
        except asyncio.CancelledError:
            if not lost.is_set():
                raise
            current.uncancel()
            raise LeaseLostError(f"Removal {job_id} was taken over by another worker.") from None
        finally:
            renewer.cancel()

    async def _delete_all(self, job: RemovalJob, client: JiraClient) -> None:
        settings = self._ledger.settings
        items = ItemDeleter(
            self._store,
            client,
            job.id,
            semaphore=asyncio.Semaphore(settings.removal_concurrency),
            concurrency=settings.removal_concurrency,
        )
        polling = TaskPolling(deadline=settings.task_deadline)
        bulk = IssueBulkDeleter(
            self._store,
            client,
            job.id,
            chunk_size=settings.bulk_chunk_size,
            polling=polling,
            fallback=items,
        )
        await self._store.add_job_items(job.id)
        while True:
            await self._skip_keys_outside_scope(job)
            async with asyncio.TaskGroup() as group:
                group.create_task(bulk.run())
                group.create_task(items.run(_PER_ITEM_TYPES))
            # Rows written while the job ran join it before the job may end.
            if not await self._store.add_job_items(job.id):
                break
        if settings.sweep:
            await sweep_keys(client, sorted(settings.scope.keys), polling=polling)

    async def _skip_keys_outside_scope(self, job: RemovalJob) -> None:
        # The key scope may have shrunk since the rows were written. Keys outside it are
        # never deleted, so their items end as failed with the reason, before any request.
        scope = self._ledger.settings.scope
        for entity_type in EntityType:
            for key in await self._store.pending_keys(job.id, entity_type):
                if key in scope:
                    continue
                reason = (
                    f"The key {key!r} is outside the app's key scope ({scope.describe()}), so "
                    "propledger does not delete it. Add it to PROPLEDGER_KEYS or "
                    "PROPLEDGER_KEY_PREFIXES to remove it."
                )
                while items := await self._store.claim_items(
                    job.id, limit=1000, entity_types=(entity_type,), property_key=key
                ):
                    await self._store.finish_items(
                        job.id, [(item.ref, Outcome.FAILED, reason) for item in items]
                    )
                logger.warning(
                    "Removal %s skips %s properties outside the key scope: %r",
                    job.id,
                    entity_type.value,
                    key,
                    extra={"event": "removal.out_of_scope", "job_id": job.id},
                )

    async def _renew_lease(self, job_id: str, lost: asyncio.Event, work: asyncio.Task[Any]) -> None:
        lease_seconds = self._ledger.settings.lease_seconds
        while True:
            await asyncio.sleep(lease_seconds / 3)
            renewed = await self._store.renew_lease(
                job_id, self._owner, lease_seconds=lease_seconds
            )
            if not renewed:
                lost.set()
                work.cancel()
                return

    async def _finish(self, job: RemovalJob) -> RemovalJob:
        counts = await self._store.job_counts(job.id)
        removed = {outcome.value for outcome in Outcome if outcome.is_removed}
        clean = all(name in removed for states in counts.values() for name in states)
        state = JobState.COMPLETED if clean else JobState.COMPLETED_WITH_ISSUES
        finished = await self._store.set_job_state(job.id, state)
        logger.info(
            "Removal %s ended %s",
            job.id,
            state.value,
            extra={"event": "removal.finished", "job_id": job.id, "client_key": job.client_key},
        )

        return finished
