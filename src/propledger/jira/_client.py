"""The async Jira REST client: retries, rate limits and the entity property calls."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from propledger.errors import ConfigurationError, JiraError
from propledger.jira._endpoints import property_keys_request, property_request
from propledger.jira._errors import (
    rate_limited_error,
    read_json_object,
    response_error,
    transport_error,
    unexpected_body,
)
from propledger.jira._rate import RateController
from propledger.jira._retry import IDEMPOTENT_METHODS, RetryPolicy, requested_wait, retry_delay
from propledger.model import EntityType, JSONValue, PropertyRef, utcnow

__all__ = ["JiraClient"]

_logger = logging.getLogger("propledger.jira")

_PERMISSIONS_CHECK_PATH = "/rest/api/3/permissions/check"
_ADMINISTER = "ADMINISTER"
_DELETE_STATUSES = frozenset({204, 400, 401, 403, 404})
"""Statuses of a property delete that the caller classifies itself."""


class JiraClient:
    """An async client for one Jira site's REST API.

    ``auth`` is :class:`~propledger.jira.ConnectAuth` for an app, or
    :func:`~propledger.jira.basic_auth` for an operator. ``forge`` makes app properties
    use the Forge app-properties API, for a Forge app. Idempotent requests that fail
    with a retryable status or a transport error are retried under the ``retry``
    policy. Logs name the method and path of each request, never its query string or
    body.

    ``rate`` is the :class:`~propledger.jira.RateController` of the site. Clients that
    share one pace their requests together, and a wait that Jira requests in
    ``Retry-After`` or ``X-RateLimit-Reset`` pauses all of them. Without a controller
    each request waits for itself.

    NOTE: httpx itself logs every request's full URL, query string included, at INFO on
    the ``httpx`` logger. An application that logs at INFO should raise that logger's
    level to WARNING.
    """

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - the policy is frozen
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        max_connections: int = 20,
        forge: bool = False,
        rate: RateController | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"The Jira base URL {base_url!r} is invalid. "
                "Give an absolute http or https URL, such as https://example.atlassian.net."
            )
        self._base_url = base_url.rstrip("/")
        self._forge = forge
        self._retry = retry
        self._rate = rate
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter only
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            auth=auth,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"Accept": "application/json"},
        )

    @property
    def base_url(self) -> str:
        """The site's base URL, without a trailing slash."""
        return self._base_url

    async def __aenter__(self) -> JiraClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections to Jira."""
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: JSONValue = None,
        content: str | bytes | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request to Jira, retrying as the retry policy allows, and return the response.

        ``path`` is relative to the base URL, percent-encoded, without a query string.
        ``content`` is a JSON text sent as is. ``idempotent`` defaults to true for GET,
        PUT, DELETE, HEAD and OPTIONS, and only idempotent requests are retried.

        Any response whose status is not retryable is returned, and so is a server error
        that persisted through every attempt. A rate-limit status that persisted raises
        :class:`~propledger.errors.RateLimitedError`, and a transport error in the last
        attempt raises :class:`~propledger.errors.JiraTransportError`.
        """
        method = method.upper()
        _check_path(method, path)
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempts = self._retry.max_attempts if idempotent else 1
        request = self._build_request(method, path, params, json, content)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._send(request, method, path)
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise transport_error(exc, method, path, attempt) from exc
                await self._wait(method, path, attempt, attempts, None, exc)
                continue
            if not self._retry.is_retryable_status(response.status_code):
                return response
            if attempt == attempts:
                if response.status_code in self._retry.retry_statuses:
                    raise rate_limited_error(response.status_code, method, path, attempt)
                return response
            await self._wait(method, path, attempt, attempts, response, None)

    async def set_property(self, ref: PropertyRef, json_text: str) -> bool:
        """Store ``json_text``, an already serialized JSON value, as a property.

        Return true when Jira created the property (201) and false when it updated an
        existing one (200). Any other status raises
        :class:`~propledger.errors.JiraResponseError`.
        """
        path, params = property_request(ref, forge=self._forge)
        response = await self.request("PUT", path, params=params, content=json_text)
        if response.status_code not in (200, 201):
            raise response_error(response, "PUT", path)

        return response.status_code == 201

    async def get_property(self, ref: PropertyRef) -> JSONValue | None:
        """Return the value of a property, or None when Jira returns 404."""
        path, params = property_request(ref, forge=self._forge)
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise response_error(response, "GET", path)
        body = read_json_object(response, "GET", path)
        if "value" not in body:
            raise unexpected_body(response, "GET", path, "value")

        return body["value"]

    async def list_property_keys(self, entity_type: EntityType, entity_id: str) -> list[str] | None:
        """Return the property keys of one entity, or None when Jira returns 404."""
        path, params = property_keys_request(entity_type, entity_id, forge=self._forge)
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise response_error(response, "GET", path)
        entries = read_json_object(response, "GET", path).get("keys")
        if not isinstance(entries, list) or not all(_is_key_entry(entry) for entry in entries):
            raise unexpected_body(response, "GET", path, "keys")

        return [entry["key"] for entry in entries]

    async def delete_property(self, ref: PropertyRef) -> int:
        """Delete a property and return the status code: 204, 400, 401, 403 or 404.

        The caller decides what each status means, because a 404 can mean that the
        property is gone or that the entity is hidden from the app. Any other status
        raises :class:`~propledger.errors.JiraResponseError`.
        """
        path, params = property_request(ref, forge=self._forge)
        response = await self.request("DELETE", path, params=params)
        if response.status_code not in _DELETE_STATUSES:
            raise response_error(response, "DELETE", path)

        return response.status_code

    async def is_admin(self, account_id: str) -> bool:
        """Return whether the user has Jira's global ADMINISTER permission on the site."""
        body = {"accountId": account_id, "globalPermissions": [_ADMINISTER]}
        # The permission check only reads, so it is safe to retry although it is a POST.
        response = await self.request("POST", _PERMISSIONS_CHECK_PATH, json=body, idempotent=True)
        if response.status_code != 200:
            raise response_error(response, "POST", _PERMISSIONS_CHECK_PATH)
        granted = read_json_object(response, "POST", _PERMISSIONS_CHECK_PATH).get(
            "globalPermissions", []
        )
        if not isinstance(granted, list):
            raise unexpected_body(response, "POST", _PERMISSIONS_CHECK_PATH, "globalPermissions")

        return _ADMINISTER in granted

    def _build_request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json: JSONValue,
        content: str | bytes | None,
    ) -> httpx.Request:
        if json is not None and content is not None:
            raise ConfigurationError(
                f"{method} {path} was given both json and content. Give only one of them."
            )
        headers = {"Content-Type": "application/json"} if content is not None else None

        return self._http.build_request(
            method, path, params=params, json=json, content=content, headers=headers
        )

    async def _send(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        if self._rate is not None:
            await self._rate.acquire()
        try:
            response = await self._http.send(request)
        except httpx.TransportError:
            raise
        except httpx.HTTPError as exc:
            raise JiraError(
                f"Reading Jira's response to {method} {path} failed ({type(exc).__name__}). "
                "Check that the base URL points at a Jira Cloud site."
            ) from exc
        _logger.debug(
            "%s %s returned status %d",
            method,
            path,
            response.status_code,
            extra={"event": "jira.response", "method": method, "path": path},
        )
        if self._rate is not None:
            self._rate.record(response)

        return response

    async def _wait(
        self,
        method: str,
        path: str,
        attempt: int,
        attempts: int,
        response: httpx.Response | None,
        error: httpx.TransportError | None,
    ) -> None:
        delay, paused = self._retry_wait(response, attempt)
        status = response.status_code if response is not None else None
        error_name = type(error).__name__ if error is not None else None
        reason = f"status {status}" if status is not None else error_name
        _logger.warning(
            "Retrying %s %s after %s (attempt %d of %d) in %.2f seconds",
            method,
            path,
            reason,
            attempt,
            attempts,
            delay,
            extra={
                "event": "jira.retry",
                "method": method,
                "path": path,
                "status": status,
                "error": error_name,
                "attempt": attempt,
                "max_attempts": attempts,
                "delay": delay,
            },
        )
        if not paused:
            await self._sleep(delay)

    def _retry_wait(self, response: httpx.Response | None, attempt: int) -> tuple[float, bool]:
        """Return the wait before the next attempt, and whether the whole site pauses for it."""
        now = utcnow()
        if self._rate is not None and response is not None:
            requested = requested_wait(self._retry, response, now)
            if requested is not None:
                # The rate controller holds back every request to the site, this retry
                # included, so the caller does not sleep on its own.
                return self._rate.pause(requested), True

        return retry_delay(self._retry, response, attempt, self._rng, now), False


def _check_path(method: str, path: str) -> None:
    # An absolute URL would send the credentials to another host, and a query string in
    # the path would bypass the rule that logs and errors never show query strings.
    if not path.startswith("/") or path.startswith("//") or "?" in path or "#" in path:
        raise ConfigurationError(
            f"The path of {method} {path.partition('?')[0]!r} is invalid. Give a path relative "
            "to the base URL that starts with a single '/', and pass query parameters in params."
        )


def _is_key_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("key"), str)
