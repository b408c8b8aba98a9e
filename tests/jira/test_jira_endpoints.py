from __future__ import annotations

import functools
import json
import re

import pytest

from propledger.errors import ConfigurationError
from propledger.jira import property_keys_request, property_request
from propledger.model import EntityType, PropertyRef

KEYS_REQUESTS = {
    EntityType.ISSUE: ("/rest/api/3/issue/10001/properties", {}),
    EntityType.USER: ("/rest/api/3/user/properties", {"accountId": "557058:f0a1"}),
    EntityType.PROJECT: ("/rest/api/3/project/10000/properties", {}),
    EntityType.COMMENT: ("/rest/api/3/comment/20002/properties", {}),
    EntityType.APP: ("/rest/atlassian-connect/1/addons/com.example.ledger/properties", {}),
}
ENTITY_IDS = {
    EntityType.ISSUE: "10001",
    EntityType.USER: "557058:f0a1",
    EntityType.PROJECT: "10000",
    EntityType.COMMENT: "20002",
    EntityType.APP: "com.example.ledger",
}


def test_table_covers_every_entity_type():
    assert set(KEYS_REQUESTS) == set(EntityType)


@pytest.mark.parametrize("entity_type", list(EntityType))
def test_keys_request(entity_type):
    result = property_keys_request(entity_type, ENTITY_IDS[entity_type])

    assert result == KEYS_REQUESTS[entity_type]


@pytest.mark.parametrize("entity_type", list(EntityType))
def test_property_request(entity_type):
    ref = PropertyRef(entity_type, ENTITY_IDS[entity_type], "com.example.ledger.state")

    path, params = property_request(ref)

    collection, expected_params = KEYS_REQUESTS[entity_type]
    assert path == f"{collection}/com.example.ledger.state"
    assert params == expected_params


def test_property_request_encodes_segments():
    ref = PropertyRef(EntityType.PROJECT, "10/00", "a key&b/c?d#e%")

    path, params = property_request(ref)

    assert path == "/rest/api/3/project/10%2F00/properties/a%20key%26b%2Fc%3Fd%23e%25"
    assert params == {}


def test_user_request_keeps_account_id_raw():
    ref = PropertyRef(EntityType.USER, "557058:a/b c", "k")

    path, params = property_request(ref)

    assert path == "/rest/api/3/user/properties/k"
    assert params == {"accountId": "557058:a/b c"}


def test_keys_request_rejects_empty_id():
    with pytest.raises(ConfigurationError) as caught:
        property_keys_request(EntityType.ISSUE, "")

    assert str(caught.value) == "The issue entity id is empty. Give the id of the entity."


def test_property_request_rejects_empty_key():
    with pytest.raises(ConfigurationError) as caught:
        property_request(PropertyRef(EntityType.COMMENT, "20002", ""))

    assert str(caught.value) == (
        "The property key of comment 20002 property '' is empty. Give a non-empty key."
    )


@functools.cache
def _load_spec(reference_dir):
    return json.loads((reference_dir / "jira-platform-v3.openapi.json").read_text("utf-8"))


def _spec_operations(reference_dir, path):
    """Return the spec's operations on the one path template that ``path`` instantiates."""
    spec = _load_spec(reference_dir)
    matches = []
    for template, operations in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            matches.append(operations)
    assert len(matches) == 1, f"{len(matches)} spec paths match {path}"

    return matches[0]


@pytest.mark.parametrize("entity_type", list(EntityType))
def test_paths_match_spec(reference_dir, entity_type):
    entity_id = ENTITY_IDS[entity_type]
    keys_path, keys_params = property_keys_request(entity_type, entity_id)
    path, params = property_request(PropertyRef(entity_type, entity_id, "k"))

    keys_operations = _spec_operations(reference_dir, keys_path)
    operations = _spec_operations(reference_dir, path)

    assert "get" in keys_operations
    keys_query = {p["name"] for p in keys_operations["get"]["parameters"] if p["in"] == "query"}
    assert set(keys_params) <= keys_query
    assert {"get", "put", "delete"} <= set(operations)
    for name in ("get", "put", "delete"):
        query = {p["name"] for p in operations[name]["parameters"] if p["in"] == "query"}
        assert set(params) <= query
