"""Project and user listings, paged by ``startAt`` and ``maxResults``.

``GET /rest/api/3/project/search`` returns a page object with ``values`` and ``isLast``.
``GET /rest/api/3/users/search`` returns a bare list with no end marker, so its paging
stops at the first empty page. Jira returns 403 to a Connect app that calls it, because
only a user with an API token can list users.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from propledger.errors import JiraResponseError
from propledger.jira._client import JiraClient
from propledger.jira._errors import read_json_object, response_error, unexpected_body

__all__ = [
    "MAX_PROJECT_PAGE",
    "MAX_USER_PAGE",
    "PROJECT_SEARCH_PATH",
    "USER_SEARCH_PATH",
    "search_projects",
    "search_users",
]

logger = logging.getLogger("propledger.jira")

PROJECT_SEARCH_PATH = "/rest/api/3/project/search"
USER_SEARCH_PATH = "/rest/api/3/users/search"
MAX_PROJECT_PAGE = 100
"""Jira's largest page of projects."""
MAX_USER_PAGE = 1000
"""Jira's largest page of users."""
DEFAULT_MAX_PAGES = 10_000


async def search_projects(
    client: JiraClient, *, page_size: int = MAX_PROJECT_PAGE, max_pages: int = DEFAULT_MAX_PAGES
) -> AsyncIterator[dict[str, Any]]:
    """Yield every project the caller can see, as Jira's JSON objects, page by page.

    Stops at a page with ``isLast`` true, an empty page, or the page cap.
    """
    start_at = 0
    for _ in range(max_pages):
        params = {"startAt": str(start_at), "maxResults": str(page_size)}
        response = await client.request("GET", PROJECT_SEARCH_PATH, params=params)
        if response.status_code != 200:
            raise response_error(response, "GET", PROJECT_SEARCH_PATH)
        page = read_json_object(response, "GET", PROJECT_SEARCH_PATH)
        values = page.get("values")
        if not isinstance(values, list):
            raise unexpected_body(response, "GET", PROJECT_SEARCH_PATH, "values")
        for project in values:
            yield project
        if not values or page.get("isLast") is True:
            return
        start_at += len(values)
    _warn_page_cap(PROJECT_SEARCH_PATH, max_pages)


async def search_users(
    client: JiraClient, *, page_size: int = MAX_USER_PAGE, max_pages: int = DEFAULT_MAX_PAGES
) -> AsyncIterator[dict[str, Any]]:
    """Yield every user account of the site, as Jira's JSON objects, page by page.

    Stops at an empty page, a page that repeats the previous one, or the page cap.
    Raises :class:`~propledger.JiraResponseError` with status 403 when the caller is a
    Connect app, which Jira does not allow to list users.
    """
    start_at = 0
    previous: list[Any] = []
    for _ in range(max_pages):
        params = {"startAt": str(start_at), "maxResults": str(page_size)}
        response = await client.request("GET", USER_SEARCH_PATH, params=params)
        if response.status_code == 403:
            raise JiraResponseError(
                f"Jira returned status 403 for GET {USER_SEARCH_PATH}: Connect apps cannot "
                "list the users of a site. Give the account ids in a file, or scan as an "
                "operator with an API token.",
                status_code=403,
                method="GET",
                path=USER_SEARCH_PATH,
            )
        if response.status_code != 200:
            raise response_error(response, "GET", USER_SEARCH_PATH)
        users = _user_page(response)
        if users is None:
            raise JiraResponseError(
                f"Jira returned status 200 for GET {USER_SEARCH_PATH} with a body that is not "
                "a JSON list of users. Check that the base URL points at a Jira Cloud site.",
                status_code=200,
                method="GET",
                path=USER_SEARCH_PATH,
            )
        if not users:
            return
        if users == previous:
            logger.warning(
                "User search returned the same page twice; stopping",
                extra={"event": "jira.user_search_repeated_page"},
            )
            return
        for user in users:
            yield user
        previous = users
        start_at += len(users)
    _warn_page_cap(USER_SEARCH_PATH, max_pages)


def _user_page(response: httpx.Response) -> list[dict[str, Any]] | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(body, list) or not all(isinstance(user, dict) for user in body):
        return None

    return body


def _warn_page_cap(path: str, max_pages: int) -> None:
    logger.warning(
        "Listing %s stopped at the cap of %d pages",
        path,
        max_pages,
        extra={"event": "jira.listing_page_cap", "path": path, "max_pages": max_pages},
    )
