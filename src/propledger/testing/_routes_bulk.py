"""FakeJira's bulk issue-property delete and the task route that reports on it.

``DELETE /rest/api/3/issue/properties/{propertyKey}`` returns 303 with the task's URL in
``Location``. Like Jira, the task deletes the property only from eligible issues: those
in ``entityIds`` (or every issue, with an empty filter) that the caller can see, and
whose value equals ``currentValue`` when one is given. Issues hidden from the app are
skipped and the task still ends COMPLETE.
"""

from __future__ import annotations

import dataclasses
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from propledger.model import EntityType, JSONValue
from propledger.scope import MAX_PROPERTY_KEY_LENGTH
from propledger.testing._auth import Caller, Handler, JiraJSONResponse, jira_endpoint, jira_error
from propledger.testing._sites import FakeIssue, FakeSite

__all__ = ["bulk_routes"]

_FILTER_MEMBERS = frozenset({"entityIds", "currentValue"})


class _BadFilter(Exception):
    """A bulk filter Jira rejects with status 400. The message is safe to return."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Filter:
    entity_ids: list[str] | None
    has_current_value: bool
    current_value: JSONValue = None


def _read_filter(body: bytes) -> _Filter:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise _BadFilter("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise _BadFilter("The request body must be a JSON object.")
    unknown = sorted(set(data) - _FILTER_MEMBERS)
    if unknown:
        raise _BadFilter(f'Unrecognized field "{unknown[0]}".')
    ids = data.get("entityIds")
    if ids is not None and (
        not isinstance(ids, list)
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in ids)
    ):
        raise _BadFilter("entityIds must be a list of numeric issue ids.")

    return _Filter(
        entity_ids=None if ids is None else [str(item) for item in ids],
        has_current_value="currentValue" in data,
        current_value=data.get("currentValue"),
    )


def _eligible(site: FakeSite, caller: Caller, key: str, bulk_filter: _Filter) -> list[FakeIssue]:
    if bulk_filter.entity_ids is None:
        candidates = sorted(site.issues.values(), key=lambda issue: int(issue.id))
    else:
        found = (site.issues.get(issue_id) for issue_id in dict.fromkeys(bulk_filter.entity_ids))
        candidates = [issue for issue in found if issue is not None]

    return [
        issue
        for issue in candidates
        if not (caller.is_app and site.is_issue_hidden(issue.id))
        and key in issue.properties
        and (
            not bulk_filter.has_current_value or issue.properties[key] == bulk_filter.current_value
        )
    ]


def _submitter(caller: Caller) -> str:
    return caller.issuer or caller.account_id or ""


def _bulk_delete(api_version: str) -> Handler:
    async def handler(request: Request, site: FakeSite, caller: Caller) -> Response:
        key = request.path_params["propertyKey"]
        if len(key) > MAX_PROPERTY_KEY_LENGTH:
            return jira_error(
                400, f"The property key cannot be longer than {MAX_PROPERTY_KEY_LENGTH} characters."
            )
        try:
            bulk_filter = _read_filter(await request.body())
        except _BadFilter as exc:
            return jira_error(400, str(exc))

        def work() -> None:
            # Eligibility is decided when the task runs, as in Jira.
            for issue in _eligible(site, caller, key, bulk_filter):
                del issue.properties[key]
                site.record_deletion(EntityType.ISSUE, issue.id, key)

        task = site.add_task(
            api_version=api_version,
            description=f"Bulk delete of issue property {key}",
            submitted_by=_submitter(caller),
            work=work,
        )

        return Response(status_code=303, headers={"Location": task.url})

    return handler


async def _get_task(request: Request, site: FakeSite, caller: Caller) -> Response:
    task_id = request.path_params["taskId"]
    task = site.tasks.get(task_id)
    if task is None:
        return jira_error(404, f"The task with id {task_id} does not exist.")
    if not caller.is_admin and _submitter(caller) != task.submitted_by:
        return jira_error(403, "Only a Jira administrator or the task's submitter can view it.")
    task.poll()

    return JiraJSONResponse(task.to_json())


def bulk_routes() -> list[Route]:
    """Return the bulk issue-property delete and task routes, under API versions 3 and 2."""
    routes: list[Route] = []
    for version in ("3", "2"):
        api = f"/rest/api/{version}"
        routes.append(
            Route(
                f"{api}/issue/properties/{{propertyKey}}",
                jira_endpoint(_bulk_delete(version)),
                methods=["DELETE"],
            )
        )
        routes.append(Route(f"{api}/task/{{taskId}}", jira_endpoint(_get_task), methods=["GET"]))

    return routes
