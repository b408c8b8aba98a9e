"""The Atlassian Connect app descriptor, rendered from a template for one deployment.

The rendered descriptor always declares JWT authentication, the four lifecycle
callbacks, the ``signed-install`` and ``context-qsh`` API migrations, and the least
scopes propledger needs: ``READ`` to list and read properties, ``WRITE`` to set them
and ``DELETE`` to remove them. More scopes are added only when asked for.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from propledger.errors import ConfigurationError

__all__ = [
    "CONNECT_SCOPES",
    "LEAST_SCOPES",
    "default_template_path",
    "load_descriptor_template",
    "render_descriptor",
]

_TEMPLATE_NAME = "atlassian-connect.json"
_APP_KEY = re.compile(r"[A-Za-z0-9._-]{1,80}")
"""Connect's rule for app keys, from the descriptor's JSON schema."""

LEAST_SCOPES = ("READ", "WRITE", "DELETE")

CONNECT_SCOPES = frozenset(
    {
        "NONE",
        "READ",
        "WRITE",
        "DELETE",
        "PROJECT_ADMIN",
        "SPACE_ADMIN",
        "ADMIN",
        "ACT_AS_USER",
        "ACCESS_EMAIL_ADDRESSES",
    }
)
"""The scopes a Connect descriptor can request."""

LIFECYCLE_EVENTS = ("installed", "uninstalled", "enabled", "disabled")


def default_template_path() -> Path:
    """Return the descriptor template shipped with propledger.

    A wheel carries it beside this module; a source checkout keeps it in manifests/.
    """
    packaged = Path(__file__).with_name(_TEMPLATE_NAME)
    if packaged.is_file():
        return packaged

    return Path(__file__).resolve().parents[3] / "manifests" / _TEMPLATE_NAME


def load_descriptor_template(path: Path) -> dict[str, Any]:
    """Read a descriptor template, raising ConfigurationError when it is missing or invalid."""
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"The descriptor template {str(path)!r} does not exist. Pass --template with the "
            "path of manifests/atlassian-connect.json."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"The descriptor template {str(path)!r} cannot be read as JSON: {exc}."
        ) from None
    if not isinstance(template, dict):
        raise ConfigurationError(f"The descriptor template {str(path)!r} is not a JSON object.")

    return template


def render_descriptor(
    template: Mapping[str, Any],
    *,
    base_url: str,
    app_key: str | None = None,
    extra_scopes: Iterable[str] = (),
) -> dict[str, Any]:
    """Return the descriptor for an app served at ``base_url``.

    ``app_key`` replaces the template's key. ``extra_scopes`` adds Connect scopes to
    the least ones; an unknown scope raises ConfigurationError.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise ConfigurationError(
            f"The base URL {base_url!r} is not an http(s) URL. Give the URL Jira reaches the "
            "app at, such as https://app.example.com."
        )
    if app_key is not None and not _APP_KEY.fullmatch(app_key):
        raise ConfigurationError(
            f"The app key {app_key!r} is invalid. Connect app keys have at most 80 letters, "
            "digits, dots, dashes and underscores, such as com.example.app."
        )
    descriptor = copy.deepcopy(dict(template))
    descriptor["baseUrl"] = base_url.rstrip("/")
    if app_key is not None:
        descriptor["key"] = app_key
    descriptor["authentication"] = {"type": "jwt"}
    descriptor["apiMigrations"] = {
        **descriptor.get("apiMigrations", {}),
        "signed-install": True,
        "context-qsh": True,
    }
    descriptor["lifecycle"] = {event: f"/{event}" for event in LIFECYCLE_EVENTS}
    descriptor["scopes"] = _scopes(extra_scopes)

    return descriptor


def _scopes(extra_scopes: Iterable[str]) -> list[str]:
    scopes = list(LEAST_SCOPES)
    for scope in extra_scopes:
        normalized = scope.strip().upper()
        if normalized not in CONNECT_SCOPES:
            raise ConfigurationError(
                f"The scope {scope!r} is not a Connect scope. "
                f"Use one of {', '.join(sorted(CONNECT_SCOPES))}."
            )
        if normalized not in scopes:
            scopes.append(normalized)

    return scopes
