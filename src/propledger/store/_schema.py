"""Tables of the store, and the column types that keep both backends alike."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from propledger.model import (
    EntityType,
    InstallationState,
    ItemState,
    JobState,
    Outcome,
    RowSource,
    RowState,
)

__all__ = [
    "ACTIVE_JOB_STATES",
    "ENTITY_ID_LENGTH",
    "PROPERTY_KEY_LENGTH",
    "StrEnumType",
    "UTCDateTime",
    "installation_transitions",
    "installations",
    "inventory",
    "metadata",
    "removal_items",
    "removal_jobs",
]

EnumT = TypeVar("EnumT", bound=StrEnum)

ENTITY_ID_LENGTH = 255
"""Room for a numeric id, an account id (up to 128 characters) or an app key."""

PROPERTY_KEY_LENGTH = 255
"""Jira's maximum length of an entity property key."""

ACTIVE_JOB_STATES = (JobState.QUEUED.value, JobState.RUNNING.value)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored in UTC and read back as an aware UTC datetime.

    SQLite has no time zones, so the value is stored there as naive UTC text in a
    fixed-width format, which keeps comparisons in SQL correct.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"The datetime {value.isoformat()} has no time zone. "
                "Pass an aware datetime such as propledger.model.utcnow()."
            )

        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)

        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"Expected a datetime from the database, got {type(value).__name__}.")
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)

        return value.astimezone(dt.UTC)


class StrEnumType(TypeDecorator[EnumT]):
    """A string enum member, stored as its ``.value`` and read back as the member."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[EnumT]) -> None:
        super().__init__(32)
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None

        return self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> EnumT | None:
        if value is None:
            return None

        return self.enum_class(value)


metadata = MetaData()

installations = Table(
    "installations",
    metadata,
    Column("client_key", String(255), primary_key=True),
    Column("base_url", String(2048), nullable=False),
    Column("shared_secret", Text, nullable=False),
    Column("state", StrEnumType(InstallationState), nullable=False),
    Column("display_url", String(2048)),
    Column("installed_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_installations_base_url", "base_url"),
)

# One row per change of an installation's state, written in the same transaction as
# the change, so that a lifecycle event delivered twice shows as one transition.
installation_transitions = Table(
    "installation_transitions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("client_key", String(255), nullable=False),
    Column("event", String(32), nullable=False),
    # None when the event created the installation.
    Column("from_state", StrEnumType(InstallationState)),
    Column("to_state", StrEnumType(InstallationState), nullable=False),
    Column("detail", String(512)),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_installation_transitions_client_key", "client_key", "id"),
)

inventory = Table(
    "inventory",
    metadata,
    # INTEGER (not BIGINT) on SQLite, so that the column is the rowid and autoincrements.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("client_key", String(255), nullable=False),
    Column("entity_type", StrEnumType(EntityType), nullable=False),
    Column("entity_id", String(ENTITY_ID_LENGTH), nullable=False),
    Column("property_key", String(PROPERTY_KEY_LENGTH), nullable=False),
    Column("state", StrEnumType(RowState), nullable=False),
    Column("source", StrEnumType(RowSource), nullable=False),
    Column("value_sha256", String(64)),
    Column("value_size", Integer),
    Column("first_written_at", UTCDateTime(), nullable=False),
    Column("last_written_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime()),
    UniqueConstraint(
        "client_key",
        "entity_type",
        "entity_id",
        "property_key",
        name="uq_inventory_property",
    ),
    Index("ix_inventory_client_key_state", "client_key", "state"),
    # iter_inventory reads an installation's rows in id order, a batch at a time. Without
    # this index SQLite sorts every row of the installation again for each batch.
    Index("ix_inventory_client_key_id", "client_key", "id"),
)

removal_jobs = Table(
    "removal_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("client_key", String(255), nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("state", StrEnumType(JobState), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("lease_owner", String(255)),
    Column("lease_expires_at", UTCDateTime()),
    Index("ix_removal_jobs_client_key_created_at", "client_key", "created_at"),
)

# At most one queued or running job per installation: the database itself rejects a
# second one, so two racing requests cannot both create a job.
Index(
    "uq_removal_jobs_active_client_key",
    removal_jobs.c.client_key,
    unique=True,
    sqlite_where=removal_jobs.c.state.in_(ACTIVE_JOB_STATES),
    postgresql_where=removal_jobs.c.state.in_(ACTIVE_JOB_STATES),
)

removal_items = Table(
    "removal_items",
    metadata,
    Column("job_id", String(32), ForeignKey("removal_jobs.id"), nullable=False),
    Column("entity_type", StrEnumType(EntityType), nullable=False),
    Column("entity_id", String(ENTITY_ID_LENGTH), nullable=False),
    Column("property_key", String(PROPERTY_KEY_LENGTH), nullable=False),
    Column("state", StrEnumType(ItemState), nullable=False),
    Column("outcome", StrEnumType(Outcome)),
    Column("detail", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    PrimaryKeyConstraint("job_id", "entity_type", "entity_id", "property_key"),
    Index("ix_removal_items_job_id_state", "job_id", "state"),
)
