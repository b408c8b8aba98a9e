"""Routes for Jira's lifecycle callbacks: installed, uninstalled, enabled, disabled.

``installed`` and ``uninstalled`` carry an RS256 token signed by Atlassian (the key is
fetched by ``kid`` from the install-key server); ``enabled`` and ``disabled`` carry an
HS256 token signed with the installation's shared secret.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from propledger.connect import token_from_request, verify_lifecycle_token
from propledger.errors import AuthenticationError, InvalidPayloadError
from propledger.ledger import Ledger
from propledger.lifecycle import LifecyclePayload, apply_event, apply_installed
from propledger.web.auth import authenticate, request_target

__all__ = ["lifecycle_routes"]


async def _payload(request: Request, event_type: str) -> LifecyclePayload:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayloadError("The lifecycle payload is not valid JSON.") from exc

    return LifecyclePayload.parse(body, event_type=event_type)


async def _verify_signed(request: Request, ledger: Ledger, payload: LifecyclePayload) -> None:
    token = token_from_request(request.headers, request.query_params)
    if not token:
        raise AuthenticationError("missing token")
    await verify_lifecycle_token(
        token,
        method=request.method,
        url=request_target(request),
        app_base_url=ledger.settings.app_base_url,
        client_key=payload.client_key,
        keys=request.app.state.install_keys,
        allowed_audiences=ledger.settings.allowed_audiences,
        leeway=ledger.settings.token_leeway,
    )


def lifecycle_routes(ledger: Ledger) -> list[Route]:
    """Return the four lifecycle routes, bound to ``ledger``."""

    async def installed(request: Request) -> Response:
        payload = await _payload(request, "installed")
        await _verify_signed(request, ledger, payload)
        await apply_installed(ledger.store, payload)

        return Response(status_code=204)

    async def uninstalled(request: Request) -> Response:
        payload = await _payload(request, "uninstalled")
        await _verify_signed(request, ledger, payload)
        await apply_event(ledger.store, payload.client_key, "uninstalled")

        return Response(status_code=204)

    async def shared_secret_event(request: Request) -> Response:
        event_type = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        payload = await _payload(request, event_type)
        caller = await authenticate(request, ledger, allow_context=False)
        if caller.installation.client_key != payload.client_key:
            raise AuthenticationError("token issuer does not match the payload's clientKey")
        await apply_event(ledger.store, payload.client_key, event_type)

        return Response(status_code=204)

    return [
        Route("/installed", installed, methods=["POST"]),
        Route("/uninstalled", uninstalled, methods=["POST"]),
        Route("/enabled", shared_secret_event, methods=["POST"]),
        Route("/disabled", shared_secret_event, methods=["POST"]),
    ]
