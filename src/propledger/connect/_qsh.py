"""The query string hash (qsh) that binds a Connect JWT to one HTTP request.

The canonical request is ``METHOD&path&query``. METHOD is upper case. The path is
relative to the receiver's base URL, with no trailing slash and ``&`` encoded as
``%26``. The query leaves out ``jwt`` and is sorted by name, with each name's values
sorted and joined by commas, all percent-encoded as RFC 3986 prescribes.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote_plus, urlsplit

__all__ = ["canonical_request", "query_string_hash"]


def canonical_request(method: str, url: str, base_url: str = "") -> str:
    """Return the canonical form of a request, as Atlassian Connect defines it.

    ``url`` may be absolute or just the request target (path and query). ``base_url``
    is the receiver's base URL; its path is removed from the front of the request path.
    """
    parts = urlsplit(url)

    return "&".join(
        (method.upper(), _canonical_path(parts.path, base_url), _canonical_query(parts.query))
    )


def query_string_hash(method: str, url: str, base_url: str = "") -> str:
    """Return the qsh claim for a request: the SHA-256 hex digest of its canonical form."""
    canonical = canonical_request(method, url, base_url)

    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _canonical_path(path: str, base_url: str) -> str:
    base_path = urlsplit(base_url).path.rstrip("/")
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        path = path[len(base_path) :]
    path = path.replace("&", "%26")
    if len(path) > 1:
        path = path.rstrip("/") or "/"

    return path or "/"


def _canonical_query(query: str) -> str:
    values: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote_plus(name)
        if name == "jwt":
            continue
        values.setdefault(name, []).append(unquote_plus(value))

    return "&".join(
        f"{_encode(name)}={','.join(_encode(value) for value in sorted(values[name]))}"
        for name in sorted(values)
    )


def _encode(text: str) -> str:
    # quote() keeps only RFC 3986's unreserved characters when safe is empty.
    return quote(text, safe="")
