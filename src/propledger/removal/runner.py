"""The removal runner: deletes a job's properties and records each outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from propledger.errors import JiraError
from propledger.jira import JiraClient
from propledger.ledger import Ledger
from propledger.model import EntityType, JobState, Outcome, PropertyRef, RemovalItem, RemovalJob

__all__ = ["LeaseLostError", "RemovalRunner"]

logger = logging.getLogger("propledger.removal")


class LeaseLostError(Exception):
    """Another worker took the job over because this one stopped renewing its lease."""


class RemovalRunner:
    """Runs one removal job that its worker has claimed.

    Each item is marked in flight before its DELETE and done after it, so a job cut
    short by a crash resumes with the items it had not finished.
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
        concurrency = self._ledger.settings.removal_concurrency
        await self._store.add_job_items(job.id)
        while True:
            items = await self._store.claim_items(job.id, limit=concurrency * 4)
            if not items:
                # Rows written while the job ran join it before the job may end.
                if not await self._store.add_job_items(job.id):
                    return
                continue
            semaphore = asyncio.Semaphore(concurrency)
            async with asyncio.TaskGroup() as group:
                for item in items:
                    group.create_task(self._delete_one(job, client, item, semaphore))

    async def _delete_one(
        self, job: RemovalJob, client: JiraClient, item: RemovalItem, semaphore: asyncio.Semaphore
    ) -> None:
        detail: str | None
        async with semaphore:
            try:
                status = await client.delete_property(item.ref)
            except JiraError as exc:
                outcome, detail = Outcome.FAILED, str(exc)
            else:
                outcome, detail = await classify_delete(client, item.ref, status)
        await self._store.finish_item(job.id, item.ref, outcome, detail)
        if not outcome.is_removed:
            logger.warning(
                "Removal %s could not remove %s: %s",
                job.id,
                item.ref,
                detail,
                extra={"event": "removal.item", "job_id": job.id, "outcome": outcome.value},
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


async def classify_delete(
    client: JiraClient, ref: PropertyRef, status: int
) -> tuple[Outcome, str | None]:
    """Return the outcome of a DELETE that Jira answered with ``status``.

    A 404 proves nothing by itself, because Jira also answers 404 for entities hidden from
    the app: the property counts as gone only when the entity's key list is readable.
    """
    if status == 204:
        return Outcome.DELETED, None
    if status in (401, 403):
        return Outcome.FORBIDDEN, (
            f"Jira answered {status}: the app may not change this {ref.entity_type.value}'s "
            "properties."
        )
    if status != 404:
        return Outcome.FAILED, f"Jira answered {status} to the delete."
    if ref.entity_type is EntityType.APP:
        return Outcome.GONE, "Already absent: Jira answered 404."
    try:
        keys = await client.list_property_keys(ref.entity_type, ref.entity_id)
    except JiraError as exc:
        return Outcome.NOT_VERIFIED, f"Jira answered 404 and the key list failed: {exc}"
    if keys is None:
        return Outcome.NOT_VERIFIED, (
            f"Jira answered 404 and the {ref.entity_type.value} is not visible to the app: "
            "it was deleted, or it is hidden from the app."
        )
    if ref.key in keys:
        return Outcome.FAILED, "Jira answered 404 to the delete but still lists the property."

    return Outcome.GONE, "Already absent: the entity is visible and holds no such property."
