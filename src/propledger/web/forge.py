"""Routes a Forge app calls through Forge Remote: inventory counts and removals.

Each call carries a Forge invocation token (``Authorization: Bearer``), verified
against Forge's key set, and the app system token in ``x-forge-oauth-system``, which
propledger uses to call the site's REST API. The calling user must be a Jira admin.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propledger.errors import AuthenticationError, ConfirmationError, NotAdminError
from propledger.forge import (
    Invocation,
    forge_client_key,
    record_invocation,
    verify_invocation_token,
)
from propledger.ledger import Ledger
from propledger.model import Installation
from propledger.removal import job_status, start_removal
from propledger.web._body import read_json
from propledger.web.errors import note_client_key

__all__ = ["forge_routes"]

SYSTEM_TOKEN_HEADER = "x-forge-oauth-system"  # noqa: S105 - a header name, not a token
_MAX_SYSTEM_TOKEN_LENGTH = 8192


async def _invocation(request: Request, ledger: Ledger) -> tuple[Installation, Invocation]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing token")
    settings = ledger.settings
    invocation = await verify_invocation_token(
        token.strip(),
        app_id=settings.forge_app_id or "",
        keys=request.app.state.forge_keys,
        leeway=settings.token_leeway,
    )
    note_client_key(request, forge_client_key(invocation.installation_id))
    system_token = request.headers.get(SYSTEM_TOKEN_HEADER, "").strip()
    if not system_token:
        raise AuthenticationError("missing app system token")
    if len(system_token) > _MAX_SYSTEM_TOKEN_LENGTH or not system_token.isprintable():
        raise AuthenticationError("invalid app system token")
    installation = await record_invocation(
        ledger.store,
        invocation,
        system_token=system_token,
        api_base_url=settings.forge_api_base_url,
    )

    return installation, invocation


async def _admin(request: Request, ledger: Ledger) -> tuple[Installation, str]:
    installation, invocation = await _invocation(request, ledger)
    if invocation.account_id is None:
        raise AuthenticationError("token names no user")
    if not await ledger.is_admin(installation, invocation.account_id):
        raise NotAdminError(
            "Only a Jira administrator of this site can see or remove the app's data."
        )

    return installation, invocation.account_id


def _site_host(installation: Installation) -> str:
    if installation.display_url is None:
        raise ConfirmationError(
            "The invocation named no site URL, so the removal cannot be confirmed. "
            "Start it from the app's admin page in Jira."
        )

    return Installation(installation.client_key, installation.display_url, "").host


def forge_routes(ledger: Ledger) -> list[Route]:
    """Return the Forge Remote routes, bound to ``ledger``."""

    async def inventory(request: Request) -> Response:
        installation, _ = await _admin(request, ledger)
        summary = await ledger.inventory_summary(installation.client_key)
        latest = await ledger.store.latest_job(installation.client_key)

        return JSONResponse(
            {
                "site": {"url": installation.display_url},
                "counts": summary,
                "active_removal": latest.id if latest and latest.state.is_active else None,
            }
        )

    async def create_removal(request: Request) -> Response:
        installation, account_id = await _admin(request, ledger)
        body = await read_json(request)
        confirm = body.get("confirm") if isinstance(body, dict) else None
        host = _site_host(installation)
        if not isinstance(confirm, str) or confirm.strip().lower() != host.lower():
            raise ConfirmationError(
                f"The confirmation does not match. Type the site's host name, {host}, "
                "to confirm the removal."
            )
        job, created = await start_removal(
            ledger, client_key=installation.client_key, requested_by=account_id
        )
        status = await job_status(ledger.store, job.id, client_key=job.client_key)

        return JSONResponse(status | {"created": created}, status_code=202)

    async def removal(request: Request) -> Response:
        installation, _ = await _admin(request, ledger)
        job_id = request.path_params["job_id"]

        return JSONResponse(
            await job_status(ledger.store, job_id, client_key=installation.client_key)
        )

    return [
        Route("/forge/inventory", inventory, methods=["GET"]),
        Route("/forge/removals", create_removal, methods=["POST"]),
        Route("/forge/removals/{job_id}", removal, methods=["GET"]),
    ]
