"""Rebuild an installation's inventory: scan its site, then reconcile, one entity type at a time."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from propledger.errors import ConfigurationError
from propledger.jira import JiraClient
from propledger.model import EntityType, Installation, utcnow
from propledger.scan._options import ProgressCallback, ScanOptions
from propledger.scan._reconcile import ReconcileCounts, Reconciler
from propledger.scan._scanner import SiteScanner
from propledger.scope import KeyScope
from propledger.store import Store

__all__ = ["RebuildSummary", "read_account_ids", "rebuild_inventory"]

logger = logging.getLogger("propledger.scan")


@dataclasses.dataclass(frozen=True, slots=True)
class RebuildSummary:
    """The outcome of a rebuild: the reconcile counts of each entity type scanned."""

    client_key: str
    dry_run: bool
    counts: Mapping[EntityType, ReconcileCounts]

    @property
    def total(self) -> ReconcileCounts:
        """The counts summed over every entity type."""
        return sum(self.counts.values(), ReconcileCounts())

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data."""
        return {
            "installation": self.client_key,
            "dry_run": self.dry_run,
            "entity_types": {kind.value: counts.as_dict() for kind, counts in self.counts.items()},
            "total": self.total.as_dict(),
        }


async def rebuild_inventory(
    store: Store,
    client: JiraClient,
    installation: Installation,
    scope: KeyScope,
    *,
    app_key: str,
    options: ScanOptions = ScanOptions(),  # noqa: B008 - the options are frozen
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> RebuildSummary:
    """Scan the installation's site with ``client`` and reconcile its inventory.

    ``client`` may sign as the app or as an operator with an API token, but it must
    point at the installation's base URL. Users are scanned from the account ids the
    inventory names plus those of ``options``. With ``dry_run`` the store is only read.
    Raises :class:`~propledger.ConfigurationError` for a client of another site, and
    :class:`~propledger.JiraError` when a request to Jira fails.
    """
    if client.base_url != installation.base_url.rstrip("/"):
        raise ConfigurationError(
            f"The Jira client points at {client.base_url}, but installation "
            f"{installation.client_key} is at {installation.base_url}. Scan the "
            "installation's own site."
        )
    client_key = installation.client_key
    scanner = SiteScanner(client, scope, app_key=app_key, options=options, progress=progress)
    reconciler = Reconciler(store, scanner, client_key, scope, dry_run=dry_run)
    counts: dict[EntityType, ReconcileCounts] = {}
    for entity_type in options.entity_types:
        started_at = utcnow()
        account_ids: list[str] = []
        if entity_type is EntityType.USER:
            account_ids = await store.list_entity_ids(client_key, EntityType.USER)
        found = await scanner.scan(entity_type, account_ids=account_ids)
        counts[entity_type] = await reconciler.reconcile(entity_type, found, started_at)
        logger.info(
            "Rebuilt the %s inventory of %s%s: %s",
            entity_type.value,
            client_key,
            " (dry run)" if dry_run else "",
            counts[entity_type].as_dict(),
            extra={"event": "scan.reconciled", "client_key": client_key},
        )

    return RebuildSummary(client_key, dry_run, counts)


def read_account_ids(path: Path) -> list[str]:
    """Read Atlassian account ids from a text file, one per line.

    Blank lines and lines starting with ``#`` are skipped. Raises
    :class:`~propledger.ConfigurationError` when the file cannot be read.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"The account id file {path} cannot be read ({exc.__class__.__name__}). "
            "Give a UTF-8 text file with one account id per line."
        ) from exc

    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
