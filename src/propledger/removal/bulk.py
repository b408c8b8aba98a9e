"""Deletion of issue properties in bulk: one Jira task per chunk of issues with one key.

For each property key, the job's pending issue items are claimed in chunks of
``bulk_chunk_size`` and deleted with one bulk delete. Jira's task skips issues the app
cannot see or edit and still ends COMPLETE, so a COMPLETE task is checked with one
ids-only search: issues it returns count as deleted, the others as not verified.
Chunks whose submit is rejected, whose task does not complete, or whose check fails
fall back to one DELETE per issue.

Items are marked in flight before the submit and done after the check. A worker that
dies in between leaves them in flight. The next worker submits the chunk again, and
that second task finds nothing left to delete.

NOTE: an issue the app can see but not edit passes the check although Jira skipped
it, so its property counts as deleted. A Connect app can edit every issue unless a
permission scheme takes Edit Issues from its project role.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from propledger.errors import JiraError
from propledger.jira import (
    JiraClient,
    TaskPolling,
    TaskStatus,
    bulk_delete_issue_property,
    search_issues,
    wait_for_task,
)
from propledger.jira._search import MAX_PAGE_IDS_ONLY
from propledger.model import EntityType, Outcome, PropertyRef, RemovalItem
from propledger.removal.items import ItemDeleter, not_visible_reason
from propledger.store import Store

__all__ = ["IssueBulkDeleter", "sweep_keys"]

logger = logging.getLogger("propledger.removal")

_ISSUE = (EntityType.ISSUE,)


class _FallBack(Exception):
    """A chunk that bulk deletion could not handle. Its items go one DELETE at a time."""


class IssueBulkDeleter:
    """Deletes a job's issue properties in bulk tasks, chunk by chunk and key by key."""

    def __init__(
        self,
        store: Store,
        client: JiraClient,
        job_id: str,
        *,
        chunk_size: int,
        polling: TaskPolling,
        fallback: ItemDeleter,
    ) -> None:
        self._store = store
        self._client = client
        self._job_id = job_id
        self._chunk_size = chunk_size
        self._polling = polling
        self._fallback = fallback

    async def run(self) -> None:
        """Delete every pending issue item of the job, one chunk at a time."""
        for key in await self._store.pending_keys(self._job_id, EntityType.ISSUE):
            while True:
                items = await self._store.claim_items(
                    self._job_id, limit=self._chunk_size, entity_types=_ISSUE, property_key=key
                )
                if not items:
                    break
                await self._delete_chunk(key, items)

    async def _delete_chunk(self, key: str, items: Sequence[RemovalItem]) -> None:
        # Bulk deletion accepts only numeric issue ids, so any other id goes on its own.
        numeric = [item for item in items if _issue_id(item.ref) is not None]
        others = [item for item in items if _issue_id(item.ref) is None]
        if others:
            await self._fallback.delete_items(others)
        if not numeric:
            return
        ids = [int(item.ref.entity_id) for item in numeric]
        try:
            task = await self._run_task(key, ids)
            visible = await _visible_issue_ids(self._client, ids)
        except _FallBack as exc:
            logger.warning(
                "Removal %s deletes %d issue properties %r one by one: %s",
                self._job_id,
                len(numeric),
                key,
                exc,
                extra={"event": "removal.bulk_fallback", "job_id": self._job_id, "key": key},
            )
            await self._fallback.delete_items(numeric)
            return
        await self._finish(key, task, numeric, visible)

    async def _run_task(self, key: str, ids: list[int]) -> TaskStatus:
        try:
            task_path = await bulk_delete_issue_property(self._client, key, ids)
            task = await wait_for_task(self._client, task_path, polling=self._polling)
        except JiraError as exc:
            raise _FallBack(f"the bulk delete failed: {exc}") from exc
        if not task.is_finished:
            raise _FallBack(
                f"bulk task {task.id} did not finish within {self._polling.deadline:g} seconds"
            )
        if not task.is_complete:
            raise _FallBack(f"bulk task {task.id} ended {task.status}")

        return task

    async def _finish(
        self, key: str, task: TaskStatus, items: Sequence[RemovalItem], visible: set[str]
    ) -> None:
        hidden = not_visible_reason(EntityType.ISSUE, f"Bulk task {task.id} completed")
        results = [
            (item.ref, Outcome.DELETED, None)
            if str(_issue_id(item.ref)) in visible
            else (item.ref, Outcome.NOT_VERIFIED, hidden)
            for item in items
        ]
        await self._store.finish_items(self._job_id, results)
        unverified = sum(1 for _, outcome, _ in results if outcome is Outcome.NOT_VERIFIED)
        logger.info(
            "Removal %s: bulk task %s deleted property %r from %d issues, %d not verified",
            self._job_id,
            task.id,
            key,
            len(items) - unverified,
            unverified,
            extra={"event": "removal.bulk_chunk", "job_id": self._job_id, "task_id": task.id},
        )


async def _visible_issue_ids(client: JiraClient, ids: Sequence[int]) -> set[str]:
    # An ids-only search page contains up to 5000 issues, so one request checks a chunk.
    jql = f"id in ({','.join(str(issue_id) for issue_id in ids)})"
    found: set[str] = set()
    try:
        async for issue in search_issues(client, jql, fields=["id"], page_size=MAX_PAGE_IDS_ONLY):
            found.add(str(issue.get("id")))
    except JiraError as exc:
        raise _FallBack(f"the search that checks the bulk task failed: {exc}") from exc

    return found


async def sweep_keys(client: JiraClient, keys: Sequence[str], *, polling: TaskPolling) -> None:
    """Send the empty-filter bulk delete for each key and wait for each task.

    The empty filter reaches every issue the app can see and edit, so it also deletes
    properties the inventory never recorded, such as those written before the app
    adopted propledger. A failure is logged and the next key is swept.
    """
    for key in keys:
        try:
            task_path = await bulk_delete_issue_property(client, key, None)
            task = await wait_for_task(client, task_path, polling=polling)
        except JiraError as exc:
            logger.warning("Sweeping issue property %r failed: %s", key, exc)
            continue
        if task.is_complete:
            logger.info("Swept issue property %r from every issue the app can edit", key)
        else:
            logger.warning("Sweeping issue property %r ended with task status %s", key, task.status)


def _issue_id(ref: PropertyRef) -> int | None:
    entity_id = ref.entity_id
    if not (entity_id.isascii() and entity_id.isdigit()):
        return None

    return int(entity_id)
