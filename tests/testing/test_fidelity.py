"""FakeJira against Atlassian's OpenAPI description of the Jira Cloud platform REST API.

Every route FakeJira serves must exist in the spec with the same path template and
method, and every property endpoint must respond with a documented status and a body
that validates against the documented schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.routing import Route

from propledger.testing import FakeJira, FakeSite

SPEC_URI = "urn:jira-platform-v3"
APP_PROPERTIES = "/rest/atlassian-connect/1/addons/{addonKey}/properties"


def spec_path(path: str) -> str:
    # Jira serves the property, permission and user endpoints identically under v2 and
    # v3, and the spec describes only v3; FakeJira serves v2 for atlassian-python-api.
    return path.replace("/rest/api/2/", "/rest/api/3/", 1)


def jira_routes(fake: FakeJira) -> list[Route]:
    routes = [route for route in fake.app.routes if isinstance(route, Route)]

    return [route for route in routes if not route.path.startswith("/_fake/")]


class SpecChecker:
    """Look up operations in the spec and validate response bodies against it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource: Resource[Any] = DRAFT4.create_resource(spec)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)

    def responses(self, template: str, method: str) -> dict[str, Any]:
        operation = self.spec["paths"][spec_path(template)][method.lower()]
        responses: dict[str, Any] = operation["responses"]

        return responses

    def validate(self, instance: Any, pointer: str) -> None:
        validator = jsonschema.Draft4Validator(
            {"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry
        )
        validator.validate(instance)

    def check(self, template: str, response: httpx.Response) -> None:
        """Assert the status is documented and the body matches its documented schema."""
        method = response.request.method
        responses = self.responses(template, method)
        status = str(response.status_code)
        assert status in responses, f"{method} {template} returned undocumented status {status}"
        if not response.content:
            return
        content = responses[status].get("content", {}).get("application/json")
        if content is None or not content.get("schema"):
            # Jira's error bodies are ErrorCollections even where the spec leaves them out.
            self.validate(response.json(), "/components/schemas/ErrorCollection")
            return
        self.validate(response.json(), _pointer(spec_path(template), method, status))


def _pointer(path: str, method: str, status: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")

    return f"/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"


@dataclass(frozen=True)
class EntityCase:
    """One entity type's property endpoints: the spec templates and a concrete URL."""

    name: str
    template: str
    collection: str
    params: dict[str, str]


@pytest.fixture
def checker(jira_spec: dict[str, Any]) -> SpecChecker:
    return SpecChecker(jira_spec)


def entity_cases(site: FakeSite, version: str) -> list[EntityCase]:
    issue = site.add_issue()
    comment = site.add_comment(issue)
    project = site.projects[issue.project_id]
    user = site.add_user()
    api = f"/rest/api/{version}"

    return [
        EntityCase(
            "issue",
            f"{api}/issue/{{issueIdOrKey}}/properties",
            f"{api}/issue/{issue.id}/properties",
            {},
        ),
        EntityCase(
            "issue key",
            f"{api}/issue/{{issueIdOrKey}}/properties",
            f"{api}/issue/{issue.key}/properties",
            {},
        ),
        EntityCase(
            "comment",
            f"{api}/comment/{{commentId}}/properties",
            f"{api}/comment/{comment.id}/properties",
            {},
        ),
        EntityCase(
            "project",
            f"{api}/project/{{projectIdOrKey}}/properties",
            f"{api}/project/{project.id}/properties",
            {},
        ),
        EntityCase(
            "project key",
            f"{api}/project/{{projectIdOrKey}}/properties",
            f"{api}/project/{project.key}/properties",
            {},
        ),
        EntityCase(
            "user",
            f"{api}/user/properties",
            f"{api}/user/properties",
            {"accountId": user.account_id},
        ),
    ]


def test_routes_exist_in_spec(fake: FakeJira, jira_spec: dict[str, Any]) -> None:
    routes = jira_routes(fake)

    assert {spec_path(route.path) for route in routes} == {
        "/rest/api/3/comment/{commentId}/properties",
        "/rest/api/3/comment/{commentId}/properties/{propertyKey}",
        "/rest/api/3/issue/properties/{propertyKey}",
        "/rest/api/3/issue/{issueIdOrKey}/properties",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
        "/rest/api/3/myself",
        "/rest/api/3/permissions/check",
        "/rest/api/3/project/search",
        "/rest/api/3/project/{projectIdOrKey}/properties",
        "/rest/api/3/project/{projectIdOrKey}/properties/{propertyKey}",
        "/rest/api/3/search",
        "/rest/api/3/search/approximate-count",
        "/rest/api/3/search/jql",
        "/rest/api/3/task/{taskId}",
        "/rest/api/3/user/properties",
        "/rest/api/3/user/properties/{propertyKey}",
        "/rest/api/3/users/search",
        APP_PROPERTIES,
        f"{APP_PROPERTIES}/{{propertyKey}}",
    }
    for route in routes:
        path = spec_path(route.path)
        assert path in jira_spec["paths"], f"{route.path} is not a path of the spec"
        # Starlette adds HEAD to every GET route; Jira's spec lists no HEAD operations.
        for method in sorted((route.methods or set()) - {"HEAD"}):
            assert method.lower() in jira_spec["paths"][path], (
                f"{method} {route.path} is not in the spec"
            )


def test_fake_routes_only_under_fake_prefix(fake: FakeJira) -> None:
    own = [
        route.path
        for route in fake.app.routes
        if isinstance(route, Route) and route.path.startswith("/_fake/")
    ]

    assert own == [
        "/_fake/install-keys/{kid}",
        "/_fake/install",
        "/_fake/context-token",
        "/_fake/iframe-url",
        "/_fake/site",
        "/_fake/forge/jwks.json",
    ]


@pytest.mark.parametrize("version", ["3", "2"])
async def test_entity_property_lifecycle(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker, version: str
) -> None:
    for case in entity_cases(site, version):
        key = "com.example.app.fidelity"
        url = f"{case.collection}/{key}"
        one = f"{case.template}/{{propertyKey}}"

        created = await app_client.put(url, params=case.params, json={"state": 1})
        updated = await app_client.put(url, params=case.params, json={"state": 2})
        listed = await app_client.get(case.collection, params=case.params)
        read = await app_client.get(url, params=case.params)
        deleted = await app_client.delete(url, params=case.params)
        read_missing = await app_client.get(url, params=case.params)
        deleted_missing = await app_client.delete(url, params=case.params)

        assert created.status_code == 201, case.name
        assert created.content == b"", case.name
        assert updated.status_code == 200, case.name
        assert updated.content == b"", case.name
        assert listed.status_code == 200, case.name
        assert [entry["key"] for entry in listed.json()["keys"]] == [key], case.name
        assert read.status_code == 200, case.name
        assert read.json() == {"key": key, "value": {"state": 2}}, case.name
        assert deleted.status_code == 204, case.name
        assert deleted.content == b"", case.name
        assert read_missing.status_code == 404, case.name
        assert deleted_missing.status_code == 404, case.name
        for response in (created, updated, read, deleted, read_missing, deleted_missing):
            checker.check(one, response)
        checker.check(case.template, listed)
    assert site.properties() == []


@pytest.mark.parametrize("version", ["3", "2"])
async def test_entity_missing_returns_404(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker, version: str
) -> None:
    api = f"/rest/api/{version}"
    cases = [
        (f"{api}/issue/{{issueIdOrKey}}/properties", f"{api}/issue/99999/properties", {}),
        (f"{api}/comment/{{commentId}}/properties", f"{api}/comment/99999/properties", {}),
        (f"{api}/project/{{projectIdOrKey}}/properties", f"{api}/project/NOPE/properties", {}),
        (f"{api}/user/properties", f"{api}/user/properties", {"accountId": "no-such-account"}),
    ]
    for template, collection, params in cases:
        listed = await app_client.get(collection, params=params)
        read = await app_client.get(f"{collection}/com.example.app.k", params=params)
        written = await app_client.put(f"{collection}/com.example.app.k", params=params, json=1)
        deleted = await app_client.delete(f"{collection}/com.example.app.k", params=params)

        assert [listed.status_code, read.status_code, written.status_code, deleted.status_code] == [
            404
        ] * 4
        checker.check(template, listed)
        for response in (read, written, deleted):
            checker.check(f"{template}/{{propertyKey}}", response)


async def test_app_property_lifecycle(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    collection = "/rest/atlassian-connect/1/addons/com.example.app/properties"
    url = f"{collection}/settings"
    one = f"{APP_PROPERTIES}/{{propertyKey}}"

    created = await app_client.put(url, json={"enabled": True})
    updated = await app_client.put(url, json={"enabled": False})
    listed = await app_client.get(collection)
    read = await app_client.get(url)
    deleted = await app_client.delete(url)
    read_missing = await app_client.get(url)
    deleted_missing = await app_client.delete(url)

    assert (created.status_code, created.json()) == (
        201,
        {"message": "Property created.", "statusCode": 201},
    )
    assert (updated.status_code, updated.json()) == (
        200,
        {"message": "Property updated.", "statusCode": 200},
    )
    assert listed.json() == {"keys": [{"self": f"{site.base_url}{url}", "key": "settings"}]}
    assert read.json() == {
        "self": f"{site.base_url}{url}",
        "key": "settings",
        "value": {"enabled": False},
    }
    assert deleted.status_code == 204
    assert (read_missing.status_code, read_missing.json()) == (
        404,
        {"message": "Property with key not found.", "statusCode": 404},
    )
    assert (deleted_missing.status_code, deleted_missing.json()) == (
        404,
        {"message": "Property with key not found.", "statusCode": 404},
    )
    for response in (created, updated, deleted, read_missing, deleted_missing):
        checker.check(one, response)
    checker.check(APP_PROPERTIES, listed)


def test_app_property_self_matches_spec_example(checker: SpecChecker) -> None:
    # The spec's example of an app property carries "self", but its EntityProperty
    # schema forbids extra members; FakeJira follows the example, as Jira does, so the
    # body minus "self" is what validates against the schema.
    content = checker.responses(f"{APP_PROPERTIES}/{{propertyKey}}", "GET")["200"]["content"]
    example = content["application/json"]["example"]

    assert sorted(example) == ["key", "self", "value"]


async def test_app_property_read_validates(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    url = "/rest/atlassian-connect/1/addons/com.example.app/properties/settings"
    await app_client.put(url, json=[1, 2])

    read = await app_client.get(url)

    assert read.status_code == 200
    body = read.json()
    assert sorted(body) == ["key", "self", "value"]
    pointer = _pointer(f"{APP_PROPERTIES}/{{propertyKey}}", "GET", "200")
    checker.validate({name: value for name, value in body.items() if name != "self"}, pointer)


async def test_app_property_errors_validate(
    site: FakeSite,
    fake: FakeJira,
    anonymous_client: httpx.AsyncClient,
    app_client: httpx.AsyncClient,
    checker: SpecChecker,
) -> None:
    collection = "/rest/atlassian-connect/1/addons/com.example.app/properties"

    unauthenticated = await anonymous_client.get(collection)
    long_key = await app_client.put(f"{collection}/{'k' * 128}", json=1)

    assert (unauthenticated.status_code, unauthenticated.json()) == (
        401,
        {"message": "Access to this resource must be authenticated as an app.", "statusCode": 401},
    )
    assert (long_key.status_code, long_key.json()) == (
        400,
        {"message": "The property key cannot be longer than 127 characters.", "statusCode": 400},
    )
    checker.check(APP_PROPERTIES, unauthenticated)
    checker.check(f"{APP_PROPERTIES}/{{propertyKey}}", long_key)


async def test_permissions_check_validates(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    admin = site.add_user(is_admin=True)

    response = await app_client.post(
        "/rest/api/3/permissions/check",
        json={"accountId": admin.account_id, "globalPermissions": ["ADMINISTER"]},
    )

    assert response.status_code == 200
    assert response.json() == {"globalPermissions": ["ADMINISTER"], "projectPermissions": []}
    checker.check("/rest/api/3/permissions/check", response)


async def test_permissions_check_unknown_permission_validates(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    response = await app_client.post(
        "/rest/api/3/permissions/check", json={"globalPermissions": ["PERMISSION_123"]}
    )

    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [],
        "errors": {"PERMISSION_123": "Unrecognized permission"},
    }
    checker.check("/rest/api/3/permissions/check", response)


async def test_myself_validates(fake: FakeJira, site: FakeSite, checker: SpecChecker) -> None:
    user = site.add_user(display_name="Mia Krystof", email="mia@example.com")
    site.add_api_token("mia@example.com", "api-token-1", user.account_id)
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=site.base_url, auth=("mia@example.com", "api-token-1")
    ) as client:
        response = await client.get("/rest/api/3/myself")

    assert response.status_code == 200
    assert response.json()["accountId"] == user.account_id
    checker.check("/rest/api/3/myself", response)


async def test_app_myself_validates(app_client: httpx.AsyncClient, checker: SpecChecker) -> None:
    response = await app_client.get("/rest/api/3/myself")

    assert response.status_code == 200
    assert response.json()["accountType"] == "app"
    checker.check("/rest/api/3/myself", response)


async def test_project_search_validates(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    for key in ("ALPHA", "BETA", "GAMMA"):
        site.add_project(key)

    first = await app_client.get("/rest/api/3/project/search", params={"maxResults": "2"})
    last = await app_client.get(
        "/rest/api/3/project/search", params={"startAt": "2", "maxResults": "2"}
    )

    assert first.status_code == 200
    assert [project["key"] for project in first.json()["values"]] == ["ALPHA", "BETA"]
    assert first.json()["nextPage"] == (
        f"{site.base_url}/rest/api/3/project/search?startAt=2&maxResults=2"
    )
    assert (last.json()["isLast"], [project["key"] for project in last.json()["values"]]) == (
        True,
        ["GAMMA"],
    )
    checker.check("/rest/api/3/project/search", first)
    checker.check("/rest/api/3/project/search", last)


async def test_users_search_validates(
    fake: FakeJira, site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    user = site.add_user(display_name="Mia Krystof", email="mia@example.com", is_admin=True)
    site.add_api_token("mia@example.com", "api-token-1", user.account_id)
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=site.base_url, auth=("mia@example.com", "api-token-1")
    ) as client:
        listed = await client.get("/rest/api/3/users/search")
    forbidden = await app_client.get("/rest/api/3/users/search")

    assert listed.status_code == 200
    assert [entry["accountId"] for entry in listed.json()] == [user.account_id]
    assert forbidden.status_code == 403
    checker.check("/rest/api/3/users/search", listed)
    checker.check("/rest/api/3/users/search", forbidden)


async def test_search_jql_and_count_validate(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    for _ in range(3):
        site.add_issue("ACME").properties["com.example.app.k"] = {"n": 1}

    searched = await app_client.post(
        "/rest/api/3/search/jql",
        json={"jql": "project = ACME", "maxResults": 2, "properties": ["com.example.app.k"]},
    )
    counted = await app_client.post(
        "/rest/api/3/search/approximate-count", json={"jql": "project = ACME"}
    )

    assert searched.status_code == 200
    assert len(searched.json()["issues"]) == 2
    assert counted.json() == {"count": 3}
    checker.check("/rest/api/3/search/jql", searched)
    checker.check("/rest/api/3/search/approximate-count", counted)


def test_checker_rejects_wrong_body(checker: SpecChecker) -> None:
    pointer = _pointer("/rest/api/3/issue/{issueIdOrKey}/properties", "GET", "200")

    with pytest.raises(jsonschema.ValidationError):
        checker.validate({"keys": [{"key": "k", "value": 1}]}, pointer)


async def test_bulk_delete_and_task_validate(
    site: FakeSite, app_client: httpx.AsyncClient, checker: SpecChecker
) -> None:
    issue = site.add_issue()
    issue.properties["com.example.app.k"] = 1
    site.task_options.running_polls = 1
    bulk = "/rest/api/3/issue/properties/{propertyKey}"
    task = "/rest/api/3/task/{taskId}"

    submitted = await app_client.request(
        "DELETE", "/rest/api/3/issue/properties/com.example.app.k", json={"entityIds": [10000]}
    )
    running = await app_client.get(submitted.headers["Location"])
    complete = await app_client.get(submitted.headers["Location"])
    rejected = await app_client.request(
        "DELETE", "/rest/api/3/issue/properties/com.example.app.k", json={"hasProperty": True}
    )
    missing = await app_client.get("/rest/api/3/task/999")

    assert [submitted.status_code, rejected.status_code] == [303, 400]
    assert [running.json()["status"], complete.json()["status"]] == ["RUNNING", "COMPLETE"]
    assert missing.status_code == 404
    for response in (submitted, rejected):
        checker.check(bulk, response)
    for response in (running, complete, missing):
        checker.check(task, response)


@pytest.mark.parametrize("body", [{"entityIds": [10000, 10001]}, {}])
def test_bulk_filter_bodies_validate(checker: SpecChecker, body: dict[str, Any]) -> None:
    # The bodies propledger sends: a chunk of issue ids, and the sweep's empty filter.
    checker.validate(body, "/components/schemas/IssueFilterForBulkPropertyDelete")


def test_checker_rejects_task_without_status(checker: SpecChecker) -> None:
    pointer = _pointer("/rest/api/3/task/{taskId}", "GET", "200")

    with pytest.raises(jsonschema.ValidationError):
        checker.validate({"id": "1", "self": "https://acme.jira.test/rest/api/3/task/1"}, pointer)
