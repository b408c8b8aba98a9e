"""Inventory exports: CSV, JSON Lines and JSON, streamed in constant memory.

Each record describes one property the app wrote: where it is, its key, its state and
times, and the size and SHA-256 of its JSON value. Secrets are never part of an export.
The value itself is included only when asked for: it is then read from the site, row
by row, while the export streams.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from propledger.errors import ConfigurationError
from propledger.hashing import canonical_json
from propledger.jira import JiraClient
from propledger.model import InventoryRow, JSONValue, RowState
from propledger.store import Store

__all__ = [
    "EXPORT_FIELDS",
    "EXPORT_FORMATS",
    "ValueReader",
    "export_inventory",
    "row_record",
    "site_value_reader",
]

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

VALUE_BATCH = 100
"""Rows whose values are read from the site together."""

CHUNK_SIZE = 64 * 1024
"""Characters an export collects before it yields them as one chunk."""

ValueReader = Callable[[Sequence[InventoryRow]], Awaitable[list[JSONValue | None]]]
"""Returns the current value in the site of each row, or None where there is none."""


def site_value_reader(client: JiraClient, *, concurrency: int = 8) -> ValueReader:
    """Return a reader of the rows' current values from the site, through ``client``.

    Only pending and present rows are read, at most ``concurrency`` at a time. A row
    that is removed or gone reads as None, and so does one whose property Jira does not
    find. A failed read raises :class:`~propledger.JiraError` and ends the export.
    """
    semaphore = asyncio.Semaphore(concurrency)

    async def read_one(row: InventoryRow) -> JSONValue | None:
        if row.state not in (RowState.PENDING, RowState.PRESENT):
            return None
        async with semaphore:
            return await client.get_property(row.ref)

    async def read(rows: Sequence[InventoryRow]) -> list[JSONValue | None]:
        return list(await asyncio.gather(*(read_one(row) for row in rows)))

    return read


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
    store: Store,
    client_key: str,
    export_format: str,
    *,
    batch_size: int = 1000,
    values: ValueReader | None = None,
) -> AsyncIterator[str]:
    """Yield the installation's inventory as text chunks in ``export_format``.

    With ``values``, such as :func:`site_value_reader` returns, each record also has a
    ``value`` field: the property's current value, as JSON text in CSV. Raises
    :class:`~propledger.ConfigurationError` for an unknown format before yielding
    anything.
    """
    if export_format not in EXPORT_FORMATS:
        raise ConfigurationError(
            f"The export format {export_format!r} is unknown. Use one of: "
            f"{', '.join(EXPORT_FORMATS)}."
        )
    rows = store.iter_inventory(client_key, batch_size=batch_size)
    records = _records(rows) if values is None else _records_with_values(rows, values)
    if export_format == "csv":
        fields = EXPORT_FIELDS if values is None else (*EXPORT_FIELDS, "value")
        return _csv(records, fields)
    if export_format == "jsonl":
        return _chunked(_jsonl(records))

    return _chunked(_json(records))


async def _records(rows: AsyncIterator[InventoryRow]) -> AsyncIterator[dict[str, Any]]:
    async for row in rows:
        yield row_record(row)


async def _records_with_values(
    rows: AsyncIterator[InventoryRow], values: ValueReader
) -> AsyncIterator[dict[str, Any]]:
    batch: list[InventoryRow] = []
    async for row in rows:
        batch.append(row)
        if len(batch) == VALUE_BATCH:
            for record in await _with_values(batch, values):
                yield record
            batch = []
    for record in await _with_values(batch, values):
        yield record


async def _with_values(batch: list[InventoryRow], values: ValueReader) -> list[dict[str, Any]]:
    if not batch:
        return []
    read = await values(batch)

    return [row_record(row) | {"value": value} for row, value in zip(batch, read, strict=True)]


async def _csv(records: AsyncIterator[dict[str, Any]], fields: Sequence[str]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    async for record in records:
        if "value" in record:
            value = record["value"]
            record["value"] = "" if value is None else canonical_json(value)
        writer.writerow(record)
        if buffer.tell() > CHUNK_SIZE:
            yield _drain(buffer)
    yield _drain(buffer)


async def _jsonl(records: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async for record in records:
        yield json.dumps(record, separators=(",", ":")) + "\n"


async def _json(records: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    separator = "[\n"
    async for record in records:
        yield separator + json.dumps(record, separators=(",", ":"))
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


async def _chunked(pieces: AsyncIterator[str]) -> AsyncIterator[str]:
    # One chunk per record would mean a million writes for a million rows.
    chunk: list[str] = []
    size = 0
    async for piece in pieces:
        chunk.append(piece)
        size += len(piece)
        if size > CHUNK_SIZE:
            yield "".join(chunk)
            chunk = []
            size = 0
    if chunk:
        yield "".join(chunk)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()

    return text
