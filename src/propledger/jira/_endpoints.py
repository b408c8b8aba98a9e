"""The REST endpoints of entity properties, one table row per entity type.

Paths follow Jira Cloud's platform REST API v3 and the Connect app-properties API.
Path segments are percent-encoded with nothing left safe, so a ``/`` or ``&`` in an id
or key stays inside its segment.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from propledger.errors import ConfigurationError
from propledger.model import EntityType, PropertyRef

__all__ = ["property_keys_request", "property_request"]


@dataclasses.dataclass(frozen=True, slots=True)
class _Endpoint:
    """The REST location of one entity type's properties.

    ``collection`` is the path that lists the property keys, with ``{entity_id}`` where
    the entity id goes. Jira names a user by query parameter instead, so for users
    ``entity_id_param`` is that parameter's name and the path has no placeholder.
    """

    collection: str
    entity_id_param: str | None = None


_ENDPOINTS: dict[EntityType, _Endpoint] = {
    EntityType.ISSUE: _Endpoint("/rest/api/3/issue/{entity_id}/properties"),
    EntityType.USER: _Endpoint("/rest/api/3/user/properties", entity_id_param="accountId"),
    EntityType.PROJECT: _Endpoint("/rest/api/3/project/{entity_id}/properties"),
    EntityType.COMMENT: _Endpoint("/rest/api/3/comment/{entity_id}/properties"),
    # App properties are stored against the app itself, so the entity id is the app key.
    EntityType.APP: _Endpoint("/rest/atlassian-connect/1/addons/{entity_id}/properties"),
}

# A Forge app reaches its own app properties under a path without the app key.
_FORGE_APP_ENDPOINT = _Endpoint("/rest/forge/1/app/properties")


def property_keys_request(
    entity_type: EntityType, entity_id: str, *, forge: bool = False
) -> tuple[str, dict[str, str]]:
    """Return the path and query parameters that list the property keys of one entity.

    ``forge`` selects the Forge app-properties API for app properties.
    """
    if not entity_id:
        raise ConfigurationError(
            f"The {entity_type.value} entity id is empty. Give the id of the entity."
        )
    if forge and entity_type is EntityType.APP:
        return _FORGE_APP_ENDPOINT.collection, {}
    endpoint = _ENDPOINTS[entity_type]
    if endpoint.entity_id_param is not None:
        return endpoint.collection, {endpoint.entity_id_param: entity_id}

    return endpoint.collection.format(entity_id=_encode_segment(entity_id)), {}


def property_request(ref: PropertyRef, *, forge: bool = False) -> tuple[str, dict[str, str]]:
    """Return the path and query parameters that get, set or delete one property."""
    if not ref.key:
        raise ConfigurationError(f"The property key of {ref} is empty. Give a non-empty key.")
    collection, params = property_keys_request(ref.entity_type, ref.entity_id, forge=forge)

    return f"{collection}/{_encode_segment(ref.key)}", params


def _encode_segment(segment: str) -> str:
    return quote(segment, safe="")
