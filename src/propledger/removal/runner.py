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
            async with asyncio.TaskGroup() as group:
                group.create_task(bulk.run())
                group.create_task(items.run(_PER_ITEM_TYPES))
            # Rows written while the job ran join it before the job may end.
            if not await self._store.add_job_items(job.id):
                break
        if settings.sweep:
            await sweep_keys(client, sorted(settings.scope.keys), polling=polling)

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
