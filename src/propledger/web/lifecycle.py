"""Routes for Jira's lifecycle callbacks: installed, uninstalled, enabled, disabled.

``installed`` and ``uninstalled`` carry an RS256 token signed by Atlassian (the key is
fetched by ``kid`` from the install-key server); ``enabled`` and ``disabled`` carry an
HS256 token signed with the installation's shared secret. The token is required before
the body is read. A rejected callback gets 400 (invalid payload), 401 (invalid
or missing token) or 413 (body too large), never 500, and an accepted one 204, also
when it changes nothing because it was delivered before.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from propledger.connect import token_from_request, verify_lifecycle_token
from propledger.errors import AuthenticationError
from propledger.ledger import Ledger
from propledger.lifecycle import LifecycleEvent, LifecyclePayload, apply_event, apply_installed
from propledger.store import LifecycleResult
from propledger.web._body import read_json
from propledger.web.auth import authenticate, request_target
from propledger.web.errors import note_client_key

__all__ = ["lifecycle_routes"]

logger = logging.getLogger("propledger.web")


def _require_token(request: Request) -> str:
    token = token_from_request(request.headers, request.query_params)
    if not token:
        raise AuthenticationError("missing token")

    return token


async def _payload(request: Request, ledger: Ledger, event: LifecycleEvent) -> LifecyclePayload:
    body = await read_json(request)
    if isinstance(body, dict):
        note_client_key(request, body.get("clientKey"))

    return LifecyclePayload.parse(body, event_type=event, app_key=ledger.settings.app_key)


async def _verify_signed(
    request: Request, token: str, ledger: Ledger, payload: LifecyclePayload
) -> None:
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


def _log_unchanged(result: LifecycleResult, event: LifecycleEvent) -> None:
    if not result.transitions:
        logger.info(
            "The %s event left installation %s %s",
            event.value,
            result.installation.client_key,
            result.installation.state.value,
            extra={"event": "lifecycle.unchanged", "client_key": result.installation.client_key},
        )


def lifecycle_routes(ledger: Ledger) -> list[Route]:
    """Return the four lifecycle routes, bound to ``ledger``."""

    async def installed(request: Request) -> Response:
        token = _require_token(request)
        payload = await _payload(request, ledger, LifecycleEvent.INSTALLED)
        await _verify_signed(request, token, ledger, payload)
        _log_unchanged(await apply_installed(ledger.store, payload), LifecycleEvent.INSTALLED)

        return Response(status_code=204)

    async def uninstalled(request: Request) -> Response:
        token = _require_token(request)
        payload = await _payload(request, ledger, LifecycleEvent.UNINSTALLED)
        await _verify_signed(request, token, ledger, payload)
        if await ledger.store.find_installation(payload.client_key) is None:
            # Signed by Atlassian, so genuine: there is simply nothing to uninstall.
            logger.warning(
                "Ignored the uninstalled event of unknown client key %r",
                payload.client_key,
                extra={"event": "lifecycle.unknown", "client_key": payload.client_key},
            )
            return Response(status_code=204)
        result = await apply_event(ledger.store, payload.client_key, LifecycleEvent.UNINSTALLED)
        _log_unchanged(result, LifecycleEvent.UNINSTALLED)

        return Response(status_code=204)

    async def shared_secret_event(request: Request) -> Response:
        event = LifecycleEvent(request.url.path.rstrip("/").rsplit("/", 1)[-1])
        _require_token(request)
        payload = await _payload(request, ledger, event)
        caller = await authenticate(request, ledger, allow_context=False, allow_inactive=True)
        if caller.installation.client_key != payload.client_key:
            raise AuthenticationError("token issuer does not match the payload's clientKey")
        _log_unchanged(await apply_event(ledger.store, payload.client_key, event), event)

        return Response(status_code=204)

    return [
        Route("/installed", installed, methods=["POST"]),
        Route("/uninstalled", uninstalled, methods=["POST"]),
        Route("/enabled", shared_secret_event, methods=["POST"]),
        Route("/disabled", shared_secret_event, methods=["POST"]),
    ]
