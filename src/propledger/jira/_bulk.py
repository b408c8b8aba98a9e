"""Bulk deletion of an issue property, and the asynchronous tasks Jira runs it in.

``DELETE /rest/api/3/issue/properties/{propertyKey}`` with a filter returns 303 with a
``Location`` header naming a task, and ``GET /rest/api/3/task/{taskId}`` reports the
task's status until it is COMPLETE, FAILED, CANCELLED or DEAD. Jira deletes the
property only from eligible issues: those in ``entityIds`` that the caller can see and
edit, or, with an empty filter, every issue the caller can see and edit. Issues that
are not eligible are skipped and the task still ends COMPLETE.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from propledger.errors import ConfigurationError, JiraResponseError
from propledger.jira._client import JiraClient
from propledger.jira._errors import read_json_object, response_error, unexpected_body

__all__ = [
    "BULK_PROPERTY_PATH",
    "TASK_FINISHED_STATUSES",
    "TaskPolling",
    "TaskStatus",
    "bulk_delete_issue_property",
    "get_task",
    "wait_for_task",
]

BULK_PROPERTY_PATH = "/rest/api/3/issue/properties/{key}"
TASK_FINISHED_STATUSES = frozenset({"COMPLETE", "FAILED", "CANCELLED", "DEAD"})
"""Statuses after which a task never changes again."""

_TASK_PATH = re.compile(r"/rest/api/(?:2|3|latest)/task/(?P<task_id>[A-Za-z0-9_-]+)$")


@dataclasses.dataclass(frozen=True, slots=True)
class TaskStatus:
    """One report of a Jira task: its id, status (such as ``RUNNING``) and progress in %."""

    id: str
    status: str
    progress: int = 0
    message: str | None = None

    @property
    def is_finished(self) -> bool:
        """Whether the task ended, successfully or not."""
        return self.status in TASK_FINISHED_STATUSES

    @property
    def is_complete(self) -> bool:
        """Whether the task ended successfully."""
        return self.status == "COMPLETE"


@dataclasses.dataclass(frozen=True, slots=True)
class TaskPolling:
    """When to poll a task: ``first_delay`` after the submit, then each delay times
    ``factor`` up to ``max_delay``, until ``deadline`` seconds after the submit.
    """

    first_delay: float = 0.2
    factor: float = 2.0
    max_delay: float = 5.0
    deadline: float = 300.0

    def __post_init__(self) -> None:
        if self.first_delay < 0 or self.max_delay < 0 or self.factor < 1 or self.deadline <= 0:
            raise ConfigurationError(
                f"The task polling {self} is invalid. Delays must not be negative, the factor "
                "must be at least 1 and the deadline positive."
            )


async def bulk_delete_issue_property(
    client: JiraClient, key: str, entity_ids: Sequence[int] | None
) -> str:
    """Ask Jira to delete the property ``key`` from many issues, and return the task's path.

    ``entity_ids`` are numeric issue ids. None sends the empty filter, which deletes the
    property from every issue the app can see and edit. The returned path is relative to
    the base URL, for :func:`wait_for_task`. Any response other than a 303 whose
    ``Location`` names a task of the same site raises :class:`~propledger.JiraResponseError`.
    """
    if not key:
        raise ConfigurationError("The property key is empty. Give the key to delete.")
    if entity_ids is not None and not entity_ids:
        raise ConfigurationError(
            "The list of issue ids is empty. Give at least one id, or None for every issue."
        )
    body: dict[str, Any] = {} if entity_ids is None else {"entityIds": list(entity_ids)}
    path = BULK_PROPERTY_PATH.format(key=quote(key, safe=""))
    response = await client.request("DELETE", path, json=body)
    if response.status_code != 303:
        raise response_error(response, "DELETE", path)
    location = response.headers.get("Location")
    if not location:
        raise JiraResponseError(
            f"Jira returned 303 for DELETE {path} without a Location header, so the task "
            "cannot be followed. Check that the base URL points at a Jira Cloud site.",
            status_code=303,
            method="DELETE",
            path=path,
        )

    return _task_path(client.base_url, location, path)


async def get_task(client: JiraClient, task_path: str) -> TaskStatus:
    """Return the current status of the task at ``task_path``."""
    response = await client.request("GET", task_path)
    if response.status_code != 200:
        raise response_error(response, "GET", task_path)
    body = read_json_object(response, "GET", task_path)
    status = body.get("status")
    if not isinstance(status, str):
        raise unexpected_body(response, "GET", task_path, "status")
    progress = body.get("progress")
    message = body.get("message")

    return TaskStatus(
        id=str(body.get("id", task_path.rpartition("/")[2])),
        status=status,
        progress=progress if isinstance(progress, int) else 0,
        message=message if isinstance(message, str) else None,
    )


async def wait_for_task(
    client: JiraClient,
    task_path: str,
    *,
    polling: TaskPolling = TaskPolling(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TaskStatus:
    """Poll the task until it finishes or the deadline passes, and return its last status.

    The last poll happens at the deadline at the latest, so a status that is not
    finished means the task outlived the deadline.
    """
    deadline = clock() + polling.deadline
    delay = polling.first_delay
    while True:
        await sleep(max(0.0, min(delay, deadline - clock())))
        status = await get_task(client, task_path)
        if status.is_finished or clock() >= deadline:
            return status
        delay = min(delay * polling.factor, polling.max_delay)


def _task_path(base_url: str, location: str, submit_path: str) -> str:
    # Only the task id is taken from Location, and the task is polled on the client's own
    # base URL, so the app's credentials never go to another host. Jira may name its own
    # site in Location even when the app calls it through a gateway such as Forge's.
    match = _TASK_PATH.search(urlsplit(urljoin(base_url + "/", location)).path)
    if match is None:
        raise JiraResponseError(
            f"Jira returned 303 for DELETE {submit_path} with a Location that names no task. "
            "Check that the base URL points at a Jira Cloud site.",
            status_code=303,
            method="DELETE",
            path=submit_path,
        )

    return f"/rest/api/3/task/{match['task_id']}"
