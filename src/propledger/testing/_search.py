"""FakeJira's enhanced JQL search: ``/rest/api/3/search/jql`` with token paging.

``/rest/api/3/search/approximate-count`` counts the issues a query finds, exactly.

FakeJira understands a small part of JQL, enough for propledger's scans and checks:
clauses joined by ``AND`` on ``id``/``issue``/``key`` (``in``, ``=``, ``>``, ``>=``)
and ``project`` (``=``, ``in``, ``is not EMPTY``), and any ``ORDER BY``, which sorts by
id. Like Jira, it rejects a query without a search restriction.

Page sizes follow Jira's documentation where it gives numbers: up to 5000 issues per
page when only ids or keys are requested. With properties or other fields Jira returns
"fewer"; FakeJira serves at most 100 then, an assumption, not a documented figure.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from propledger.testing._auth import Caller, JiraJSONResponse, jira_endpoint, jira_error
from propledger.testing._sites import FakeIssue, FakeSite

__all__ = ["MAX_PAGE_IDS_ONLY", "MAX_PAGE_WITH_DETAILS", "SearchQuirks", "search_routes"]

MAX_PAGE_IDS_ONLY = 5000
MAX_PAGE_WITH_DETAILS = 100
MAX_PROPERTY_KEYS = 5
UNBOUNDED_MESSAGE = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)

_CLAUSE = re.compile(
    r"^(?P<field>id|issue|issuekey|key|project)\s*"
    r"(?P<op>not\s+in|in|is\s+not|>=|>|=)\s*(?P<value>.+)$",
    re.IGNORECASE,
)


@dataclasses.dataclass(slots=True)
class SearchQuirks:
    """Misbehaviour FakeJira can be set to show, so clients' guards can be tested.

    ``repeat_token`` returns the first page's token on every later page;
    ``drop_token`` leaves out both ``nextPageToken`` and ``isLast`` after that many pages.
    """

    repeat_token: bool = False
    drop_token_after: int | None = None


def _parse(jql: str) -> tuple[list[Callable[[FakeSite, FakeIssue], bool]], str | None]:
    query = re.split(r"\border\s+by\b", jql, maxsplit=1, flags=re.IGNORECASE)[0].strip()
    if not query:
        return [], UNBOUNDED_MESSAGE
    tests = []
    for clause in re.split(r"\s+and\s+", query, flags=re.IGNORECASE):
        match = _CLAUSE.match(clause.strip())
        if match is None:
            return [], f"Error in the JQL Query: FakeJira cannot parse the clause {clause!r}."
        tests.append(_clause_test(match["field"].lower(), match["op"].lower(), match["value"]))

    return tests, None


def _values(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]

    return [part.strip().strip("\"'") for part in text.split(",") if part.strip()]


def _clause_test(field: str, op: str, value: str) -> Callable[[FakeSite, FakeIssue], bool]:
    op = " ".join(op.split())
    if field == "project":
        if op == "is not":
            return lambda site, issue: True
        names = {name.upper() for name in _values(value)}
        return lambda site, issue: (
            issue.project_id in names or site.projects[issue.project_id].key.upper() in names
        )
    values = _values(value)
    if op in (">", ">="):
        bound = int(values[0])
        return lambda site, issue: int(issue.id) > bound or (op == ">=" and int(issue.id) == bound)
    names = {name.upper() for name in values}
    negate = op == "not in"

    def matches(site: FakeSite, issue: FakeIssue) -> bool:
        return (issue.id in names or issue.key.upper() in names) != negate

    return matches


class _Cursors:
    """The matching issues of recent searches, kept so that later pages reuse them.

    Filtering and sorting every issue of the site for each page would make a paged
    search of a large site quadratic. A search's issues are fixed when its first page
    is served, as a database cursor fixes its rows. Their properties are read when each
    page is served.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._searches: OrderedDict[str, tuple[bool, list[FakeIssue]]] = OrderedDict()

    def get(self, search_id: str | None, caller: Caller) -> list[FakeIssue] | None:
        stored = self._searches.get(search_id or "")
        if stored is None or stored[0] != caller.is_app:
            return None

        return stored[1]

    def start(self, issues: list[FakeIssue], caller: Caller) -> str:
        search_id = uuid.uuid4().hex
        self._searches[search_id] = (caller.is_app, issues)
        while len(self._searches) > self._size:
            self._searches.popitem(last=False)

        return search_id


def _token(offset: int, jql: str, search_id: str) -> str:
    raw = json.dumps({"offset": offset, "jql": jql, "search": search_id}).encode()

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str | None, jql: str) -> tuple[int, str | None] | None:
    """Return the offset and search id of a token, or None if it is invalid."""
    if not token:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("jql") != jql:
        return None
    search_id = data.get("search")

    return int(data.get("offset", 0)), search_id if isinstance(search_id, str) else None


def _issue_json(
    site: FakeSite, issue: FakeIssue, fields: list[str], keys: list[str]
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": issue.id}
    if "key" in fields or "*all" in fields:
        body["key"] = issue.key
        body["self"] = f"{site.base_url}/rest/api/3/issue/{issue.id}"
    if keys:
        body["properties"] = {key: issue.properties[key] for key in keys if key in issue.properties}

    return body


async def _search(
    request: Request, site: FakeSite, caller: Caller, quirks: SearchQuirks, cursors: _Cursors
) -> Response:
    if request.method == "POST":
        try:
            body = json.loads(await request.body())
        except ValueError:
            return jira_error(400, "The request body is not valid JSON.")
    else:
        params = request.query_params
        body = {
            "jql": params.get("jql", ""),
            "nextPageToken": params.get("nextPageToken"),
            "maxResults": int(params.get("maxResults", "50")),
            "fields": ",".join(params.getlist("fields")).split(",") if "fields" in params else [],
            "properties": ",".join(params.getlist("properties")).split(",")
            if "properties" in params
            else [],
        }
    jql = str(body.get("jql") or "")
    tests, error = _parse(jql)
    if error:
        return jira_error(400, error)
    keys = [key for key in body.get("properties") or [] if key]
    if len(keys) > MAX_PROPERTY_KEYS:
        return jira_error(400, f"At most {MAX_PROPERTY_KEYS} issue property keys can be requested.")
    fields = [field for field in body.get("fields") or ["id"] if field]
    detailed = bool(keys) or any(field not in ("id", "key") for field in fields)
    limit = min(
        int(body.get("maxResults") or 50), MAX_PAGE_WITH_DETAILS if detailed else MAX_PAGE_IDS_ONLY
    )
    position = _read_token(body.get("nextPageToken"), jql)
    if position is None:
        return jira_error(400, "The nextPageToken is invalid or belongs to another query.")
    offset, search_id = position
    visible = cursors.get(search_id, caller)
    if search_id is None or visible is None:
        visible = _matching_issues(site, caller, tests)
        search_id = cursors.start(visible, caller)
    page = visible[offset : offset + max(limit, 1)]
    is_last = offset + len(page) >= len(visible)
    result: dict[str, Any] = {"issues": [_issue_json(site, issue, fields, keys) for issue in page]}
    page_number = offset // max(limit, 1)
    if quirks.drop_token_after is not None and page_number + 1 >= quirks.drop_token_after:
        return JiraJSONResponse(result)
    result["isLast"] = is_last
    if not is_last:
        token_offset = limit if quirks.repeat_token else offset + len(page)
        result["nextPageToken"] = _token(token_offset, jql, search_id)

    return JiraJSONResponse(result)


def _matching_issues(
    site: FakeSite, caller: Caller, tests: list[Callable[[FakeSite, FakeIssue], bool]]
) -> list[FakeIssue]:
    return [
        issue
        for issue in sorted(site.issues.values(), key=lambda issue: int(issue.id))
        if (not caller.is_app or not site.is_issue_hidden(issue.id))
        and all(test(site, issue) for test in tests)
    ]


async def _count(request: Request, site: FakeSite, caller: Caller) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return jira_error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return jira_error(400, "The request body must be a JSON object.")
    tests, error = _parse(str(body.get("jql") or ""))
    if error:
        return jira_error(400, error)

    return JiraJSONResponse({"count": len(_matching_issues(site, caller, tests))})


def search_routes(quirks: SearchQuirks) -> list[Route]:
    """Return the enhanced search and count routes; ``quirks`` is read on every request."""

    cursors = _Cursors()

    async def search(request: Request, site: FakeSite, caller: Caller) -> Response:
        return await _search(request, site, caller, quirks, cursors)

    routes = [
        Route(f"/rest/api/{version}/search/jql", jira_endpoint(search), methods=["GET", "POST"])
        for version in ("3", "2")
    ]
    routes.append(
        Route("/rest/api/3/search/approximate-count", jira_endpoint(_count), methods=["POST"])
    )

    return routes
