"""The admin page Jira shows a site admin: the app's data in the site, export and removal.

Jira loads ``GET /admin/data?...&jwt=...`` in an iframe. The route verifies that token
(its qsh covers this GET), checks with Jira that the user is a site admin, and renders
the page. From then on the page's script calls the JSON API in ``propledger.web.api`` with
fresh context tokens from ``AP.context.getToken()``; it never receives the iframe token.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from propledger import __version__
from propledger.errors import AuthenticationError, JiraError
from propledger.ledger import Ledger
from propledger.model import EntityType, Installation, JobState, RemovalJob
from propledger.settings import Settings
from propledger.web.auth import authenticate

__all__ = ["ENTITY_LABELS", "PAGE_PATH", "STATIC_PATH", "admin_routes"]

logger = logging.getLogger("propledger.web")

PAGE_PATH = "/admin/data"
STATIC_PATH = "/admin/static"

ENTITY_LABELS: dict[str, tuple[str, str]] = {
    EntityType.ISSUE.value: ("issue property", "issue properties"),
    EntityType.USER.value: ("user property", "user properties"),
    EntityType.PROJECT.value: ("project property", "project properties"),
    EntityType.COMMENT.value: ("comment property", "comment properties"),
    EntityType.APP.value: ("app property", "app properties"),
}
"""Singular and plural names of each entity type's properties, as the page shows them."""

_JOB_ENDINGS = {
    JobState.COMPLETED: "every property was removed",
    JobState.COMPLETED_WITH_ISSUES: "some properties could not be confirmed as removed",
}

_HEADERS = {
    # The page's URL carries the iframe token, so neither caches nor Referer headers
    # may keep it.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("propledger.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def admin_routes(ledger: Ledger) -> list[BaseRoute]:
    """Return the admin page route and the mount of its stylesheet and script."""

    settings = ledger.settings

    async def data_page(request: Request) -> Response:
        try:
            caller = await authenticate(request, ledger, allow_context=False)
            account_id = caller.account_id
        except AuthenticationError as exc:
            return _error_page(request, settings, 401, reason=exc.reason)
        installation = caller.installation
        try:
            is_admin = await ledger.is_admin(installation, account_id)
        except JiraError as exc:
            logger.warning(
                "The admin check for the admin page of %s failed: %s",
                installation.client_key,
                exc,
            )
            return _error_page(request, settings, 502, installation)
        if not is_admin:
            return _error_page(request, settings, 403, installation)
        context = await _page_context(ledger, installation)

        return _render(request, settings, "data.html", context, status_code=200)

    static = StaticFiles(packages=[("propledger.web", "static")])

    return [
        Route(PAGE_PATH, data_page, methods=["GET"]),
        Mount(STATIC_PATH, app=static, name="propledger-static"),
    ]


async def _page_context(ledger: Ledger, installation: Installation) -> dict[str, Any]:
    client_key = installation.client_key
    summary = await ledger.inventory_summary(client_key)
    latest = await ledger.store.latest_job(client_key)
    # NOTE: the store keeps no time of a whole rebuild yet, only when a scan last added
    # a row, so a rebuild that found nothing new does not show here.
    last_scan = await ledger.store.last_found_by_scan(client_key)
    rows = [_count_row(entity_type, states) for entity_type, states in summary.items()]
    stored = sum(row["stored"] for row in rows)

    return {
        "host": installation.host,
        "rows": rows,
        "totals": {name: sum(row[name] for row in rows) for name in ("stored", "removed", "gone")},
        "stored_total": "1 property" if stored == 1 else f"{stored} properties",
        "stored_breakdown": _breakdown(rows),
        "last_scan": _format_time(last_scan) if last_scan else None,
        "last_scan_iso": last_scan.isoformat() if last_scan else None,
        "active_removal": latest.id if latest and latest.state.is_active else None,
        "last_removal": _last_removal(latest),
        "labels": {entity_type: plural for entity_type, (_, plural) in ENTITY_LABELS.items()},
    }


def _count_row(entity_type: str, states: dict[str, int]) -> dict[str, Any]:
    # Pending rows count as stored: their write may have reached the site.
    return {
        "entity_type": entity_type,
        "label": _plural(entity_type).capitalize(),
        "stored": states.get("present", 0) + states.get("pending", 0),
        "removed": states.get("removed", 0),
        "gone": states.get("gone", 0),
    }


def _breakdown(rows: list[dict[str, Any]]) -> str:
    parts = [_count_phrase(row["stored"], row["entity_type"]) for row in rows if row["stored"] > 0]
    if len(parts) < 2:
        return "".join(parts)

    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _count_phrase(count: int, entity_type: str) -> str:
    singular, plural = ENTITY_LABELS.get(entity_type, (entity_type, entity_type))

    return f"{count} {singular if count == 1 else plural}"


def _plural(entity_type: str) -> str:
    return ENTITY_LABELS.get(entity_type, (entity_type, f"{entity_type} properties"))[1]


def _last_removal(job: RemovalJob | None) -> dict[str, str] | None:
    if job is None or job.state.is_active:
        return None
    ended = job.finished_at or job.created_at

    return {
        "id": job.id,
        "ended": _format_time(ended),
        "ended_iso": ended.isoformat(),
        "outcome": _JOB_ENDINGS.get(job.state, job.state.value),
    }


def _format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%d %B %Y, %H:%M UTC").lstrip("0")


def _error_page(
    request: Request,
    settings: Settings,
    status: int,
    installation: Installation | None = None,
    *,
    reason: str | None = None,
) -> Response:
    client_key = installation.client_key if installation else None
    logger.warning(
        "Rejected GET %s with status %d",
        request.url.path,
        status,
        extra={
            "event": "web.rejected",
            "status": status,
            "reason": reason,
            "client_key": client_key,
        },
    )
    context = {
        "status": status,
        "reason": reason,
        "host": installation.host if installation else None,
    }

    return _render(request, settings, "error.html", context, status_code=status)


def _render(
    request: Request,
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int,
) -> Response:
    root_path = request.scope.get("root_path", "")
    html = _templates.get_template(template).render(
        **context,
        api_url=f"{root_path}/api",
        static_url=f"{root_path}{STATIC_PATH}",
        asset_version=__version__,
        connect_js_url=settings.connect_js_url,
    )

    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)
