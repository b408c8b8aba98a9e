"""The ledger: one object that ties settings, the store and Jira clients together."""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType

import httpx

from propledger.forge import FORGE_CLIENT_KEY_PREFIX, ForgeSystemAuth
from propledger.jira import ConnectAuth, JiraClient, RateController, RetryPolicy
from propledger.model import EntityType, Installation, InstallationState, RowState
from propledger.settings import Settings
from propledger.store import Store
from propledger.tracking import TrackedSite

__all__ = ["ADMIN_CHECK_TTL", "Ledger"]

ADMIN_CHECK_TTL = 60.0
"""Seconds a positive admin check is cached."""
MIN_REQUEST_RATE = 0.5
"""Requests per second below which Jira's rate-limit signals never slow a site."""

logger = logging.getLogger("propledger.ledger")


class Ledger:
    """propledger for one app: the inventory, tracked sites and removals.

    Open it once per process and share it::

        async with await Ledger.open(Settings.from_env()) as ledger:
            site = await ledger.site(client_key)
            await site.issue(10001).set_property("com.example.app.checklist", [])
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.jobs_changed = asyncio.Event()
        self._clients: dict[str, tuple[Installation, JiraClient]] = {}
        self._admins: dict[tuple[str, str], float] = {}
        self._rates: dict[str, RateController] = {}

    @classmethod
    async def open(cls, settings: Settings) -> Ledger:
        """Open the store named by the settings, creating its tables on first use.

        Shared secrets are encrypted with ``settings.secret_keys``, if any.
        """
        store = await Store.open(settings.database_url, secret_keys=settings.secret_keys)

        return cls(settings, store)

    async def close(self) -> None:
        """Close every Jira client and the store."""
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await self.store.close()

    async def __aenter__(self) -> Ledger:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def retry_policy(self) -> RetryPolicy:
        """Return the retry policy for calls to Jira, from the settings."""
        return RetryPolicy(
            max_attempts=self.settings.retry_max_attempts,
            base_delay=self.settings.retry_base_delay,
        )

    def rate_controller(self, base_url: str) -> RateController:
        """Return the rate controller of the site at ``base_url``, creating it on first use.

        Every Jira client of one site shares it, so all requests to the site, from every
        job and tracked write of this process, slow down and pause together.
        """
        key = base_url.rstrip("/").lower()
        controller = self._rates.get(key)
        if controller is None:
            controller = RateController(
                initial_rate=self.settings.request_rate,
                max_rate=self.settings.max_request_rate,
                min_rate=min(MIN_REQUEST_RATE, self.settings.request_rate),
            )
            self._rates[key] = controller

        return controller

    async def jira_client(self, installation: Installation) -> JiraClient:
        """Return a Jira client that signs its requests as the app, for this installation.

        A superseded installation's own credentials died with the site import that
        superseded it, so its client signs with those of the installation that now
        uses the same base URL, if any; its inventory stays its own. Clients are reused
        until the base URL or shared secret they were built with changes.
        """
        credentials = await self._credentials(installation)
        cached = self._clients.get(installation.client_key)
        if cached is not None:
            known, client = cached
            if (known.base_url, known.shared_secret) == (
                credentials.base_url,
                credentials.shared_secret,
            ):
                return client
            await client.aclose()
        client = JiraClient(
            credentials.base_url,
            self._auth(credentials),
            retry=self.retry_policy(),
            transport=self.settings.jira_transport,
            forge=credentials.client_key.startswith(FORGE_CLIENT_KEY_PREFIX),
            rate=self.rate_controller(credentials.base_url),
        )
        self._clients[installation.client_key] = (credentials, client)

        return client

    async def _credentials(self, installation: Installation) -> Installation:
        if installation.state is not InstallationState.SUPERSEDED:
            return installation
        for other in await self.store.find_installation_by_base_url(installation.base_url):
            if other.state not in (InstallationState.SUPERSEDED, InstallationState.UNINSTALLED):
                logger.info(
                    "Calling Jira for superseded installation %s with the credentials of %s",
                    installation.client_key,
                    other.client_key,
                )
                return other

        return installation

    def _auth(self, installation: Installation) -> httpx.Auth:
        if installation.client_key.startswith(FORGE_CLIENT_KEY_PREFIX):
            # A Forge installation stores the latest app system token as its secret.
            return ForgeSystemAuth(installation.shared_secret)

        return ConnectAuth(
            app_key=self.settings.app_key,
            shared_secret=installation.shared_secret,
            base_url=installation.base_url,
        )

    async def is_admin(self, installation: Installation, account_id: str) -> bool:
        """Return whether the user is a Jira admin of the installation's site.

        Jira is asked with ``POST /rest/api/3/permissions/check``. A positive result is
        cached for a minute, so a page polling a removal's progress does not ask Jira
        on every poll. A negative result is never cached.
        """
        cache_key = (installation.client_key, account_id)
        now = time.monotonic()
        if self._admins.get(cache_key, 0.0) > now:
            return True
        client = await self.jira_client(installation)
        if not await client.is_admin(account_id):
            return False
        self._admins[cache_key] = now + ADMIN_CHECK_TTL

        return True

    async def site(self, client_key: str) -> TrackedSite:
        """Return the tracked site of an installation, for the app's reads and writes.

        Raises :class:`~propledger.InstallationNotFoundError` for an unknown client key.
        """
        installation = await self.store.get_installation(client_key)
        if installation.state in (InstallationState.UNINSTALLED, InstallationState.SUPERSEDED):
            logger.warning(
                "Writing through an installation in state %s",
                installation.state.value,
                extra={"event": "site.inactive", "client_key": client_key},
            )

        return TrackedSite(
            installation,
            store=self.store,
            client=await self.jira_client(installation),
            scope=self.settings.scope,
            app_key=self.settings.app_key,
        )

    async def inventory_summary(self, client_key: str) -> dict[str, dict[str, int]]:
        """Return the installation's inventory counts per entity type and row state.

        Raises :class:`~propledger.InstallationNotFoundError` for an unknown client key.
        """
        await self.store.get_installation(client_key)
        counts = await self.store.count_inventory(client_key)

        return {
            entity_type.value: {state.value: count for state, count in states.items()}
            for entity_type, states in sorted(counts.items(), key=_by_value)
        }

    async def present_row_count(self, client_key: str) -> int:
        """Return how many inventory rows may still be present in the site."""
        counts = await self.store.count_inventory(client_key)

        return sum(
            count
            for states in counts.values()
            for state, count in states.items()
            if state in (RowState.PENDING, RowState.PRESENT)
        )


def _by_value(item: tuple[EntityType, object]) -> str:
    return item[0].value
