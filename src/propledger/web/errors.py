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
)

__all__ = ["error_response", "handle_propledger_error"]

logger = logging.getLogger("propledger.web")

_STATUS: list[tuple[type[PropledgerError], int]] = [
    (AuthenticationError, 401),
    (NotAdminError, 403),
    (NotFoundError, 404),
    (ConfirmationError, 400),
    (InvalidPayloadError, 400),
    (InvalidPropertyError, 400),
    (ConfigurationError, 400),
    (JiraError, 502),
]


def error_response(status: int, message: str) -> JSONResponse:
    """Return the JSON error body every route uses: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


async def handle_propledger_error(request: Request, exc: Exception) -> Response:
    """Answer a propledger error with its status; anything unmapped is re-raised (500)."""
    status = next((code for error_type, code in _STATUS if isinstance(exc, error_type)), None)
    if status is None:
        raise exc
    message = (
        f"Invalid or missing token: {exc.reason}."
        if isinstance(exc, AuthenticationError)
        else str(exc)
    )
    logger.warning(
        "%s %s answered %d: %s",
        request.method,
        request.url.path,
        status,
        message,
        extra={"event": "web.rejected", "status": status, "error": type(exc).__name__},
    )

    return error_response(status, message)
