"""Value digests that stay equal when Jira re-serializes a property value.

Jira stores a property value as JSON and may send it back with its object members in
another order or its non-ASCII characters escaped differently. The digest is therefore
taken over a canonical JSON text: sorted keys, compact separators, non-ASCII characters
as themselves. Both the tracked writer and the scanner use it, so a value the app wrote
and the same value read back from the site have the same digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from propledger.model import JSONValue

__all__ = ["ValueDigest", "canonical_json", "digest_value"]


@dataclasses.dataclass(frozen=True, slots=True)
class ValueDigest:
    """The SHA-256 of a value's canonical JSON text, in hex, and its length in characters."""

    sha256: str
    size: int


def canonical_json(value: JSONValue) -> str:
    """Return ``value`` as canonical JSON text: sorted keys, no spaces, no ASCII escapes.

    Raises ``ValueError`` for NaN or infinity and ``TypeError`` for a value that is not
    JSON, as ``json.dumps`` does.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def digest_value(value: JSONValue) -> ValueDigest:
    """Return the digest of ``value``, taken over its canonical JSON text."""
    text = canonical_json(value)

    return ValueDigest(hashlib.sha256(text.encode("utf-8")).hexdigest(), len(text))
