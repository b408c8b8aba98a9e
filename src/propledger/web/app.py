"""Build propledger's Starlette app around a ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propledger.connect import InstallKeys
from propledger.errors import PropledgerError
from propledger.forge import ForgeKeys
from propledger.ledger import Ledger
from propledger.removal import Worker
from propledger.web.admin import admin_routes
from propledger.web.api import api_routes
from propledger.web.errors import handle_propledger_error
from propledger.web.forge import forge_routes
from propledger.web.lifecycle import lifecycle_routes

__all__ = ["create_app"]

access_logger = logging.getLogger("propledger.web.access")
logger = logging.getLogger("propledger.web")


def create_app(
    ledger: Ledger, *, routes: Sequence[BaseRoute] = (), run_worker: bool = True
) -> Starlette:
    """Return the ASGI app serving lifecycle callbacks, the admin page and its API.

    ``routes`` adds the app's own routes, so a Connect app can be one Starlette app
    with propledger's routes mounted beside its own. With ``run_worker`` the app runs
    one removal worker in-process for its lifetime, which also resumes any removal
    found unfinished at start-up. The Forge Remote routes are served when the settings
    name a Forge app id.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings = ledger.settings
        keys_client = None
        if settings.jira_transport is not None:
            keys_client = httpx.AsyncClient(transport=settings.jira_transport)
        app.state.install_keys = InstallKeys(settings.install_keys_url, client=keys_client)
        app.state.forge_keys = ForgeKeys(settings.forge_jwks_url, client=keys_client)
        worker_task = None
        if run_worker:
            worker_task = asyncio.create_task(Worker(ledger).run_forever(), name="removal-worker")
        try:
            yield
        finally:
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await app.state.install_keys.aclose()
            await app.state.forge_keys.aclose()
            if keys_client is not None:
                await keys_client.aclose()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/healthz", health, methods=["GET"]),
            *lifecycle_routes(ledger),
            *api_routes(ledger),
            *admin_routes(ledger),
            *(forge_routes(ledger) if ledger.settings.forge_app_id else []),
            *routes,
        ],
        lifespan=lifespan,
        exception_handlers={PropledgerError: handle_propledger_error},
    )
    app.state.ledger = ledger
    app.add_middleware(AccessLogMiddleware)

    return app


class AccessLogMiddleware:
    """Logs one line per request: method, path and status, never the query string.

    Connect sends the JWT in the query string of page requests, so uvicorn's own access
    log, which includes it, must stay off.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )
