"""Installation lifecycle: what the installed, enabled, disabled and uninstalled events do.

The events arrive already verified (see ``propledger.web.lifecycle``). :data:`TRANSITIONS`
is the whole state machine. Its rules: ``disabled`` never overwrites ``uninstalled``;
only ``installed`` or ``enabled`` leave ``uninstalled``; a repeat ``installed`` keeps an
``enabled`` or ``disabled`` state and updates the row in place; ``superseded`` is left
only by a signed ``installed`` of the same client key. A new client key on a base URL
another installation uses (a site import) supersedes that installation, whose
inventory stays attributed to it for export and removal.

The events Jira sends together commute: ``installed`` and ``enabled`` end in
``enabled``, and ``disabled`` and ``uninstalled`` end in ``uninstalled``, in either
order, and every event is idempotent. Each event is applied atomically in the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from propledger.errors import InvalidPayloadError
from propledger.forge import FORGE_CLIENT_KEY_PREFIX
from propledger.model import Installation, InstallationState
from propledger.store import LifecycleResult, Store

__all__ = [
    "FORGE_CLIENT_KEY_PREFIX",
    "MAX_CLIENT_KEY_LENGTH",
    "TRANSITIONS",
    "LifecycleEvent",
    "LifecyclePayload",
    "apply_event",
    "apply_installed",
    "next_state",
]

MAX_CLIENT_KEY_LENGTH = 255
MAX_URL_LENGTH = 2048
MAX_SHARED_SECRET_LENGTH = 512


class LifecycleEvent(StrEnum):
    """A lifecycle callback Jira sends to a Connect app."""

    INSTALLED = "installed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"


_S = InstallationState
_E = LifecycleEvent

TRANSITIONS: Mapping[tuple[InstallationState | None, LifecycleEvent], InstallationState] = {
    # A new installation (no row yet) can only be created by installed.
    (None, _E.INSTALLED): _S.INSTALLED,
    (_S.INSTALLED, _E.INSTALLED): _S.INSTALLED,
    (_S.INSTALLED, _E.ENABLED): _S.ENABLED,
    (_S.INSTALLED, _E.DISABLED): _S.DISABLED,
    (_S.INSTALLED, _E.UNINSTALLED): _S.UNINSTALLED,
    (_S.ENABLED, _E.INSTALLED): _S.ENABLED,
    (_S.ENABLED, _E.ENABLED): _S.ENABLED,
    (_S.ENABLED, _E.DISABLED): _S.DISABLED,
    (_S.ENABLED, _E.UNINSTALLED): _S.UNINSTALLED,
    (_S.DISABLED, _E.INSTALLED): _S.DISABLED,
    (_S.DISABLED, _E.ENABLED): _S.ENABLED,
    (_S.DISABLED, _E.DISABLED): _S.DISABLED,
    (_S.DISABLED, _E.UNINSTALLED): _S.UNINSTALLED,
    (_S.UNINSTALLED, _E.INSTALLED): _S.INSTALLED,
    (_S.UNINSTALLED, _E.ENABLED): _S.ENABLED,
    (_S.UNINSTALLED, _E.DISABLED): _S.UNINSTALLED,
    (_S.UNINSTALLED, _E.UNINSTALLED): _S.UNINSTALLED,
    (_S.SUPERSEDED, _E.INSTALLED): _S.INSTALLED,
    (_S.SUPERSEDED, _E.ENABLED): _S.SUPERSEDED,
    (_S.SUPERSEDED, _E.DISABLED): _S.SUPERSEDED,
    (_S.SUPERSEDED, _E.UNINSTALLED): _S.SUPERSEDED,
}
"""The next state for each (current state, event); None stands for no installation yet."""


def next_state(current: InstallationState | None, event: LifecycleEvent) -> InstallationState:
    """Return the state an installation moves to; raise for an event it cannot take."""
    target = TRANSITIONS.get((current, event))
    if target is None:
        raise InvalidPayloadError(
            f"The {event.value} event cannot apply to an installation that is not stored. "
            "Jira sends installed first."
        )

    return target


@dataclasses.dataclass(frozen=True, slots=True)
class LifecyclePayload:
    """The fields propledger reads from a lifecycle callback's JSON body."""

    event_type: LifecycleEvent
    client_key: str
    base_url: str
    shared_secret: str | None = dataclasses.field(default=None, repr=False)
    display_url: str | None = None

    @classmethod
    def parse(
        cls, body: object, *, event_type: LifecycleEvent, app_key: str | None = None
    ) -> LifecyclePayload:
        """Validate a callback body, raising :class:`InvalidPayloadError` naming the field.

        ``app_key``, when given, must match the body's ``key``; the body's ``eventType``,
        when present, must match ``event_type``.
        """
        if not isinstance(body, Mapping):
            raise InvalidPayloadError("The lifecycle payload is not a JSON object.")
        _check_addressed(body, event_type, app_key)
        client_key = _text(body, "clientKey", MAX_CLIENT_KEY_LENGTH)
        if client_key.startswith(FORGE_CLIENT_KEY_PREFIX):
            raise InvalidPayloadError(
                f"The clientKey must not start with {FORGE_CLIENT_KEY_PREFIX!r}, "
                "which propledger reserves for Forge installations."
            )
        secret = None
        if event_type is LifecycleEvent.INSTALLED:
            secret = _text(body, "sharedSecret", MAX_SHARED_SECRET_LENGTH)
        display_url = body.get("displayUrl")

        return cls(
            event_type=event_type,
            client_key=client_key,
            base_url=_url(body, "baseUrl"),
            shared_secret=secret,
            display_url=None if display_url is None else _url(body, "displayUrl"),
        )


async def apply_installed(store: Store, payload: LifecyclePayload) -> LifecycleResult:
    """Store a signed (re)installation with its new shared secret and base URL."""
    if payload.shared_secret is None:
        raise InvalidPayloadError("The installed payload lacks the sharedSecret field.")
    installation = Installation(
        client_key=payload.client_key,
        base_url=payload.base_url,
        shared_secret=payload.shared_secret,
        display_url=payload.display_url,
    )

    return await store.install_installation(
        installation,
        event=LifecycleEvent.INSTALLED.value,
        rule=lambda current: next_state(current, LifecycleEvent.INSTALLED),
    )


async def apply_event(store: Store, client_key: str, event: LifecycleEvent) -> LifecycleResult:
    """Apply ``enabled``, ``disabled`` or ``uninstalled`` to a stored installation.

    Raises InstallationNotFoundError when no installation has the client key.
    """
    if event is LifecycleEvent.INSTALLED:
        raise InvalidPayloadError("Apply the installed event with apply_installed().")

    return await store.apply_installation_event(
        client_key, event.value, lambda current: next_state(current, event)
    )


def _check_addressed(
    body: Mapping[str, Any], event_type: LifecycleEvent, app_key: str | None
) -> None:
    key = body.get("key")
    if app_key is not None and key is not None and key != app_key:
        raise InvalidPayloadError(
            f"The lifecycle payload is for another app, not {app_key!r}. "
            "Check the app key in the descriptor."
        )
    event = body.get("eventType")
    if event is not None and event != event_type.value:
        raise InvalidPayloadError(
            f"The lifecycle payload's eventType does not match the {event_type.value} route."
        )


def _text(body: Mapping[str, Any], field: str, max_length: int) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidPayloadError(
            f"The lifecycle payload lacks the {field} field, or it is not a non-empty string."
        )
    if len(value) > max_length:
        raise InvalidPayloadError(
            f"The lifecycle payload's {field} is longer than {max_length} characters."
        )
    if not value.isprintable():
        raise InvalidPayloadError(
            f"The lifecycle payload's {field} contains control or non-printable characters."
        )

    return value


def _url(body: Mapping[str, Any], field: str) -> str:
    value = _text(body, field, MAX_URL_LENGTH).rstrip("/")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise InvalidPayloadError(f"The lifecycle payload's {field} is not a valid URL.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise InvalidPayloadError(
            f"The lifecycle payload's {field} is not an http(s) URL with a host name "
            "and no query string."
        )
    if parts.fragment or parts.username or parts.password or " " in value:
        raise InvalidPayloadError(
            f"The lifecycle payload's {field} has a fragment, credentials or spaces."
        )

    return value
