"""Removal: delete every property of an installation from its site, and prove it.

A removal is planned (read-only), requested (by a Jira admin, or by the operator's CLI),
then run by a worker that owns the job through a lease in the store, and ends with a
receipt.
"""

from propledger.removal.plan import RemovalPlan, plan_removal
from propledger.removal.receipt import job_status, removal_receipt
from propledger.removal.request import request_removal, start_removal
from propledger.removal.runner import RemovalRunner
from propledger.removal.worker import Worker

__all__ = [
    "RemovalPlan",
    "RemovalRunner",
    "Worker",
    "job_status",
    "plan_removal",
    "removal_receipt",
    "request_removal",
    "start_removal",
]
