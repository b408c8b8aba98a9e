"""Rate limits and injected faults of a simulated site.

A site's :class:`RateLimit` is a token bucket: each request takes a token, tokens come
back at ``requests_per_second`` up to ``burst``, and a request that finds none gets 429
with ``Retry-After`` and the ``X-RateLimit-*`` headers Jira Cloud sends. Other
responses carry ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``, and
``X-RateLimit-NearLimit: true`` when less than 20 % of the bucket is left, the
threshold Atlassian documents for that header.

A site's :class:`Faults` return 500, 503 or 429 for a share of requests, or drop the
connection, drawn from a seeded random source, and can delay every request.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import math
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propledger.testing._auth import JiraJSONResponse, jira_error

if TYPE_CHECKING:
    from propledger.testing._sites import FakeSite

__all__ = ["DroppedConnection", "Faults", "RateLimit", "serve_limited"]

NEAR_LIMIT_SHARE = 0.2
RATE_LIMIT_REASON = "jira-quota-based"


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by FakeJira to drop a connection after the request was handled.

    Under uvicorn the response has started when it is raised, so uvicorn closes the
    connection and the client sees the body cut short. Through
    :meth:`FakeJira.transport` the client receives this exception itself, which is an
    ``httpx.RemoteProtocolError`` like the one a real dropped connection raises.
    """

    def __init__(self) -> None:
        super().__init__("FakeJira dropped the connection on purpose.")


@dataclasses.dataclass(slots=True)
class RateLimit:
    """A token bucket of ``burst`` tokens that refills at ``requests_per_second``."""

    requests_per_second: float
    burst: int
    clock: Callable[[], float] = dataclasses.field(default=time.monotonic, repr=False)
    _tokens: float = dataclasses.field(init=False, repr=False)
    _updated: float = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.requests_per_second <= 0 or self.burst < 1:
            raise ValueError(
                f"The rate limit {self.requests_per_second}/s with burst {self.burst} is "
                "invalid. Give a positive rate and a burst of at least 1."
            )
        self._tokens = float(self.burst)
        self._updated = self.clock()

    @property
    def remaining(self) -> int:
        """The whole tokens left in the bucket."""
        self._refill()
        return int(self._tokens)

    def take(self) -> float:
        """Take a token and return 0, or return the seconds until a token is available."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0

        return (1 - self._tokens) / self.requests_per_second

    def headers(self) -> dict[str, str]:
        """Return the rate-limit headers of a request that got a token."""
        remaining = self.remaining
        headers = {"X-RateLimit-Limit": str(self.burst), "X-RateLimit-Remaining": str(remaining)}
        if remaining < self.burst * NEAR_LIMIT_SHARE:
            headers["X-RateLimit-NearLimit"] = "true"

        return headers

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.requests_per_second)
        self._updated = now


@dataclasses.dataclass(slots=True)
class Faults:
    """Failures injected into a share of a site's requests, and a delay for every request.

    Shares are fractions of requests: ``internal_errors`` get 500, ``unavailable``
    503, ``rate_limited`` 429 with ``Retry-After: retry_after``, and
    ``dropped_connections`` are handled and then dropped before the response arrives.
    ``latency`` is in seconds. ``injected`` counts the faults by kind.
    """

    internal_errors: float = 0.0
    unavailable: float = 0.0
    rate_limited: float = 0.0
    dropped_connections: float = 0.0
    latency: float = 0.0
    retry_after: int = 1
    seed: int | None = None
    injected: collections.Counter[str] = dataclasses.field(
        default_factory=collections.Counter, init=False
    )
    _rng: random.Random = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        shares = (
            self.internal_errors,
            self.unavailable,
            self.rate_limited,
            self.dropped_connections,
        )
        if any(share < 0 for share in shares) or sum(shares) > 1:
            raise ValueError(
                f"The fault shares {shares} must be non-negative and sum to 1 at most."
            )
        self._rng = random.Random(self.seed)  # noqa: S311 - simulated faults, not security

    def draw(self) -> str | None:
        """Return the fault for the next request (``"500"``, ``"503"``, ``"429"`` or
        ``"drop"``), or None."""
        value = self._rng.random()
        for kind, share in (
            ("500", self.internal_errors),
            ("503", self.unavailable),
            ("429", self.rate_limited),
            ("drop", self.dropped_connections),
        ):
            if value < share:
                self.injected[kind] += 1
                return kind
            value -= share

        return None


async def serve_limited(
    site: FakeSite, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Pass a request to ``app`` through the site's latency, rate limit and faults."""
    faults = site.faults
    if faults is not None and faults.latency > 0:
        await asyncio.sleep(faults.latency)
    limit = site.rate_limit
    if limit is not None:
        wait = limit.take()
        if wait > 0:
            await _rate_limited(math.ceil(wait), wait, limit.burst)(scope, receive, send)
            return
        send = _with_headers(send, limit.headers())
    fault = faults.draw() if faults is not None else None
    if fault is None or faults is None:
        await app(scope, receive, send)
    elif fault == "drop":
        await app(scope, receive, _discard)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        raise DroppedConnection()
    elif fault == "429":
        response = _rate_limited(faults.retry_after, float(faults.retry_after), None)
        await response(scope, receive, send)
    else:
        response = jira_error(int(fault), "FakeJira injected this server error.")
        await response(scope, receive, send)


def _rate_limited(retry_after: int, wait: float, limit: int | None) -> JiraJSONResponse:
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
    headers = {
        "Retry-After": str(retry_after),
        "X-RateLimit-Reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "X-RateLimit-Remaining": "0",
        "RateLimit-Reason": RATE_LIMIT_REASON,
    }
    if limit is not None:
        headers["X-RateLimit-Limit"] = str(limit)
    response = jira_error(429, "Rate limit exceeded.")
    response.headers.update(headers)

    return response


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    encoded = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return send_with_headers


async def _discard(message: Message) -> None:
    return None
