"""Translation of Jira's failures into propledger's exceptions.

Messages name the method and the path but never the query string, because a Connect
request can carry its JWT there, and never a request body, because it can hold a
property value.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from propledger.errors import JiraResponseError, JiraTransportError, RateLimitedError

__all__ = [
    "rate_limited_error",
    "read_json_object",
    "response_error",
    "transport_error",
    "unexpected_body",
]

_MAX_DETAIL_LENGTH = 300

_REMEDIES = {
    400: "Check the ids, property key and body of the request.",
    401: "Check the app's shared secret, or the operator's email address and API token.",
    403: "Check that the app's scopes and the user's permissions allow this request.",
    404: "Check that the entity exists and that the app can see it.",
}
_SERVER_ERROR_REMEDY = "Jira failed to handle the request. Retry later."
_DEFAULT_REMEDY = "Check the request against Jira's REST API documentation."


def response_error(response: httpx.Response, method: str, path: str) -> JiraResponseError:
    """Return the error for a response whose status the caller did not expect.

    The message includes Jira's ``errorMessages`` or ``message``, if the body has them.
    """
    status = response.status_code
    message = f"Jira returned status {status} for {method} {path}"
    detail = _error_detail(response)
    if detail:
        message += f' with the error "{detail}"'
    remedy = _REMEDIES.get(status, _SERVER_ERROR_REMEDY if status >= 500 else _DEFAULT_REMEDY)

    return JiraResponseError(f"{message}. {remedy}", status_code=status, method=method, path=path)


def rate_limited_error(status: int, method: str, path: str, attempts: int) -> RateLimitedError:
    """Return the error for a rate-limit status that persisted through every attempt."""
    message = (
        f"Jira still returned status {status} for {method} {path} after {_attempts(attempts)}, "
        "which means it is rate limiting requests or is overloaded. "
        "Wait a few minutes and retry, or lower the request rate."
    )

    return RateLimitedError(message, status_code=status, method=method, path=path)


def transport_error(
    exc: httpx.TransportError, method: str, path: str, attempts: int
) -> JiraTransportError:
    """Return the error for a request that got no response in any attempt.

    Only the class name of ``exc`` goes into the message, because its text comes from
    the network layer and nothing checks it for URLs or tokens.
    """
    return JiraTransportError(
        f"{method} {path} failed after {_attempts(attempts)} because Jira could not be "
        f"reached or did not respond in time ({type(exc).__name__}). "
        "Check the site's base URL and the network connection, then retry."
    )


def read_json_object(response: httpx.Response, method: str, path: str) -> dict[str, Any]:
    """Return the response body as a JSON object, or raise if it is anything else."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise JiraResponseError(
            f"Jira returned status {response.status_code} for {method} {path} with a body "
            "that is not a JSON object. Check that the base URL points at a Jira site.",
            status_code=response.status_code,
            method=method,
            path=path,
        )

    return body


def unexpected_body(
    response: httpx.Response, method: str, path: str, member: str
) -> JiraResponseError:
    """Return the error for a JSON object that lacks ``member`` or has it in another form."""
    return JiraResponseError(
        f"Jira returned status {response.status_code} for {method} {path} with a body whose "
        f'"{member}" member is missing or malformed. Check that the base URL points at a '
        "Jira Cloud site.",
        status_code=response.status_code,
        method=method,
        path=path,
    )


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if not isinstance(body, dict):
        return ""
    messages = body.get("errorMessages")
    parts = [str(item) for item in messages] if isinstance(messages, list) else []
    if not parts and isinstance(body.get("message"), str):
        parts = [body["message"]]
    detail = " ".join(part.strip() for part in parts if part.strip()).rstrip(".")

    return detail if len(detail) <= _MAX_DETAIL_LENGTH else detail[:_MAX_DETAIL_LENGTH] + "..."


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"
