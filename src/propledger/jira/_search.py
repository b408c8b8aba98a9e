"""Issue search with the enhanced JQL endpoint, paged by ``nextPageToken``.

``POST /rest/api/3/search/jql`` reports no total. A search stops at a page without a
token, an empty page, a token it has seen before (a server bug would otherwise loop
forever), or the page cap.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from propledger.errors import ConfigurationError, JiraResponseError
from propledger.jira._client import JiraClient
from propledger.jira._errors import read_json_object, response_error, unexpected_body

__all__ = [
    "COUNT_PATH",
    "MAX_PAGE_IDS_ONLY",
    "MAX_PAGE_WITH_PROPERTIES",
    "MAX_SEARCH_PROPERTY_KEYS",
    "SEARCH_PATH",
    "count_issues",
    "search_issues",
]

logger = logging.getLogger("propledger.jira")

SEARCH_PATH = "/rest/api/3/search/jql"
COUNT_PATH = "/rest/api/3/search/approximate-count"
REMOVED_SEARCH_PATH = "/rest/api/3/search"
MAX_SEARCH_PROPERTY_KEYS = 5
"""Jira returns at most five issue properties per search."""
MAX_PAGE_IDS_ONLY = 5000
"""Jira's largest page when only ids or keys are requested."""
MAX_PAGE_WITH_PROPERTIES = 100
"""The page size asked for when properties are requested; Jira documents only "fewer"."""
DEFAULT_MAX_PAGES = 10_000


async def search_issues(
    client: JiraClient,
    jql: str,
    *,
    fields: Sequence[str] = ("id",),
    properties: Sequence[str] = (),
    page_size: int | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every issue the JQL query finds, as Jira's JSON objects, page by page.

    ``properties`` names up to five property keys whose values Jira includes under each
    issue's ``properties``. Raises :class:`~propledger.ConfigurationError` for more
    keys, and :class:`~propledger.JiraResponseError` when Jira rejects the search.
    """
    if len(properties) > MAX_SEARCH_PROPERTY_KEYS:
        raise ConfigurationError(
            f"A search can return at most {MAX_SEARCH_PROPERTY_KEYS} property keys, not "
            f"{len(properties)}. Split the keys over several searches."
        )
    if page_size is None:
        page_size = MAX_PAGE_WITH_PROPERTIES if properties else MAX_PAGE_IDS_ONLY
    body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": page_size}
    if properties:
        body["properties"] = list(properties)
    seen: set[str] = set()
    for _ in range(max_pages):
        page = await _page(client, body)
        issues = page.get("issues") or []
        for issue in issues:
            yield issue
        token = _next_token(page, issues, seen)
        if token is None:
            return
        seen.add(token)
        body["nextPageToken"] = token
    logger.warning(
        "Search stopped at the cap of %d pages",
        max_pages,
        extra={"event": "jira.search_page_cap", "max_pages": max_pages},
    )


async def count_issues(client: JiraClient, jql: str) -> int:
    """Return Jira's estimate of how many issues the JQL query finds.

    Jira documents the count as approximate: recent changes may be missing from it.
    Raises :class:`~propledger.JiraResponseError` when Jira rejects the query.
    """
    response = await client.request("POST", COUNT_PATH, json={"jql": jql}, idempotent=True)
    if response.status_code != 200:
        raise response_error(response, "POST", COUNT_PATH)
    count = read_json_object(response, "POST", COUNT_PATH).get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise unexpected_body(response, "POST", COUNT_PATH, "count")

    return count


async def _page(client: JiraClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.request("POST", SEARCH_PATH, json=body, idempotent=True)
    if response.status_code == 410:
        raise JiraResponseError(
            f"Jira returned 410 Gone for {SEARCH_PATH}: the site no longer serves this search. "
            f"Use {SEARCH_PATH}, which replaced {REMOVED_SEARCH_PATH}.",
            status_code=410,
            method="POST",
            path=SEARCH_PATH,
        )
    if response.status_code != 200:
        raise response_error(response, "POST", SEARCH_PATH)

    return read_json_object(response, "POST", SEARCH_PATH)


def _next_token(page: dict[str, Any], issues: list[Any], seen: set[str]) -> str | None:
    token = page.get("nextPageToken")
    if not issues or page.get("isLast") is True:
        return None
    if not isinstance(token, str) or not token:
        if "isLast" not in page:
            logger.warning(
                "Search page has neither nextPageToken nor isLast; treating it as the last",
                extra={"event": "jira.search_no_token"},
            )
        return None
    if token in seen:
        logger.warning(
            "Search returned a nextPageToken it had returned before; stopping",
            extra={"event": "jira.search_repeated_token"},
        )
        return None

    return token
