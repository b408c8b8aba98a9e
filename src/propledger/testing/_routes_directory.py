"""FakeJira's project and user listings: ``project/search`` and ``users/search``.

Both page by ``startAt`` and ``maxResults``. ``project/search`` returns Jira's page
object, at most 100 projects per page. ``users/search`` returns a bare list of up to
1000 users, and returns 403 to Connect apps, as Jira does for an endpoint whose Connect
scope is ``INACCESSIBLE``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from propledger.testing._auth import Caller, JiraJSONResponse, jira_endpoint, jira_error
from propledger.testing._routes_misc import _user_json
from propledger.testing._sites import FakeProject, FakeSite

__all__ = ["MAX_PROJECT_PAGE", "MAX_USER_PAGE", "USERS_SEARCH_FORBIDDEN", "directory_routes"]

MAX_PROJECT_PAGE = 100
MAX_USER_PAGE = 1000
USERS_SEARCH_FORBIDDEN = (
    "Connect apps cannot access this resource. Call it with a user's API token."
)


class _BadPaging(Exception):
    """A ``startAt`` or ``maxResults`` that is not a non-negative integer."""


def _paging(request: Request, default_size: int, max_size: int) -> tuple[int, int]:
    try:
        start_at = int(request.query_params.get("startAt", "0"))
        size = int(request.query_params.get("maxResults", str(default_size)))
    except ValueError as exc:
        raise _BadPaging("startAt and maxResults must be integers.") from exc
    if start_at < 0 or size < 0:
        raise _BadPaging("startAt and maxResults must not be negative.")

    return start_at, min(size, max_size)


def _project_json(site: FakeSite, project: FakeProject) -> dict[str, Any]:
    return {
        "self": f"{site.base_url}/rest/api/3/project/{project.id}",
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "projectTypeKey": "software",
        "simplified": False,
        "style": "classic",
        "isPrivate": False,
    }


def _page_url(url: str, start_at: int, size: int) -> str:
    return f"{url}?{urlencode({'startAt': start_at, 'maxResults': size})}"


async def _search_projects(request: Request, site: FakeSite, caller: Caller) -> Response:
    try:
        start_at, size = _paging(request, 50, MAX_PROJECT_PAGE)
    except _BadPaging as exc:
        return jira_error(400, str(exc))
    projects = sorted(site.projects.values(), key=lambda project: project.key)
    page = projects[start_at : start_at + size]
    is_last = start_at + len(page) >= len(projects)
    url = f"{site.base_url}{request.url.path}"
    body: dict[str, Any] = {
        "self": _page_url(url, start_at, size),
        "maxResults": size,
        "startAt": start_at,
        "total": len(projects),
        "isLast": is_last,
        "values": [_project_json(site, project) for project in page],
    }
    if not is_last:
        body["nextPage"] = _page_url(url, start_at + len(page), size)

    return JiraJSONResponse(body)


async def _search_users(request: Request, site: FakeSite, caller: Caller) -> Response:
    if caller.is_app:
        return jira_error(403, USERS_SEARCH_FORBIDDEN)
    try:
        start_at, size = _paging(request, 50, MAX_USER_PAGE)
    except _BadPaging as exc:
        return jira_error(400, str(exc))
    users = list(site.users.values())[start_at : start_at + size]
    body = [
        _user_json(site, user.account_id, user.display_name) | {"accountType": "atlassian"}
        for user in users
    ]

    return JiraJSONResponse(body)


def directory_routes() -> list[Route]:
    """Return the project and user listing routes under ``/rest/api/3`` and ``/rest/api/2``."""
    routes: list[Route] = []
    for version in ("3", "2"):
        api = f"/rest/api/{version}"
        routes += [
            Route(f"{api}/project/search", jira_endpoint(_search_projects), methods=["GET"]),
            Route(f"{api}/users/search", jira_endpoint(_search_users), methods=["GET"]),
        ]

    return routes
