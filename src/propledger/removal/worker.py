"""Workers take removal jobs from the store and run them, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from propledger.ledger import Ledger
from propledger.model import RemovalJob
from propledger.removal.runner import LeaseLostError, RemovalRunner

__all__ = ["Worker"]

logger = logging.getLogger("propledger.removal")


class Worker:
    """Claims removal jobs through a lease and runs them.

    A job whose worker died is taken over once its lease expires; one whose worker
    stopped cleanly is released at once.
    """

    def __init__(self, ledger: Ledger, *, owner: str | None = None, poll_interval: float = 2.0):
        self._ledger = ledger
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._poll_interval = poll_interval

    async def run_once(self, job_id: str | None = None) -> RemovalJob | None:
        """Claim one runnable job (``job_id``, or the oldest) and run it to the end.

        Returns the finished job, or None when no job could be claimed.
        """
        store = self._ledger.store
        job = await store.claim_job(
            self.owner, lease_seconds=self._ledger.settings.lease_seconds, job_id=job_id
        )
        if job is None:
            return None
        logger.info(
            "Worker %s runs removal %s",
            self.owner,
            job.id,
            extra={"event": "removal.claimed", "job_id": job.id, "client_key": job.client_key},
        )
        try:
            return await RemovalRunner(self._ledger, owner=self.owner).run(job)
        except LeaseLostError:
            logger.warning("Worker %s lost removal %s to another worker", self.owner, job.id)
            return None
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(store.release_lease(job.id, self.owner))

    async def run_forever(self) -> None:
        """Run jobs as they arrive until cancelled."""
        changed = self._ledger.jobs_changed
        while True:
            changed.clear()
            try:
                if await self.run_once() is not None:
                    continue
            except Exception:
                # One failing job must not stop the worker; the job's lease lapses and
                # the job is tried again.
                logger.exception("Worker %s failed while running a removal", self.owner)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), self._poll_interval)
