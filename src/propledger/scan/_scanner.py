"""The scanner: find the properties within the key scope that a site holds.

Issues are found with the enhanced JQL search. When the key scope has only exact keys,
the search returns their values directly, up to five keys per pass. Key prefixes cannot
be searched for, so then the search lists issue ids only and the scanner lists each
issue's property keys. Users, projects and the app itself are listed entity by entity.
Every value found is read and digested, so that reconcile can detect drift.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

from propledger.errors import ConfigurationError, JiraError
from propledger.hashing import ValueDigest, digest_value
from propledger.jira import JiraClient, count_issues, search_issues, search_projects, search_users
from propledger.jira._search import MAX_SEARCH_PROPERTY_KEYS
from propledger.model import EntityType, PropertyRef
from propledger.scan._options import ProgressCallback, RequestPacer, ScanOptions
from propledger.scope import KeyScope

__all__ = ["Found", "SiteScanner"]

logger = logging.getLogger("propledger.scan")

T = TypeVar("T")

Found = dict[PropertyRef, ValueDigest]
"""The properties a scan found, each with the digest of its current value."""

LISTING_BATCH = 500
"""Entities whose keys are listed concurrently before the scanner reads more ids."""


class _Progress:
    def __init__(self, callback: ProgressCallback | None, entity_type: EntityType) -> None:
        self._callback = callback
        self._entity_type = entity_type
        self.done = 0
        self.total: int | None = None

    def start(self, total: int | None) -> None:
        self.total = total
        self._report()

    def advance(self) -> None:
        self.done += 1
        self._report()

    def finish(self) -> None:
        # The total may have been unknown or approximate until now.
        if self.total != self.done:
            self.total = self.done
            self._report()

    def _report(self) -> None:
        if self._callback is not None:
            self._callback(self._entity_type, self.done, self.total)


class SiteScanner:
    """Scan one site for the properties within ``scope``.

    Keys outside the scope are never read, and a key containing ``/`` is skipped with
    a warning, because Jira's REST API cannot read it back.
    """

    def __init__(
        self,
        client: JiraClient,
        scope: KeyScope,
        *,
        app_key: str,
        options: ScanOptions = ScanOptions(),  # noqa: B008 - the options are frozen
        progress: ProgressCallback | None = None,
    ) -> None:
        self._client = client
        self._scope = scope
        self._app_key = app_key
        self._options = options
        self._progress = progress
        self._semaphore = asyncio.Semaphore(options.concurrency)
        self._pacer = RequestPacer(options.max_requests_per_second)

    async def scan(self, entity_type: EntityType, *, account_ids: Iterable[str] = ()) -> Found:
        """Return the properties of one entity type within the scope that the site contains.

        ``account_ids`` names the users to scan, in addition to those of
        ``ScanOptions.account_ids`` and, with ``ScanOptions.search_users``, every user
        of the site.
        """
        progress = _Progress(self._progress, entity_type)
        found = await self._scan(entity_type, account_ids, progress)
        progress.finish()

        return found

    async def _scan(
        self, entity_type: EntityType, account_ids: Iterable[str], progress: _Progress
    ) -> Found:
        if entity_type is EntityType.ISSUE:
            if self._scope.prefixes:
                return await self._scan_issues_by_listing(progress)
            return await self._scan_issues_by_search(progress)
        if entity_type is EntityType.USER:
            return await self._scan_users([*account_ids, *self._options.account_ids], progress)
        if entity_type is EntityType.PROJECT:
            progress.start(None)
            return await self._list_all(EntityType.PROJECT, self._project_ids(), progress)
        if entity_type is EntityType.APP:
            progress.start(1)
            return await self._list_each(EntityType.APP, [self._app_key], progress)
        raise ConfigurationError(f"A scan cannot enumerate {entity_type.value} properties.")

    async def property_keys(self, entity_type: EntityType, entity_id: str) -> list[str] | None:
        """Return every property key of one entity, or None when Jira returns 404.

        The request waits for the scanner's concurrency limit and request pacing.
        """
        return await self._call(partial(self._client.list_property_keys, entity_type, entity_id))

    async def _scan_issues_by_search(self, progress: _Progress) -> Found:
        keys = sorted(self._scope.keys)
        step = MAX_SEARCH_PROPERTY_KEYS
        passes = [keys[start : start + step] for start in range(0, len(keys), step)]
        progress.start(await self._issue_total(len(passes)))
        found: Found = {}
        for pass_keys in passes:
            async for issue in self._search(properties=pass_keys):
                issue_id = _issue_id(issue)
                values = issue.get("properties")
                if issue_id is not None and isinstance(values, dict):
                    for key in pass_keys:
                        if key in values:
                            ref = PropertyRef(EntityType.ISSUE, issue_id, key)
                            found[ref] = digest_value(values[key])
                progress.advance()

        return found

    async def _scan_issues_by_listing(self, progress: _Progress) -> Found:
        progress.start(await self._issue_total(1))

        return await self._list_all(EntityType.ISSUE, self._issue_ids(), progress)

    async def _scan_users(self, account_ids: list[str], progress: _Progress) -> Found:
        known = list(dict.fromkeys(account_id for account_id in account_ids if account_id))

        async def every_account_id() -> AsyncIterator[str]:
            for account_id in known:
                yield account_id
            if not self._options.search_users:
                return
            seen = set(known)
            async for user in search_users(self._client, max_pages=self._options.max_pages):
                found_id = user.get("accountId")
                if isinstance(found_id, str) and found_id and found_id not in seen:
                    seen.add(found_id)
                    yield found_id

        progress.start(None if self._options.search_users else len(known))

        return await self._list_all(EntityType.USER, every_account_id(), progress)

    async def _issue_total(self, passes: int) -> int | None:
        if self._progress is None:
            return None
        try:
            count = await count_issues(self._client, self._options.jql)
        except JiraError as exc:
            logger.warning("Counting the issues to scan failed, so progress has no total: %s", exc)
            return None

        return count * passes

    def _search(self, properties: Sequence[str] = ()) -> AsyncIterator[dict[str, Any]]:
        return search_issues(
            self._client,
            self._options.jql,
            properties=properties,
            max_pages=self._options.max_pages,
        )

    async def _issue_ids(self) -> AsyncIterator[str]:
        async for issue in self._search():
            issue_id = _issue_id(issue)
            if issue_id is not None:
                yield issue_id

    async def _project_ids(self) -> AsyncIterator[str]:
        async for project in search_projects(self._client, max_pages=self._options.max_pages):
            project_id = project.get("id")
            if isinstance(project_id, str) and project_id.isdigit():
                yield project_id

    async def _list_all(
        self, entity_type: EntityType, entity_ids: AsyncIterator[str], progress: _Progress
    ) -> Found:
        found: Found = {}
        batch: list[str] = []
        async for entity_id in entity_ids:
            batch.append(entity_id)
            if len(batch) >= LISTING_BATCH:
                found.update(await self._list_each(entity_type, batch, progress))
                batch = []
        found.update(await self._list_each(entity_type, batch, progress))

        return found

    async def _list_each(
        self, entity_type: EntityType, entity_ids: list[str], progress: _Progress
    ) -> Found:
        found: Found = {}

        async def read(entity_id: str) -> None:
            found.update(await self._read_entity(entity_type, entity_id))
            progress.advance()

        await run_all(read(entity_id) for entity_id in entity_ids)

        return found

    async def _read_entity(self, entity_type: EntityType, entity_id: str) -> Found:
        keys = await self.property_keys(entity_type, entity_id)
        found: Found = {}
        for key in keys or []:
            if key not in self._scope:
                continue
            if "/" in key:
                logger.warning(
                    "Skipped %s %s key %s: Jira cannot read back a key containing '/'",
                    entity_type.value,
                    entity_id,
                    key,
                    extra={"event": "scan.unreadable_key"},
                )
                continue
            ref = PropertyRef(entity_type, entity_id, key)
            value = await self._call(partial(self._client.get_property, ref))
            # None means the property was deleted after its key was listed.
            if value is not None:
                found[ref] = digest_value(value)

        return found

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        async with self._semaphore:
            await self._pacer.wait()
            return await request()


async def run_all(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the coroutines concurrently; on a failure cancel the rest and raise the first error."""
    try:
        async with asyncio.TaskGroup() as group:
            for coroutine in coroutines:
                group.create_task(coroutine)
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None


def _issue_id(issue: dict[str, Any]) -> str | None:
    issue_id = issue.get("id")
    if isinstance(issue_id, int) and not isinstance(issue_id, bool):
        issue_id = str(issue_id)
    if not isinstance(issue_id, str) or not issue_id.isdigit():
        logger.warning(
            "Skipped a search result without a numeric issue id",
            extra={"event": "scan.issue_without_id"},
        )
        return None

    return issue_id
