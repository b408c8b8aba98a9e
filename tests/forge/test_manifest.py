"""The Forge manifest: the remote, its endpoint, and the least scopes propledger needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "forge" / "manifest.yml"

# The REST operations the inventory and removal send, as (method, path template).
OPERATIONS = [
    (method, f"/rest/api/3/{entity}/properties{suffix}")
    for entity in ("issue/{issueIdOrKey}", "project/{projectIdOrKey}", "comment/{commentId}")
    for method, suffix in [
        ("get", ""),
        ("get", "/{propertyKey}"),
        ("put", "/{propertyKey}"),
        ("delete", "/{propertyKey}"),
    ]
] + [
    ("get", "/rest/api/3/user/properties"),
    ("get", "/rest/api/3/user/properties/{propertyKey}"),
    ("put", "/rest/api/3/user/properties/{propertyKey}"),
    ("delete", "/rest/api/3/user/properties/{propertyKey}"),
    ("post", "/rest/api/3/permissions/check"),
    ("post", "/rest/api/3/search/jql"),
    ("put", "/rest/forge/1/app/properties/{propertyKey}"),
    ("delete", "/rest/forge/1/app/properties/{propertyKey}"),
]


@pytest.fixture
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_manifest_remote_and_endpoint(manifest):
    page = manifest["modules"]["jira:adminPage"][0]
    endpoint = manifest["modules"]["endpoint"][0]
    remote = manifest["remotes"][0]

    assert page["resolver"] == {"endpoint": endpoint["key"]}
    assert endpoint["remote"] == remote["key"]
    assert endpoint["auth"] == {"appSystemToken": {"enabled": True}}
    assert remote["baseUrl"].startswith("https://")
    assert remote["operations"] == ["compute", "storage"]
    assert manifest["app"]["id"].startswith("ari:cloud:ecosystem::app/")


def test_manifest_scopes_cover_operations(manifest, reference_dir):
    spec = json.loads((reference_dir / "jira-platform-v3.openapi.json").read_text())
    scopes = set(manifest["permissions"]["scopes"])
    needed = set()
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        for entry in operation.get("x-atlassian-oauth2-scopes", []):
            if entry["state"] == "Current":
                needed.update(entry["scopes"])

    assert needed <= scopes
    # Beyond the operations' scopes: the system token itself, and the app-data scopes
    # that Jira lists as optional for Forge app properties today.
    assert scopes - needed == {"read:app-system-token", "read:app-data:jira", "write:app-data:jira"}
