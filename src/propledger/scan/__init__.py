"""Inventory rebuild: scan a site for the app's properties and reconcile the inventory.

For apps that adopted propledger late or lost their inventory::

    client = await ledger.jira_client(installation)
    summary = await rebuild_inventory(
        ledger.store, client, installation, ledger.settings.scope, app_key=ledger.settings.app_key
    )
    print(summary.total)
"""

from propledger.scan._options import (
    DEFAULT_JQL,
    SCANNABLE_TYPES,
    ProgressCallback,
    RequestPacer,
    ScanOptions,
)
from propledger.scan._rebuild import RebuildSummary, read_account_ids, rebuild_inventory
from propledger.scan._reconcile import ReconcileCounts, Reconciler
from propledger.scan._scanner import Found, SiteScanner

__all__ = [
    "DEFAULT_JQL",
    "SCANNABLE_TYPES",
    "Found",
    "ProgressCallback",
    "RebuildSummary",
    "ReconcileCounts",
    "Reconciler",
    "RequestPacer",
    "ScanOptions",
    "SiteScanner",
    "read_account_ids",
    "rebuild_inventory",
]
