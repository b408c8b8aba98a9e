"""Atomic lifecycle changes of installations, and the log of their state transitions.

Each change reads the installation, decides its next state and writes it in one
transaction that holds the lifecycle lock: BEGIN IMMEDIATE on SQLite, and a
transaction-scoped advisory lock on PostgreSQL. Concurrent deliveries of lifecycle
events are therefore applied one after another, never on a stale read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import Row, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from propledger.model import Installation, InstallationState, utcnow
from propledger.store._base import StoreBase
from propledger.store._installations import installation_from_row, installation_not_found
from propledger.store._schema import installation_transitions, installations

__all__ = ["InstallationTransition", "LifecycleQueries", "LifecycleResult", "StateRule"]

logger = logging.getLogger("propledger.store")

StateRule = Callable[[InstallationState | None], InstallationState]
"""Returns an installation's next state from its current one (None for a new installation)."""

# Key of the PostgreSQL advisory lock that serializes lifecycle changes. Lifecycle
# callbacks are rare, so one lock for all installations costs nothing, and it makes a
# site import see every installation that another import committed just before.
_LIFECYCLE_LOCK_KEY = 0x70726F706C6966  # "proplif" in ASCII


@dataclasses.dataclass(frozen=True, slots=True)
class InstallationTransition:
    """One change of an installation's state; ``from_state`` is None for a new one."""

    client_key: str
    event: str
    from_state: InstallationState | None
    to_state: InstallationState
    at: dt.datetime
    detail: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LifecycleResult:
    """The installation after a lifecycle event, and the transitions the event caused.

    ``transitions`` is empty when the event changed no state, for example when it was
    delivered twice. A site import also lists the installations it superseded.
    """

    installation: Installation
    transitions: tuple[InstallationTransition, ...] = ()


class LifecycleQueries(StoreBase):
    """Store methods that apply lifecycle events."""

    async def apply_installation_event(
        self, client_key: str, event: str, rule: StateRule
    ) -> LifecycleResult:
        """Move an installation to ``rule(current state)``, atomically.

        Raises InstallationNotFoundError when no installation has the client key.
        """
        async with self._lifecycle_transaction() as conn:
            row = await _select_installation(conn, client_key)
            if row is None:
                raise installation_not_found(client_key)
            current = row.state
            target = rule(current)
            if target is current:
                return LifecycleResult(installation_from_row(row, self._secrets))
            now = utcnow()
            statement = (
                update(installations)
                .where(installations.c.client_key == client_key)
                .values(state=target, updated_at=now)
                .returning(*installations.c)
            )
            row = (await conn.execute(statement)).one()
            transition = await _record(conn, client_key, event, current, target, now)
        _log_transition(transition)

        return LifecycleResult(installation_from_row(row, self._secrets), (transition,))

    async def install_installation(
        self, inst: Installation, *, event: str, rule: StateRule
    ) -> LifecycleResult:
        """Store a signed install of ``inst`` and supersede the others on its base URL.

        A known client key is updated in place: new shared secret, base URL and display
        URL, state ``rule(current state)``, and ``installed_at`` kept. A new one is
        inserted in state ``rule(None)``. Every other installation on the same base URL
        that is not superseded yet becomes superseded, and keeps its inventory.
        """
        base_url = inst.base_url.rstrip("/")
        async with self._lifecycle_transaction() as conn:
            existing = await _select_installation(conn, inst.client_key)
            current = existing.state if existing is not None else None
            target = rule(current)
            now = utcnow()
            superseded = await self._supersede_others(conn, inst.client_key, base_url, event, now)
            values = {
                "base_url": base_url,
                "shared_secret": self._secrets.encode(inst.shared_secret),
                "state": target,
                "display_url": inst.display_url,
                "updated_at": now,
            }
            if existing is None:
                await conn.execute(
                    insert(installations).values(
                        client_key=inst.client_key, installed_at=now, **values
                    )
                )
            else:
                await conn.execute(
                    update(installations)
                    .where(installations.c.client_key == inst.client_key)
                    .values(**values)
                )
            own: list[InstallationTransition] = []
            if target is not current:
                own.append(await _record(conn, inst.client_key, event, current, target, now))
            row = await _select_installation(conn, inst.client_key)
        if existing is not None and existing.base_url != base_url:
            logger.info(
                "Installation %s moved from %s to %s", inst.client_key, existing.base_url, base_url
            )
        for transition in (*own, *superseded):
            _log_transition(transition)
        if row is None:
            raise installation_not_found(inst.client_key)

        return LifecycleResult(installation_from_row(row, self._secrets), (*own, *superseded))

    async def list_transitions(self, client_key: str) -> list[InstallationTransition]:
        """Return the installation's state transitions, oldest first."""
        statement = (
            select(installation_transitions)
            .where(installation_transitions.c.client_key == client_key)
            .order_by(installation_transitions.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(statement)).all()

        return [_transition_from_row(row) for row in rows]

    async def _supersede_others(
        self, conn: AsyncConnection, client_key: str, base_url: str, event: str, now: dt.datetime
    ) -> list[InstallationTransition]:
        others = (
            select(installations.c.client_key, installations.c.state)
            .where(
                installations.c.base_url == base_url,
                installations.c.client_key != client_key,
                installations.c.state != InstallationState.SUPERSEDED,
            )
            .order_by(installations.c.client_key)
        )
        transitions = []
        for other in (await conn.execute(others)).all():
            await conn.execute(
                update(installations)
                .where(installations.c.client_key == other.client_key)
                .values(state=InstallationState.SUPERSEDED, updated_at=now)
            )
            detail = f"superseded by client key {client_key}"
            transitions.append(
                await _record(
                    conn,
                    other.client_key,
                    event,
                    other.state,
                    InstallationState.SUPERSEDED,
                    now,
                    detail,
                )
            )

        return transitions

    @contextlib.asynccontextmanager
    async def _lifecycle_transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self._write() as conn:
            if self._is_postgresql:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LIFECYCLE_LOCK_KEY}
                )
            yield conn


async def _select_installation(conn: AsyncConnection, client_key: str) -> Row[Any] | None:
    statement = select(installations).where(installations.c.client_key == client_key)

    return (await conn.execute(statement)).first()


async def _record(
    conn: AsyncConnection,
    client_key: str,
    event: str,
    from_state: InstallationState | None,
    to_state: InstallationState,
    at: dt.datetime,
    detail: str | None = None,
) -> InstallationTransition:
    transition = InstallationTransition(client_key, event, from_state, to_state, at, detail)
    await conn.execute(insert(installation_transitions).values(**dataclasses.asdict(transition)))

    return transition


def _transition_from_row(row: Row[Any]) -> InstallationTransition:
    return InstallationTransition(
        client_key=row.client_key,
        event=row.event,
        from_state=row.from_state,
        to_state=row.to_state,
        at=row.at,
        detail=row.detail,
    )


def _log_transition(transition: InstallationTransition) -> None:
    logger.info(
        "Installation %s went from %s to %s on %s",
        transition.client_key,
        transition.from_state.value if transition.from_state else "new",
        transition.to_state.value,
        transition.event,
        extra={"event": f"lifecycle.{transition.event}", "client_key": transition.client_key},
    )
