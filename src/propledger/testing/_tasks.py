"""Long-running tasks of a simulated site, as Jira's bulk operations create them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

__all__ = ["FakeTask", "TaskOptions"]


def _now_millis() -> int:
    return int(time.time() * 1000)


@dataclasses.dataclass(slots=True)
class TaskOptions:
    """Options for the tasks of a simulated site.

    With ``running_polls`` 0 a task does its work when it is submitted, so the first poll
    finds it finished. Otherwise the first ``running_polls`` polls find it RUNNING with
    growing progress, and the poll after them does the work. The next ``fail_next``
    tasks end FAILED without changing anything, as Jira's transactional tasks do.
    """

    running_polls: int = 0
    fail_next: int = 0


@dataclasses.dataclass(eq=False, slots=True)
class FakeTask:
    """One task: its id, status and progress, and the work it does once.

    ``submitted_by`` is the app key or the account id of the caller that submitted it,
    the only caller besides an admin that may read it.
    """

    id: str
    url: str
    description: str
    submitted_by: str
    work: Callable[[], None] = dataclasses.field(repr=False)
    running_polls: int = 0
    fails: bool = False
    status: str = "ENQUEUED"
    progress: int = 0
    polls: int = 0
    submitted: int = dataclasses.field(default_factory=_now_millis)
    started: int | None = None
    finished: int | None = None
    last_update: int = dataclasses.field(default_factory=_now_millis)

    @property
    def is_finished(self) -> bool:
        """Whether the task has ended."""
        return self.status in ("COMPLETE", "FAILED", "CANCELLED", "DEAD")

    def poll(self) -> None:
        """Advance the task by one poll: report progress, or do the work when it is due."""
        if self.is_finished:
            return
        self.polls += 1
        if self.polls <= self.running_polls:
            self.status = "RUNNING"
            self.started = self.started or _now_millis()
            self.progress = 100 * self.polls // (self.running_polls + 1)
            self.last_update = _now_millis()
            return
        self.execute()

    def execute(self) -> None:
        """Do the work, or fail without doing it, and end the task."""
        self.started = self.started or _now_millis()
        if self.fails:
            self.status = "FAILED"
        else:
            self.work()
            self.status = "COMPLETE"
            self.progress = 100
        self.finished = _now_millis()
        self.last_update = self.finished

    def to_json(self) -> dict[str, Any]:
        """Return the task as Jira's TaskProgressBean JSON object."""
        body: dict[str, Any] = {
            "self": self.url,
            "id": self.id,
            "description": self.description,
            "status": self.status,
            # Jira reports the submitter as a legacy numeric user id; apps have none.
            "submittedBy": 0,
            "progress": self.progress,
            "elapsedRuntime": (self.finished or _now_millis()) - (self.started or self.submitted),
            "submitted": self.submitted,
            "lastUpdate": self.last_update,
        }
        if self.started is not None:
            body["started"] = self.started
        if self.finished is not None:
            body["finished"] = self.finished
        if self.status == "FAILED":
            body["message"] = "The task failed, and no property was deleted."

        return body
