"""Job status and receipts: what a removal deleted, found gone, or could not remove."""

from __future__ import annotations

import datetime as dt
from typing import Any

from propledger.model import Outcome, RemovalJob
from propledger.store import Store

__all__ = ["job_status", "removal_receipt"]

_UNREMOVED = [outcome for outcome in Outcome if not outcome.is_removed]


async def job_status(store: Store, job_id: str, *, client_key: str) -> dict[str, Any]:
    """Return a removal's state and its counts per entity type and outcome, as JSON data.

    Raises :class:`~propledger.RemovalNotFoundError` when the job does not exist or
    belongs to another installation.
    """
    job = await store.get_job(job_id, client_key=client_key)
    counts = {
        entity_type.value: states
        for entity_type, states in sorted((await store.job_counts(job.id)).items())
    }

    return _job_fields(job) | {"counts": counts, "totals": _totals(counts)}


async def removal_receipt(store: Store, job_id: str, *, client_key: str) -> dict[str, Any]:
    """Return the receipt of a removal: counts, and every property not removed with why."""
    status = await job_status(store, job_id, client_key=client_key)
    installation = await store.get_installation(client_key)
    items = await store.list_items(job_id, outcomes=_UNREMOVED)
    not_removed = [
        {
            "entity_type": item.ref.entity_type.value,
            "entity_id": item.ref.entity_id,
            "key": item.ref.key,
            "outcome": item.outcome.value if item.outcome else None,
            "reason": item.detail,
        }
        for item in items
    ]

    return {
        "receipt_for": "propledger removal",
        "installation": {"client_key": installation.client_key, "base_url": installation.base_url},
        **status,
        "not_removed": not_removed,
    }


def _job_fields(job: RemovalJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state.value,
        "active": job.state.is_active,
        "requested_by": job.requested_by,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def _totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for states in counts.values():
        for name, count in states.items():
            totals[name] = totals.get(name, 0) + count

    return dict(sorted(totals.items()))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
