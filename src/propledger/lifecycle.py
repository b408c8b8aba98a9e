"""Installation lifecycle: what the installed, enabled, disabled and uninstalled events do.

The events arrive already verified (see ``propledger.web.lifecycle``). Rules:
``disabled`` never overwrites ``uninstalled``; only ``installed`` or ``enabled`` leave
``uninstalled``; a repeat ``installed`` updates the row in place; a new client key on a
base URL another installation holds (a site import) supersedes the old installation,
whose inventory stays for export and removal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from propledger.errors import InvalidPayloadError
from propledger.model import Installation, InstallationState, utcnow
from propledger.store import Store

__all__ = ["LifecyclePayload", "apply_event", "apply_installed"]

logger = logging.getLogger("propledger.lifecycle")

_INACTIVE = (InstallationState.UNINSTALLED, InstallationState.SUPERSEDED)


@dataclasses.dataclass(frozen=True, slots=True)
class LifecyclePayload:
    """The fields propledger reads from a lifecycle callback's JSON body."""

    event_type: str
    client_key: str
    base_url: str
    shared_secret: str | None = dataclasses.field(default=None, repr=False)
    display_url: str | None = None

    @classmethod
    def parse(cls, body: object, *, event_type: str) -> LifecyclePayload:
        """Validate a callback body, raising :class:`InvalidPayloadError` naming the field."""
        if not isinstance(body, Mapping):
            raise InvalidPayloadError("The lifecycle payload is not a JSON object.")
        client_key = _text(body, "clientKey")
        base_url = _text(body, "baseUrl").rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise InvalidPayloadError(
                f"The lifecycle payload's baseUrl {base_url!r} is not an http(s) URL."
            )
        secret = _text(body, "sharedSecret") if event_type == "installed" else None
        display_url = body.get("displayUrl")

        return cls(
            event_type=event_type,
            client_key=client_key,
            base_url=base_url,
            shared_secret=secret,
            display_url=display_url if isinstance(display_url, str) else None,
        )


async def apply_installed(store: Store, payload: LifecyclePayload) -> Installation:
    """Store a (re)installation with its new shared secret and base URL."""
    if payload.shared_secret is None:
        raise InvalidPayloadError("The installed payload lacks the sharedSecret field.")
    existing = await store.find_installation(payload.client_key)
    for other in await store.find_installation_by_base_url(payload.base_url):
        if (
            other.client_key != payload.client_key
            and other.state is not InstallationState.SUPERSEDED
        ):
            await store.set_installation_state(other.client_key, InstallationState.SUPERSEDED)
            logger.info(
                "Installation superseded by a new client key on the same base URL",
                extra={"event": "lifecycle.superseded", "client_key": other.client_key},
            )
    now = utcnow()
    installation = Installation(
        client_key=payload.client_key,
        base_url=payload.base_url,
        shared_secret=payload.shared_secret,
        state=InstallationState.INSTALLED,
        display_url=payload.display_url,
        installed_at=existing.installed_at if existing else now,
        updated_at=now,
    )
    await store.save_installation(installation)
    logger.info(
        "Installation %s",
        "updated" if existing else "added",
        extra={"event": "lifecycle.installed", "client_key": payload.client_key},
    )

    return installation


async def apply_event(store: Store, client_key: str, event_type: str) -> Installation:
    """Apply ``enabled``, ``disabled`` or ``uninstalled`` to a stored installation."""
    installation = await store.get_installation(client_key)
    target = _next_state(installation.state, event_type)
    if target is installation.state:
        return installation
    updated = await store.set_installation_state(client_key, target)
    logger.info(
        "Installation %s -> %s",
        installation.state.value,
        target.value,
        extra={"event": f"lifecycle.{event_type}", "client_key": client_key},
    )

    return updated


def _next_state(current: InstallationState, event_type: str) -> InstallationState:
    if current is InstallationState.SUPERSEDED:
        return current
    if event_type == "enabled":
        return InstallationState.ENABLED
    if event_type == "disabled":
        return current if current in _INACTIVE else InstallationState.DISABLED
    if event_type == "uninstalled":
        return InstallationState.UNINSTALLED
    raise InvalidPayloadError(f"The lifecycle event {event_type!r} is unknown.")


def _text(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidPayloadError(
            f"The lifecycle payload lacks the {field} field, or it is not a non-empty string."
        )

    return value
