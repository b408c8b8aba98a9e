"""FakeJira's property routes: issue, comment, project, user and app properties.

Each entity type has a resolver that finds the entity a request names and checks the
caller's permission. The handlers for listing keys, reading, setting and deleting are
shared by every entity type. Responses follow Jira Cloud's REST API v3, which v2
matches for these endpoints.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from propledger.model import EntityType, JSONValue
from propledger.scope import (
    MAX_APP_PROPERTY_KEY_LENGTH,
    MAX_PROPERTY_KEY_LENGTH,
    MAX_PROPERTY_VALUE_LENGTH,
)
from propledger.testing._auth import (
    Caller,
    Handler,
    JiraJSONResponse,
    jira_endpoint,
    jira_error,
    operation_message,
)
from propledger.testing._sites import FakeSite

__all__ = ["property_routes"]

APP_ONLY_MESSAGE = "Access to this resource must be authenticated as an app."
APP_PROPERTY_NOT_FOUND = "Property with key not found."


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    """The entity a request names, its properties, and how its property URLs end."""

    entity_type: EntityType
    entity_id: str
    properties: dict[str, JSONValue]
    url_suffix: str = ""


Resolver = Callable[[Request, FakeSite, Caller, bool], "_Target | Response"]


class _BadRequest(Exception):
    """A request that Jira rejects with status 400. The message is safe to return."""


def _check_key(key: str, limit: int) -> None:
    if len(key) > limit:
        raise _BadRequest(f"The property key cannot be longer than {limit} characters.")


async def _read_value(request: Request) -> JSONValue:
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadRequest("The property value is not valid UTF-8 text.") from exc
    if not text.strip():
        raise _BadRequest("The property value must not be empty. Send a non-empty JSON value.")
    if len(text) > MAX_PROPERTY_VALUE_LENGTH:
        raise _BadRequest(
            f"The property value is {len(text)} characters long; the maximum length is "
            f"{MAX_PROPERTY_VALUE_LENGTH} characters."
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _BadRequest("The property value is not valid JSON.") from exc


def _property_url(site: FakeSite, path: str, key: str, target: _Target) -> str:
    return f"{site.base_url}{path}/{quote(key, safe='')}{target.url_suffix}"


# Resolvers find the entity a request names, or return Jira's error response when they cannot.


def _resolve_issue(
    request: Request, site: FakeSite, caller: Caller, write: bool
) -> _Target | Response:
    issue = site.find_issue(request.path_params["issueIdOrKey"])
    if issue is None or (caller.is_app and site.is_issue_hidden(issue.id)):
        return jira_error(404, "Issue does not exist or you do not have permission to see it.")

    return _Target(EntityType.ISSUE, issue.id, issue.properties)


def _resolve_comment(
    request: Request, site: FakeSite, caller: Caller, write: bool
) -> _Target | Response:
    comment_id = request.path_params["commentId"]
    comment = site.comments.get(comment_id)
    if comment is None or (caller.is_app and site.is_issue_hidden(comment.issue_id)):
        return jira_error(404, f"Can not find a comment for the id: {comment_id}.")

    return _Target(EntityType.COMMENT, comment.id, comment.properties)


def _resolve_project(
    request: Request, site: FakeSite, caller: Caller, write: bool
) -> _Target | Response:
    id_or_key = request.path_params["projectIdOrKey"]
    project = site.find_project(id_or_key)
    if project is None:
        return jira_error(404, f"No project could be found with key '{id_or_key}'.")
    if write and not caller.is_admin:
        return jira_error(403, "You do not have permission to administer this project.")

    return _Target(EntityType.PROJECT, project.id, project.properties)


def _resolve_user(
    request: Request, site: FakeSite, caller: Caller, write: bool
) -> _Target | Response:
    account_id = request.query_params.get("accountId")
    if not account_id:
        return jira_error(
            400, "The accountId query parameter is missing. Give the user's account id."
        )
    user = site.users.get(account_id)
    if user is None:
        return jira_error(404, f"The user with account ID '{account_id}' does not exist.")
    if not caller.is_admin and caller.account_id != account_id:
        return jira_error(403, "Only Jira administrators can access the properties of other users.")
    if write and account_id in site.protected_account_ids:
        return jira_error(403, "You do not have permission to change the properties of this user.")

    return _Target(
        EntityType.USER,
        account_id,
        user.properties,
        url_suffix=f"?accountId={quote(account_id, safe='')}",
    )


def _resolve_app(
    request: Request, site: FakeSite, caller: Caller, write: bool
) -> _Target | Response:
    addon_key = request.path_params["addonKey"]
    if not caller.is_app:
        return operation_message(401, APP_ONLY_MESSAGE)
    if addon_key != caller.issuer:
        return operation_message(
            403, f"Only the app {addon_key!r} can access its own app properties."
        )
    try:
        _check_key(request.path_params.get("propertyKey", ""), MAX_APP_PROPERTY_KEY_LENGTH)
    except _BadRequest as exc:
        return operation_message(400, str(exc))

    return _Target(EntityType.APP, addon_key, site.app_properties.get(addon_key, {}))


# Handlers shared by every entity type.


def _list_keys(resolve: Resolver) -> Handler:
    async def handler(request: Request, site: FakeSite, caller: Caller) -> Response:
        target = resolve(request, site, caller, False)
        if isinstance(target, Response):
            return target
        keys = [
            {"self": _property_url(site, request.url.path, key, target), "key": key}
            for key in sorted(target.properties)
        ]

        return JiraJSONResponse({"keys": keys})

    return handler


def _entity_property(resolve: Resolver) -> Handler:
    async def handler(request: Request, site: FakeSite, caller: Caller) -> Response:
        target = resolve(request, site, caller, request.method != "GET")
        if isinstance(target, Response):
            return target
        key = request.path_params["propertyKey"]
        if request.method == "PUT":
            try:
                _check_key(key, MAX_PROPERTY_KEY_LENGTH)
                value = await _read_value(request)
            except _BadRequest as exc:
                return jira_error(400, str(exc))
            created = key not in target.properties
            target.properties[key] = value

            return Response(status_code=201 if created else 200)
        if key not in target.properties:
            return jira_error(404, f"The property with key '{key}' does not exist.")
        if request.method == "DELETE":
            del target.properties[key]
            site.record_deletion(target.entity_type, target.entity_id, key)

            return Response(status_code=204)

        return JiraJSONResponse({"key": key, "value": target.properties[key]})

    return handler


async def _app_property(request: Request, site: FakeSite, caller: Caller) -> Response:
    target = _resolve_app(request, site, caller, request.method == "PUT")
    if isinstance(target, Response):
        return target
    addon_key = request.path_params["addonKey"]
    key = request.path_params["propertyKey"]
    if request.method == "PUT":
        try:
            value = await _read_value(request)
        except _BadRequest as exc:
            return operation_message(400, str(exc))
        created = key not in target.properties
        site.app_properties.setdefault(addon_key, {})[key] = value

        return (
            operation_message(201, "Property created.")
            if created
            else operation_message(200, "Property updated.")
        )
    if key not in target.properties:
        return operation_message(404, APP_PROPERTY_NOT_FOUND)
    if request.method == "DELETE":
        del target.properties[key]
        site.record_deletion(EntityType.APP, addon_key, key)
        if not target.properties:
            del site.app_properties[addon_key]

        return Response(status_code=204)
    url = _property_url(site, request.url.path.rpartition("/")[0], key, target)

    return JiraJSONResponse({"self": url, "key": key, "value": target.properties[key]})


def _app_unauthorized(reason: str) -> Response:
    return operation_message(401, APP_ONLY_MESSAGE)


def property_routes() -> list[Route]:
    """Return the routes of every property endpoint FakeJira serves.

    Issue, comment, project and user properties are served under ``/rest/api/3`` and
    ``/rest/api/2``, because the two versions of these endpoints are identical and
    clients such as atlassian-python-api still call version 2.
    """
    entity_paths: list[tuple[str, Resolver]] = [
        ("/issue/{issueIdOrKey}/properties", _resolve_issue),
        ("/comment/{commentId}/properties", _resolve_comment),
        ("/project/{projectIdOrKey}/properties", _resolve_project),
        ("/user/properties", _resolve_user),
    ]
    routes: list[Route] = []
    for version in ("3", "2"):
        for path, resolve in entity_paths:
            base = f"/rest/api/{version}{path}"
            routes.append(Route(base, jira_endpoint(_list_keys(resolve)), methods=["GET"]))
            routes.append(
                Route(
                    base + "/{propertyKey}",
                    jira_endpoint(_entity_property(resolve)),
                    methods=["GET", "PUT", "DELETE"],
                )
            )
    app_base = "/rest/atlassian-connect/1/addons/{addonKey}/properties"
    routes.append(
        Route(
            app_base,
            jira_endpoint(_list_keys(_resolve_app), on_unauthorized=_app_unauthorized),
            methods=["GET"],
        )
    )
    routes.append(
        Route(
            app_base + "/{propertyKey}",
            jira_endpoint(_app_property, on_unauthorized=_app_unauthorized),
            methods=["GET", "PUT", "DELETE"],
        )
    )

    return routes
