"""The browser API of the admin page: inventory counts and removals.

Every route takes a Connect context token (``Authorization: JWT <token>``) and acts
for the user it names, who must be a Jira admin of the token's site.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from propledger.errors import InvalidPayloadError, NotAdminError
from propledger.export import EXPORT_FORMATS, export_inventory, site_value_reader
from propledger.ledger import Ledger
from propledger.removal import job_status, removal_receipt, request_removal
from propledger.web._body import BodyTooLargeError, read_json
from propledger.web.auth import Caller, authenticate

__all__ = ["MAX_API_BODY_BYTES", "AdminAPI", "api_routes"]

MAX_API_BODY_BYTES = 4 * 1024
"""Largest body the admin API reads; a removal request is about 40 bytes."""


async def _admin(request: Request, ledger: Ledger) -> Caller:
    caller = await authenticate(request, ledger, allow_context=True)
    if not await ledger.is_admin(caller.installation, caller.account_id):
        raise NotAdminError(
            "Only a Jira administrator of this site can see or remove the app's data."
        )

    return caller


async def _json_object(request: Request) -> dict[str, object]:
    try:
        body = await read_json(request, max_bytes=MAX_API_BODY_BYTES)
    except BodyTooLargeError:
        raise
    except InvalidPayloadError as exc:
        raise InvalidPayloadError(
            'The request body is not valid JSON. Send {"confirm": ...}.'
        ) from exc
    if not isinstance(body, dict):
        raise InvalidPayloadError(
            'The request body must be a JSON object such as {"confirm": "<site host name>"}.'
        )

    return body


def _flag(text: str, name: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise InvalidPayloadError(f"The {name} parameter {text!r} is invalid. Use true or false.")


def api_routes(ledger: Ledger) -> list[Route]:
    """Return the admin API routes, bound to ``ledger``."""
    api = AdminAPI(ledger)

    return [
        Route("/api/inventory", api.inventory, methods=["GET"]),
        Route("/api/inventory/export", api.export, methods=["GET"]),
        Route("/api/removals", api.create_removal, methods=["POST"]),
        Route("/api/removals/{job_id}", api.removal, methods=["GET"]),
        Route("/api/removals/{job_id}/receipt", api.receipt, methods=["GET"]),
    ]


class AdminAPI:
    """The admin API's endpoints; each verifies its caller before it reads or acts."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def inventory(self, request: Request) -> Response:
        """Return the site, the inventory counts and the active removal, if any."""
        caller = await _admin(request, self.ledger)
        installation = caller.installation
        summary = await self.ledger.inventory_summary(installation.client_key)
        latest = await self.ledger.store.latest_job(installation.client_key)

        return JSONResponse(
            {
                "site": {"base_url": installation.base_url, "host": installation.host},
                "counts": summary,
                "active_removal": latest.id if latest and latest.state.is_active else None,
            }
        )

    async def create_removal(self, request: Request) -> Response:
        """Start a removal for a confirmed Jira admin, or return the active one (202)."""
        caller = await authenticate(request, self.ledger, allow_context=True)
        body = await _json_object(request)
        job, created = await request_removal(
            self.ledger,
            client_key=caller.installation.client_key,
            account_id=caller.account_id,
            confirm=body.get("confirm"),
        )
        status = await job_status(self.ledger.store, job.id, client_key=job.client_key)

        return JSONResponse(
            status | {"created": created},
            status_code=202,
            headers={"Location": f"/api/removals/{job.id}"},
        )

    async def removal(self, request: Request) -> Response:
        """Return a removal's state and counts."""
        caller = await _admin(request, self.ledger)
        job_id = request.path_params["job_id"]
        client_key = caller.installation.client_key

        return JSONResponse(await job_status(self.ledger.store, job_id, client_key=client_key))

    async def receipt(self, request: Request) -> Response:
        """Return a removal's receipt as a JSON download."""
        caller = await _admin(request, self.ledger)
        job_id = request.path_params["job_id"]
        client_key = caller.installation.client_key
        body = await removal_receipt(self.ledger.store, job_id, client_key=client_key)

        return JSONResponse(
            body,
            headers={"Content-Disposition": f'attachment; filename="removal-{job_id}.json"'},
        )

    async def export(self, request: Request) -> Response:
        """Stream the inventory as a CSV, JSON Lines or JSON download."""
        caller = await _admin(request, self.ledger)
        export_format = request.query_params.get("format", "csv")
        values = None
        if _flag(request.query_params.get("with_values", "false"), "with_values"):
            values = site_value_reader(await self.ledger.jira_client(caller.installation))
        chunks = await export_inventory(
            self.ledger.store, caller.installation.client_key, export_format, values=values
        )
        filename = f"propledger-inventory-{caller.installation.host}.{export_format}"

        return StreamingResponse(
            chunks,
            media_type=EXPORT_FORMATS[export_format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
