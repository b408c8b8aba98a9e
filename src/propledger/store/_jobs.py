"""Removal jobs: at most one active job per installation, owned by one worker at a time."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Row, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from propledger.errors import ConfigurationError, PropledgerError, RemovalNotFoundError
from propledger.model import JobState, RemovalJob, utcnow
from propledger.store._base import StoreBase
from propledger.store._schema import ACTIVE_JOB_STATES, removal_jobs

__all__ = ["JobQueries", "job_not_found"]

logger = logging.getLogger("propledger.store")

# How many candidate jobs claim_job tries when other workers win the first ones.
_CLAIM_CANDIDATES = 10

# create_job retries when its insert loses a race and the winning job ends before it
# can be read back. Needing more than a few rounds would mean something else is wrong.
_CREATE_ATTEMPTS = 3


def job_not_found(job_id: str, *, for_installation: bool = True) -> RemovalNotFoundError:
    """Build the error for a job that is missing or belongs to another installation.

    The message is the same in both cases, so that it reveals nothing about other
    installations' jobs.
    """
    scope = " for this installation" if for_installation else ""

    return RemovalNotFoundError(
        f"No removal job {job_id!r} was found{scope}. Check the job id, or start a new removal."
    )


def _job_from_row(row: Row[Any]) -> RemovalJob:
    return RemovalJob(
        id=row.id,
        client_key=row.client_key,
        requested_by=row.requested_by,
        state=row.state,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def _lease_until(lease_seconds: float) -> tuple[dt.datetime, dt.datetime]:
    if not lease_seconds > 0:
        raise ConfigurationError(f"lease_seconds must be positive, got {lease_seconds}.")
    now = utcnow()

    return now, now + dt.timedelta(seconds=lease_seconds)


async def _active_job(conn: AsyncConnection, client_key: str) -> RemovalJob | None:
    statement = select(removal_jobs).where(
        removal_jobs.c.client_key == client_key,
        removal_jobs.c.state.in_(ACTIVE_JOB_STATES),
    )
    row = (await conn.execute(statement)).first()

    return None if row is None else _job_from_row(row)


class JobQueries(StoreBase):
    """Store methods for removal jobs and their leases."""

    async def create_job(self, client_key: str, requested_by: str) -> tuple[RemovalJob, bool]:
        """Return the installation's active job and False, or a new queued job and True.

        A unique partial index allows one queued or running job per installation, so
        when two requests race, one insert fails and that request returns the winner.
        """
        for _ in range(_CREATE_ATTEMPTS):
            try:
                return await self._find_or_insert_job(client_key, requested_by)
            except IntegrityError:
                logger.debug("Another request created a removal job for %s first", client_key)
            async with self._read() as conn:
                active = await _active_job(conn, client_key)
            if active is not None:
                return active, False

        raise PropledgerError(
            f"Could not create or find an active removal job for {client_key!r} "
            f"after {_CREATE_ATTEMPTS} attempts, because other requests kept creating and "
            "ending jobs. Retry the request."
        )

    async def _find_or_insert_job(
        self, client_key: str, requested_by: str
    ) -> tuple[RemovalJob, bool]:
        job = RemovalJob(
            id=uuid.uuid4().hex,
            client_key=client_key,
            requested_by=requested_by,
            state=JobState.QUEUED,
            created_at=utcnow(),
        )
        async with self._write() as conn:
            active = await _active_job(conn, client_key)
            if active is not None:
                return active, False
            await conn.execute(
                removal_jobs.insert().values(
                    id=job.id,
                    client_key=job.client_key,
                    requested_by=job.requested_by,
                    state=job.state,
                    created_at=job.created_at,
                )
            )
        logger.info(
            "Created removal job %s for %s, requested by %s", job.id, client_key, requested_by
        )

        return job, True

    async def get_job(self, job_id: str, *, client_key: str | None = None) -> RemovalJob:
        """Return the job, checking that it belongs to ``client_key`` when one is given.

        Raises RemovalNotFoundError when the job is missing or belongs to another
        installation, with the same message in both cases.
        """
        # Ids are 32 hex digits; other text, such as a NUL that PostgreSQL rejects, is
        # simply not found.
        if not (0 < len(job_id) <= 32 and job_id.isascii() and job_id.isalnum()):
            raise job_not_found(job_id)
        statement = select(removal_jobs).where(removal_jobs.c.id == job_id)
        if client_key is not None:
            statement = statement.where(removal_jobs.c.client_key == client_key)
        async with self._read() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise job_not_found(job_id, for_installation=client_key is not None)

        return _job_from_row(row)

    async def latest_job(self, client_key: str) -> RemovalJob | None:
        """Return the installation's most recently created job, or None."""
        statement = (
            select(removal_jobs)
            .where(removal_jobs.c.client_key == client_key)
            .order_by(removal_jobs.c.created_at.desc(), removal_jobs.c.id)
            .limit(1)
        )
        async with self._read() as conn:
            row = (await conn.execute(statement)).first()

        return None if row is None else _job_from_row(row)

    async def set_job_state(self, job_id: str, state: JobState) -> RemovalJob:
        """Set the job's state and return it updated.

        Entering ``running`` sets ``started_at`` unless it is set already. Entering a
        completed state sets ``finished_at``. Raises RemovalNotFoundError for an unknown
        job id.
        """
        now = utcnow()
        values: dict[str, Any] = {"state": state}
        if state is JobState.RUNNING:
            values["started_at"] = func.coalesce(
                removal_jobs.c.started_at, literal(now, removal_jobs.c.started_at.type)
            )
        elif not state.is_active:
            values["finished_at"] = now
        statement = (
            update(removal_jobs)
            .where(removal_jobs.c.id == job_id)
            .values(values)
            .returning(*removal_jobs.c)
        )
        async with self._write() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise job_not_found(job_id)
        logger.info("Set removal job %s to state %s", job_id, state.value)

        return _job_from_row(row)

    async def claim_job(
        self, owner: str, *, lease_seconds: float, job_id: str | None = None
    ) -> RemovalJob | None:
        """Take the lease of an active job and return the job, or None if none is free.

        Takes ``job_id`` if given, else the oldest active job. A job is free when no worker
        holds its lease, the lease has expired, or ``owner`` holds it already. The
        conditional UPDATE makes the check and the take one step, so two workers can
        never both hold a job.
        """
        now, expires_at = _lease_until(lease_seconds)
        if job_id is not None:
            candidates = [job_id]
        else:
            candidates = await self._free_job_ids(owner, now)
        for candidate in candidates:
            job = await self._take_lease(candidate, owner, now, expires_at)
            if job is not None:
                logger.info("Worker %s took the lease of removal job %s", owner, job.id)
                return job

        return None

    async def _free_job_ids(self, owner: str, now: dt.datetime) -> list[str]:
        statement = (
            select(removal_jobs.c.id)
            .where(removal_jobs.c.state.in_(ACTIVE_JOB_STATES), self._lease_free(owner, now))
            .order_by(removal_jobs.c.created_at, removal_jobs.c.id)
            .limit(_CLAIM_CANDIDATES)
        )
        async with self._read() as conn:
            return list((await conn.scalars(statement)).all())

    async def _take_lease(
        self, job_id: str, owner: str, now: dt.datetime, expires_at: dt.datetime
    ) -> RemovalJob | None:
        statement = (
            update(removal_jobs)
            .where(
                removal_jobs.c.id == job_id,
                removal_jobs.c.state.in_(ACTIVE_JOB_STATES),
                self._lease_free(owner, now),
            )
            .values(lease_owner=owner, lease_expires_at=expires_at)
            .returning(*removal_jobs.c)
        )
        async with self._write() as conn:
            row = (await conn.execute(statement)).first()

        return None if row is None else _job_from_row(row)

    @staticmethod
    def _lease_free(owner: str, now: dt.datetime) -> ColumnElement[bool]:
        return or_(
            removal_jobs.c.lease_owner.is_(None),
            removal_jobs.c.lease_expires_at <= now,
            removal_jobs.c.lease_owner == owner,
        )

    async def renew_lease(self, job_id: str, owner: str, *, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease. Returns False if another worker has taken the job."""
        _, expires_at = _lease_until(lease_seconds)
        statement = (
            update(removal_jobs)
            .where(removal_jobs.c.id == job_id, removal_jobs.c.lease_owner == owner)
            .values(lease_expires_at=expires_at)
        )
        async with self._write() as conn:
            result = await conn.execute(statement)
        if result.rowcount == 0:
            logger.warning("Worker %s lost the lease of removal job %s", owner, job_id)
            return False

        return True

    async def release_lease(self, job_id: str, owner: str) -> None:
        """Give up ``owner``'s lease, unless another worker has taken the job."""
        statement = (
            update(removal_jobs)
            .where(removal_jobs.c.id == job_id, removal_jobs.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        async with self._write() as conn:
            await conn.execute(statement)
