"""Inventory exports: CSV, JSON Lines and JSON, streamed in constant memory.

Each record describes one property the app wrote: where it is, its key, its state and
times, and the size and SHA-256 of its JSON value. Values and secrets are never part
of an export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from propledger.errors import ConfigurationError
from propledger.model import InventoryRow
from propledger.store import Store

__all__ = ["EXPORT_FIELDS", "EXPORT_FORMATS", "export_inventory", "row_record"]

EXPORT_FIELDS = (
    "entity_type",
    "entity_id",
    "property_key",
    "state",
    "source",
    "first_written_at",
    "last_written_at",
    "removed_at",
    "value_size",
    "value_sha256",
)

EXPORT_FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson", "json": "application/json"}
"""Export formats and their media types."""


def row_record(row: InventoryRow) -> dict[str, Any]:
    """Return one inventory row as an export record, with the fields of EXPORT_FIELDS."""
    return {
        "entity_type": row.ref.entity_type.value,
        "entity_id": row.ref.entity_id,
        "property_key": row.ref.key,
        "state": row.state.value,
        "source": row.source.value,
        "first_written_at": row.first_written_at.isoformat(),
        "last_written_at": row.last_written_at.isoformat(),
        "removed_at": row.removed_at.isoformat() if row.removed_at else None,
        "value_size": row.value_size,
        "value_sha256": row.value_sha256,
    }


async def export_inventory(
    store: Store, client_key: str, export_format: str, *, batch_size: int = 1000
) -> AsyncIterator[str]:
    """Yield the installation's inventory as text chunks in ``export_format``.

    Raises :class:`~propledger.ConfigurationError` for an unknown format before
    yielding anything.
    """
    if export_format not in EXPORT_FORMATS:
        raise ConfigurationError(
            f"The export format {export_format!r} is unknown. Use one of: "
            f"{', '.join(EXPORT_FORMATS)}."
        )
    rows = store.iter_inventory(client_key, batch_size=batch_size)
    if export_format == "csv":
        return _csv(rows)
    if export_format == "jsonl":
        return _jsonl(rows)

    return _json(rows)


async def _csv(rows: AsyncIterator[InventoryRow]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    async for row in rows:
        writer.writerow(row_record(row))
        if buffer.tell() > 64 * 1024:
            yield _drain(buffer)
    yield _drain(buffer)


async def _jsonl(rows: AsyncIterator[InventoryRow]) -> AsyncIterator[str]:
    async for row in rows:
        yield json.dumps(row_record(row), separators=(",", ":")) + "\n"


async def _json(rows: AsyncIterator[InventoryRow]) -> AsyncIterator[str]:
    separator = "[\n"
    async for row in rows:
        yield separator + json.dumps(row_record(row), separators=(",", ":"))
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()

    return text
