"""Starting a removal: by a Jira admin over the web API, or by the operator."""

from __future__ import annotations

import logging

from propledger.errors import ConfirmationError, NotAdminError
from propledger.ledger import Ledger
from propledger.model import RemovalJob

__all__ = ["request_removal", "start_removal"]

logger = logging.getLogger("propledger.removal")


async def request_removal(
    ledger: Ledger, *, client_key: str, account_id: str, confirm: object
) -> tuple[RemovalJob, bool]:
    """Start a removal for a Jira admin who confirmed it by typing the site's host name.

    Returns the job and whether it was created. While a removal of the installation is
    queued or running, that job is returned instead of a new one. Raises
    :class:`~propledger.NotAdminError` before anything is recorded when the caller is
    not a Jira admin, and :class:`~propledger.ConfirmationError` when ``confirm`` is not
    the site's host name.
    """
    installation = await ledger.store.get_installation(client_key)
    if not await ledger.is_admin(installation, account_id):
        raise NotAdminError(
            "Only a Jira administrator of this site can remove the app's data. "
            "Ask a Jira admin to open this page."
        )
    if not isinstance(confirm, str) or confirm.strip().lower() != installation.host.lower():
        raise ConfirmationError(
            f"The confirmation does not match. Type the site's host name, {installation.host}, "
            "to confirm the removal."
        )

    return await start_removal(ledger, client_key=client_key, requested_by=account_id)


async def start_removal(
    ledger: Ledger, *, client_key: str, requested_by: str
) -> tuple[RemovalJob, bool]:
    """Queue a removal of every inventoried property of an installation.

    Returns the job and whether it was created; an active job is returned as it is.
    """
    job, created = await ledger.store.create_job(client_key, requested_by)
    if created:
        added = await ledger.store.add_job_items(job.id)
        logger.info(
            "Removal %s queued with %d properties",
            job.id,
            added,
            extra={"event": "removal.queued", "client_key": client_key, "job_id": job.id},
        )
        ledger.jobs_changed.set()

    return job, created
