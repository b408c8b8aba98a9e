"""A small Connect app that keeps a checklist per issue, stored through propledger.

Every checklist is an issue property written with a tracked write, so the site admin
can later remove all of them from the app's admin page. Run it against FakeJira::

    propledger fake-jira --port 8080 --app-key com.example.checklist
    PROPLEDGER_APP_KEY=com.example.checklist \\
    PROPLEDGER_BASE_URL=http://127.0.0.1:8000 \\
    PROPLEDGER_INSTALL_KEYS_URL=http://127.0.0.1:8080/_fake/install-keys \\
    python examples/checklist_app.py
"""

from __future__ import annotations

import asyncio
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propledger.errors import InvalidPayloadError
from propledger.ledger import Ledger
from propledger.settings import Settings
from propledger.web import create_app
from propledger.web.auth import authenticate

CHECKLIST_KEY = "checklist"


def checklist_routes(ledger: Ledger) -> list[Route]:
    """Return the app's own routes: read and replace an issue's checklist."""
    property_key = f"{ledger.settings.app_key}.{CHECKLIST_KEY}"

    async def read(request: Request) -> Response:
        caller = await authenticate(request, ledger, allow_context=True)
        site = await ledger.site(caller.installation.client_key)
        value = await site.issue(request.path_params["issue_id"]).get_property(property_key)

        return JSONResponse({"items": value["items"] if value else []})

    async def replace(request: Request) -> Response:
        caller = await authenticate(request, ledger, allow_context=True)
        try:
            items = json.loads(await request.body())["items"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidPayloadError('Send {"items": [{"text": ..., "done": ...}]}.') from exc
        site = await ledger.site(caller.installation.client_key)
        await site.issue(request.path_params["issue_id"]).set_property(
            property_key, {"items": items}
        )

        return JSONResponse({"items": items})

    return [
        Route("/checklist/{issue_id}", read, methods=["GET"]),
        Route("/checklist/{issue_id}", replace, methods=["PUT"]),
    ]


def build_app(ledger: Ledger) -> Starlette:
    """Return the checklist app with propledger's lifecycle, API and worker mounted."""
    return create_app(ledger, routes=checklist_routes(ledger))


async def main() -> None:
    async with await Ledger.open(Settings.from_env()) as ledger:
        config = uvicorn.Config(build_app(ledger), host="127.0.0.1", port=8000, access_log=False)
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(main())
