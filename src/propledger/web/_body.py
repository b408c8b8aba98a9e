"""Reading request bodies with a size limit, so a huge body is rejected early."""

from __future__ import annotations

import json

from starlette.requests import Request

from propledger.errors import InvalidPayloadError

__all__ = ["MAX_BODY_BYTES", "BodyTooLargeError", "read_json"]

MAX_BODY_BYTES = 64 * 1024
"""Largest request body the lifecycle and Forge routes read; Jira's payloads are ~1 KB."""


class BodyTooLargeError(InvalidPayloadError):
    """The request body is larger than the route accepts (returned as 413)."""


async def read_json(request: Request, *, max_bytes: int = MAX_BODY_BYTES) -> object:
    """Read and parse a JSON body of at most ``max_bytes`` bytes.

    Raises BodyTooLargeError for a larger body, stopping at the limit, and
    InvalidPayloadError for a body that is not UTF-8 JSON.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidPayloadError("The request body is not valid UTF-8 JSON.") from exc


def _too_large(max_bytes: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"The request body is larger than {max_bytes} bytes.")
