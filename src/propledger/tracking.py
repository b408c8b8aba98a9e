"""The tracked writer: the app writes and deletes its properties through it.

Every write is recorded in the inventory as pending *before* the request goes to Jira
and confirmed after it, so a crash or a timeout can never leave a property in the site
that the inventory does not know about.
"""

from __future__ import annotations

import logging

from propledger.errors import InvalidPropertyError, JiraResponseError
from propledger.hashing import digest_value
from propledger.jira import JiraClient
from propledger.model import (
    EntityType,
    Installation,
    InventoryRow,
    JSONValue,
    PropertyRef,
    RowState,
)
from propledger.scope import KeyScope, serialize_value
from propledger.store import Store

__all__ = ["TrackedEntity", "TrackedSite"]

logger = logging.getLogger("propledger.tracking")

_NUMERIC_ID_TYPES = (EntityType.ISSUE, EntityType.PROJECT, EntityType.COMMENT)


class TrackedSite:
    """One installation's site, reached by the app through propledger.

    Get one from :meth:`propledger.Ledger.site`, then pick an entity::

        await site.issue(10001).set_property("com.example.app.checklist", {"done": 2})
    """

    def __init__(
        self,
        installation: Installation,
        *,
        store: Store,
        client: JiraClient,
        scope: KeyScope,
        app_key: str,
    ) -> None:
        self.installation = installation
        self._store = store
        self._client = client
        self._scope = scope
        self._app_key = app_key

    def issue(self, issue_id: int | str) -> TrackedEntity:
        """Return the issue with this numeric id (not its key, which changes on a move)."""
        return self._entity(EntityType.ISSUE, issue_id)

    def user(self, account_id: str) -> TrackedEntity:
        """Return the user with this Atlassian account id."""
        return self._entity(EntityType.USER, account_id)

    def project(self, project_id: int | str) -> TrackedEntity:
        """Return the project with this numeric id."""
        return self._entity(EntityType.PROJECT, project_id)

    def comment(self, comment_id: int | str) -> TrackedEntity:
        """Return the comment with this numeric id."""
        return self._entity(EntityType.COMMENT, comment_id)

    def app(self) -> TrackedEntity:
        """Return the app itself, for app properties."""
        return self._entity(EntityType.APP, self._app_key)

    def _entity(self, entity_type: EntityType, entity_id: int | str) -> TrackedEntity:
        text = str(entity_id)
        if not text:
            raise InvalidPropertyError(f"The {entity_type.value} id is empty. Pass its id.")
        if entity_type in _NUMERIC_ID_TYPES and not text.isdigit():
            raise InvalidPropertyError(
                f"The {entity_type.value} id {text!r} is not numeric. Pass the numeric id, "
                "not the key: keys change when an issue or project is moved or renamed."
            )

        return TrackedEntity(self, entity_type, text)


class TrackedEntity:
    """One entity of a tracked site whose properties the app reads and writes."""

    def __init__(self, site: TrackedSite, entity_type: EntityType, entity_id: str) -> None:
        self._site = site
        self.entity_type = entity_type
        self.entity_id = entity_id

    def __repr__(self) -> str:
        return f"<TrackedEntity {self.entity_type.value} {self.entity_id}>"

    def _ref(self, key: str) -> PropertyRef:
        self._site._scope.check_key(self.entity_type, key)

        return PropertyRef(self.entity_type, self.entity_id, key)

    async def set_property(self, key: str, value: JSONValue) -> None:
        """Record the property in the inventory, then write it to Jira.

        Raises :class:`~propledger.InvalidPropertyError` before any request when the key
        or value breaks the key scope or Jira's limits. If the write fails, the row stays
        pending and a removal still covers it.
        """
        ref = self._ref(key)
        text = serialize_value(key, value)
        # The digest is taken over canonical JSON, which a scan recomputes from the value
        # Jira returns; the text sent keeps the caller's member order.
        digest = digest_value(value).sha256
        site = self._site
        client_key = site.installation.client_key
        previous = await site._store.get_row(client_key, ref)
        await site._store.record_pending(client_key, ref, value_sha256=digest, value_size=len(text))
        try:
            created = await site._client.set_property(ref, text)
        except JiraResponseError as exc:
            if _is_definite_rejection(exc.status_code):
                await self._restore(ref, previous)
            raise
        await site._store.mark_present(client_key, ref, value_sha256=digest, value_size=len(text))
        logger.info(
            "Property %s: %s %s key %s",
            "created" if created else "updated",
            ref.entity_type.value,
            ref.entity_id,
            ref.key,
            extra={"event": "property.write", "client_key": client_key},
        )

    async def _restore(self, ref: PropertyRef, previous: InventoryRow | None) -> None:
        # Jira rejected the write outright, so the site still contains its previous value, if any.
        store = self._site._store
        client_key = self._site.installation.client_key
        if previous is None or previous.state in (RowState.REMOVED, RowState.GONE):
            await store.discard_pending(client_key, ref)
        elif previous.state is RowState.PRESENT:
            await store.mark_present(
                client_key, ref, value_sha256=previous.value_sha256, value_size=previous.value_size
            )

    async def get_property(self, key: str) -> JSONValue | None:
        """Return the property's current value in the site, or None when it is absent."""
        return await self._site._client.get_property(self._ref(key))

    async def property_keys(self) -> list[str]:
        """Return the property keys stored on this entity that lie within the key scope."""
        keys = await self._site._client.list_property_keys(self.entity_type, self.entity_id)

        return [key for key in keys or [] if key in self._site._scope]

    async def delete_property(self, key: str) -> bool:
        """Delete the property from the site and mark it removed in the inventory.

        Returns True when Jira deleted it, False when it was already absent (404).
        """
        ref = self._ref(key)
        site = self._site
        status = await site._client.delete_property(ref)
        if status not in (204, 404):
            raise JiraResponseError(
                f"Jira returned status {status} for the delete of {ref}, so the inventory keeps "
                "the row. Retry the delete once the app has access again.",
                status_code=status,
                method="DELETE",
                path=ref.entity_type.value,
            )
        client_key = site.installation.client_key
        if status == 204:
            await site._store.mark_removed(client_key, ref)
        else:
            await site._store.mark_gone(client_key, ref)
        logger.info(
            "Property deleted: %s %s key %s (status %d)",
            ref.entity_type.value,
            ref.entity_id,
            ref.key,
            status,
            extra={"event": "property.delete", "client_key": client_key},
        )

        return status == 204


def _is_definite_rejection(status_code: int) -> bool:
    # A 4xx other than 429 means Jira did not store the value. After a 5xx or a timeout
    # the outcome is unknown, so the row stays pending.
    return 400 <= status_code < 500 and status_code != 429
