"""Value objects shared across propledger: entity types, property references, states."""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import StrEnum
from typing import Any, TypeAlias
from urllib.parse import urlsplit

__all__ = [
    "EntityType",
    "Installation",
    "InstallationState",
    "InventoryRow",
    "ItemState",
    "JSONValue",
    "JobState",
    "Outcome",
    "PropertyRef",
    "RemovalItem",
    "RemovalJob",
    "RowSource",
    "RowState",
    "utcnow",
]

JSONValue: TypeAlias = Any
"""A value that ``json.dumps`` accepts: dict, list, str, int, float, bool or None."""


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class EntityType(StrEnum):
    """A kind of Jira entity that can carry properties.

    ``APP`` stands for app properties, which are stored against the app itself: their
    entity id is the app key.
    """

    ISSUE = "issue"
    USER = "user"
    PROJECT = "project"
    COMMENT = "comment"
    APP = "app"


@dataclasses.dataclass(frozen=True, slots=True)
class PropertyRef:
    """One property in a site: the entity it belongs to and its key.

    ``entity_id`` is the numeric issue, project or comment id, the user's account id,
    or the app key for app properties. Issue keys are never used because they change
    when an issue moves to another project.
    """

    entity_type: EntityType
    entity_id: str
    key: str

    def __str__(self) -> str:
        return f"{self.entity_type.value} {self.entity_id} property {self.key!r}"


class InstallationState(StrEnum):
    """Lifecycle state of an installation, as the signed lifecycle callbacks set it."""

    INSTALLED = "installed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"
    SUPERSEDED = "superseded"


@dataclasses.dataclass(frozen=True, slots=True)
class Installation:
    """The app installed on one site, named by its Connect client key.

    ``base_url`` is the site's base URL without a trailing slash.
    """

    client_key: str
    base_url: str
    shared_secret: str = dataclasses.field(repr=False)
    state: InstallationState = InstallationState.INSTALLED
    display_url: str | None = None
    installed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def host(self) -> str:
        """The site's host name, such as ``example.atlassian.net``."""
        return urlsplit(self.base_url).hostname or ""


class RowState(StrEnum):
    """State of one inventory row.

    ``PENDING`` rows were recorded before a write whose outcome is not known yet. They
    count as present for removal, because the write may have reached the site.
    """

    PENDING = "pending"
    PRESENT = "present"
    REMOVED = "removed"
    GONE = "gone"


class JobState(StrEnum):
    """State of a removal job."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_ISSUES = "completed_with_issues"

    @property
    def is_active(self) -> bool:
        """Whether the job still has work to do."""
        return self in (JobState.QUEUED, JobState.RUNNING)


class ItemState(StrEnum):
    """Progress of one property within a removal job."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"


class Outcome(StrEnum):
    """The result of one property's deletion during a removal.

    Only ``DELETED`` and ``GONE`` mean the property is verified absent from the site. A
    404 from an entity the app cannot see may mean the entity is gone or merely hidden
    from the app, so it is ``NOT_VERIFIED``, never a success.
    """

    DELETED = "deleted"
    GONE = "gone"
    NOT_VERIFIED = "not_verified"
    FORBIDDEN = "forbidden"
    FAILED = "failed"

    @property
    def is_removed(self) -> bool:
        """Whether the property is verified absent from the site."""
        return self in (Outcome.DELETED, Outcome.GONE)


@dataclasses.dataclass(frozen=True, slots=True)
class RemovalJob:
    """A removal of every inventoried property of one installation."""

    id: str
    client_key: str
    requested_by: str
    state: JobState
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = None


class RowSource(StrEnum):
    """The origin of an inventory row: a tracked write, or a scan of the site."""

    WRITE = "write"
    SCAN = "scan"


@dataclasses.dataclass(frozen=True, slots=True)
class InventoryRow:
    """propledger's record of one property the app wrote into a site.

    ``value_sha256`` and ``value_size`` describe the JSON text of the last value written;
    the value itself is never stored.
    """

    client_key: str
    ref: PropertyRef
    state: RowState
    source: RowSource
    first_written_at: dt.datetime
    last_written_at: dt.datetime
    value_sha256: str | None = None
    value_size: int | None = None
    removed_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RemovalItem:
    """One property within a removal job, with its progress and outcome."""

    job_id: str
    ref: PropertyRef
    state: ItemState
    outcome: Outcome | None = None
    detail: str | None = None
    finished_at: dt.datetime | None = None
