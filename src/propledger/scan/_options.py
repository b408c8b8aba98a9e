"""Options of a scan, and the pacer that spaces its requests."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

from propledger.errors import ConfigurationError
from propledger.model import EntityType

__all__ = [
    "DEFAULT_JQL",
    "SCANNABLE_TYPES",
    "ProgressCallback",
    "RequestPacer",
    "ScanOptions",
]

DEFAULT_JQL = "project is not EMPTY ORDER BY id ASC"
"""A bounded query that finds every issue: Jira rejects a query with no restriction."""

# NOTE: comment properties are not scanned. Finding them needs one request per issue to
# list its comments; comment rows in the inventory are left as they are.
SCANNABLE_TYPES = (EntityType.ISSUE, EntityType.USER, EntityType.PROJECT, EntityType.APP)
"""The entity types a scan can enumerate, in the order a rebuild scans them."""

ProgressCallback = Callable[[EntityType, int, int | None], None]
"""Called as ``progress(entity_type, entities_done, entities_total)``; the total may be None."""


@dataclasses.dataclass(frozen=True, slots=True)
class ScanOptions:
    """The entities a scan enumerates and the pace of its requests.

    ``account_ids`` adds users to the users the inventory already names.
    ``search_users`` also lists every user with ``GET /rest/api/3/users/search``, which
    Jira allows only to a user with an API token, never to a Connect app. ``jql`` must
    be a bounded query that finds every issue to scan. ``concurrency`` is the most
    requests in flight at once, and ``max_requests_per_second``, when set, spaces the
    start of the entity listings and value reads. ``max_pages`` caps each paged search.
    """

    entity_types: tuple[EntityType, ...] = SCANNABLE_TYPES
    account_ids: tuple[str, ...] = ()
    search_users: bool = False
    jql: str = DEFAULT_JQL
    concurrency: int = 8
    max_requests_per_second: float | None = None
    max_pages: int = 10_000

    def __post_init__(self) -> None:
        unsupported = [kind.value for kind in self.entity_types if kind not in SCANNABLE_TYPES]
        if unsupported:
            names = ", ".join(kind.value for kind in SCANNABLE_TYPES)
            raise ConfigurationError(
                f"A scan cannot enumerate {', '.join(unsupported)} properties. "
                f"Choose among: {names}."
            )
        if not self.jql.strip():
            raise ConfigurationError("The scan's JQL query is empty. Give a bounded query.")
        if self.concurrency < 1:
            raise ConfigurationError(
                f"The scan concurrency {self.concurrency} is below 1. Use 1 or more."
            )
        rate = self.max_requests_per_second
        if rate is not None and rate <= 0:
            raise ConfigurationError(
                f"The request rate {rate} is not positive. Give requests per second above 0."
            )
        if self.max_pages < 1:
            raise ConfigurationError(f"max_pages must be at least 1, got {self.max_pages}.")


class RequestPacer:
    """Space the start of requests at least ``1 / rate`` seconds apart, across tasks.

    With ``rate`` None, :meth:`wait` returns at once.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    async def wait(self) -> None:
        """Wait until the next request may start."""
        if not self._interval:
            return
        # The lock is held while sleeping, so waiting tasks start one interval apart.
        async with self._lock:
            delay = self._next_start - self._clock()
            if delay > 0:
                await self._sleep(delay)
            self._next_start = max(self._clock(), self._next_start) + self._interval
