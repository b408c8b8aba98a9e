"""Map propledger's exceptions to JSON error responses with the right status."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from propledger.errors import (
    AuthenticationError,
    ConfigurationError,
    ConfirmationError,
    InvalidPayloadError,
    InvalidPropertyError,
    JiraError,
    NotAdminError,
    NotFoundError,
    PropledgerError,
    SecretKeyError,
)
from propledger.web._body import BodyTooLargeError

__all__ = ["CLIENT_KEY_STATE", "error_response", "handle_propledger_error", "note_client_key"]

logger = logging.getLogger("propledger.web")

CLIENT_KEY_STATE = "propledger_client_key"
"""Request state attribute holding the client key a request claims, for the rejection log."""

_MAX_LOGGED_CLIENT_KEY = 100

_STATUS: list[tuple[type[PropledgerError], int]] = [
    (AuthenticationError, 401),
    (BodyTooLargeError, 413),
    (NotAdminError, 403),
    (NotFoundError, 404),
    (ConfirmationError, 400),
    (InvalidPayloadError, 400),
    (InvalidPropertyError, 400),
    (SecretKeyError, 503),
    (ConfigurationError, 400),
    (JiraError, 502),
]


def note_client_key(request: Request, client_key: object) -> None:
    """Remember the client key a request claims, verified or not, for the rejection log."""
    if isinstance(client_key, str) and client_key:
        setattr(request.state, CLIENT_KEY_STATE, client_key[:_MAX_LOGGED_CLIENT_KEY])


def error_response(status: int, message: str) -> JSONResponse:
    """Return the JSON error body every route uses: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


async def handle_propledger_error(request: Request, exc: Exception) -> Response:
    """Return the JSON error response for a propledger error; others are re-raised (500)."""
    status = next((code for error_type, code in _STATUS if isinstance(exc, error_type)), None)
    if status is None:
        raise exc
    message = (
        f"Invalid or missing token: {exc.reason}."
        if isinstance(exc, AuthenticationError)
        else str(exc)
    )
    # The client key is unverified input when the token was rejected, so it is capped
    # and quoted; the token itself is never logged.
    client_key = getattr(request.state, CLIENT_KEY_STATE, None)
    logger.warning(
        "%s %s from client key %s returned %d: %s",
        request.method,
        request.url.path,
        "(unknown)" if client_key is None else repr(client_key),
        status,
        message,
        extra={
            "event": "web.rejected",
            "status": status,
            "error": type(exc).__name__,
            "client_key": client_key,
        },
    )

    return error_response(status, message)
