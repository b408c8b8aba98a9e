"""Stored installations: one row per client key."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Row, select, update

from propledger.errors import InstallationNotFoundError
from propledger.model import Installation, InstallationState, utcnow
from propledger.store._base import StoreBase
from propledger.store._schema import installations
from propledger.store._secrets import SecretCodec

__all__ = ["InstallationQueries", "installation_from_row", "installation_not_found"]

logger = logging.getLogger("propledger.store")


def installation_from_row(row: Row[Any], secrets: SecretCodec) -> Installation:
    """Build an installation from its row, decrypting the shared secret."""
    return Installation(
        client_key=row.client_key,
        base_url=row.base_url,
        shared_secret=secrets.decode(row.shared_secret),
        state=row.state,
        display_url=row.display_url,
        installed_at=row.installed_at,
        updated_at=row.updated_at,
    )


def installation_not_found(client_key: str) -> InstallationNotFoundError:
    return InstallationNotFoundError(
        f"No installation is stored under client key {client_key!r}. "
        "Check the client key, or install the app on that site first."
    )


class InstallationQueries(StoreBase):
    """Store methods for installations."""

    async def save_installation(self, inst: Installation) -> None:
        """Insert the installation, or update the stored one with the same client key.

        ``installed_at`` defaults to now for a new installation and is kept for an
        existing one unless ``inst`` carries a value. ``updated_at`` is always now.
        """
        now = utcnow()
        values = {
            "client_key": inst.client_key,
            "base_url": inst.base_url.rstrip("/"),
            "shared_secret": self._secrets.encode(inst.shared_secret),
            "state": inst.state,
            "display_url": inst.display_url,
            "updated_at": now,
        }
        changes = {name: value for name, value in values.items() if name != "client_key"}
        if inst.installed_at is not None:
            changes["installed_at"] = inst.installed_at
        statement = (
            self._insert(installations)
            .values(**values, installed_at=inst.installed_at or now)
            .on_conflict_do_update(index_elements=["client_key"], set_=changes)
        )
        async with self._write() as conn:
            await conn.execute(statement)
        logger.info(
            "Saved installation %s of %s in state %s",
            inst.client_key,
            inst.base_url,
            inst.state.value,
        )

    async def find_installation(self, client_key: str) -> Installation | None:
        """Return the installation stored under the client key, or None."""
        statement = select(installations).where(installations.c.client_key == client_key)
        async with self._read() as conn:
            row = (await conn.execute(statement)).first()

        return None if row is None else installation_from_row(row, self._secrets)

    async def get_installation(self, client_key: str) -> Installation:
        """Return the installation stored under the client key.

        Raises InstallationNotFoundError when there is none.
        """
        inst = await self.find_installation(client_key)
        if inst is None:
            raise installation_not_found(client_key)

        return inst

    async def find_installation_by_base_url(self, base_url: str) -> list[Installation]:
        """Return every installation on the site, oldest first.

        A site import gives the same base URL a new client key, so there can be several.
        A trailing slash on ``base_url`` is ignored.
        """
        statement = (
            select(installations)
            .where(installations.c.base_url == base_url.rstrip("/"))
            .order_by(installations.c.installed_at, installations.c.client_key)
        )
        async with self._read() as conn:
            rows = (await conn.execute(statement)).all()

        return [installation_from_row(row, self._secrets) for row in rows]

    async def list_installations(self) -> list[Installation]:
        """Return every stored installation, ordered by client key."""
        statement = select(installations).order_by(installations.c.client_key)
        async with self._read() as conn:
            rows = (await conn.execute(statement)).all()

        return [installation_from_row(row, self._secrets) for row in rows]

    async def set_installation_state(
        self, client_key: str, state: InstallationState
    ) -> Installation:
        """Set the installation's state and return it updated.

        Raises InstallationNotFoundError when no installation has the client key.
        """
        statement = (
            update(installations)
            .where(installations.c.client_key == client_key)
            .values(state=state, updated_at=utcnow())
            .returning(*installations.c)
        )
        async with self._write() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise installation_not_found(client_key)
        logger.info("Set installation %s to state %s", client_key, state.value)

        return installation_from_row(row, self._secrets)

    async def rotate_secrets(self) -> int:
        """Re-encrypt every stored shared secret with the first key and return how many.

        Secrets stored as plain text, before a key was set, are encrypted as well. All
        rows change in one transaction, so a secret that no key decrypts leaves every
        row as it was. Raises ConfigurationError when no key is set or a secret cannot
        be decrypted.
        """
        columns = select(installations.c.client_key, installations.c.shared_secret)
        async with self._write() as conn:
            rows = (await conn.execute(columns)).all()
            for row in rows:
                await conn.execute(
                    update(installations)
                    .where(installations.c.client_key == row.client_key)
                    .values(shared_secret=self._secrets.rotate(row.shared_secret))
                )
        logger.info("Re-encrypted the shared secrets of %d installations", len(rows))

        return len(rows)
