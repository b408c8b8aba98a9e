"""When to retry a request to Jira, and how long to wait before the next attempt."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import math
import random

import httpx

from propledger.errors import ConfigurationError

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "requested_wait", "retry_delay"]

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
"""Methods that are safe to send again. A POST is retried only when marked idempotent."""


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Rules for retrying a request that Jira did not complete, and for the waits between.

    ``retry_statuses`` are Jira's rate-limit statuses. When they persist through
    ``max_attempts``, the client raises :class:`~propledger.errors.RateLimitedError`.
    ``server_error_statuses`` are retried too, but the last response is returned as is.
    Delays are in seconds. ``max_delay`` caps the exponential backoff, and
    ``max_retry_after`` caps a wait that Jira requests in ``Retry-After`` or
    ``X-RateLimit-Reset``.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    retry_statuses: frozenset[int] = frozenset({429, 503})
    server_error_statuses: frozenset[int] = frozenset({500, 502, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(
                f"max_attempts is {self.max_attempts}, but a request needs at least 1 attempt."
            )
        delays = {
            "base_delay": self.base_delay,
            "max_delay": self.max_delay,
            "max_retry_after": self.max_retry_after,
        }
        for name, value in delays.items():
            if value < 0:
                raise ConfigurationError(f"{name} is {value}, but a delay cannot be negative.")

    def is_retryable_status(self, status_code: int) -> bool:
        """Return whether a response with this status is worth another attempt."""
        return status_code in self.retry_statuses or status_code in self.server_error_statuses


def retry_delay(
    policy: RetryPolicy,
    response: httpx.Response | None,
    attempt: int,
    rng: random.Random,
    now: dt.datetime,
) -> float:
    """Return the seconds to wait after failed attempt number ``attempt`` (counted from 1).

    Jira's own wait comes first: ``Retry-After`` (seconds or an HTTP date), then
    ``X-RateLimit-Reset`` (an ISO 8601 time), both capped at ``max_retry_after``.
    Retrying before that time only extends the rate limit. Without either header,
    the wait is full-jitter exponential backoff, capped at ``max_delay``.
    """
    requested = requested_wait(policy, response, now) if response is not None else None
    if requested is not None:
        return requested
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))

    return rng.uniform(0, ceiling)


def requested_wait(policy: RetryPolicy, response: httpx.Response, now: dt.datetime) -> float | None:
    """Return the seconds Jira asked the caller to wait, capped at ``max_retry_after``.

    ``Retry-After`` wins over ``X-RateLimit-Reset``. Returns None when the response
    carries neither header in a form that parses.
    """
    requested = _header_wait(response, now)
    if requested is None:
        return None

    return min(max(requested, 0.0), policy.max_retry_after)


def _header_wait(response: httpx.Response, now: dt.datetime) -> float | None:
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        seconds = _parse_retry_after(retry_after.strip(), now)
        if seconds is not None:
            return seconds
    reset = response.headers.get("X-RateLimit-Reset")
    if reset is not None:
        reset_at = _parse_aware_time(reset.strip())
        if reset_at is not None:
            return (reset_at - now).total_seconds()

    return None


def _parse_retry_after(value: str, now: dt.datetime) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        # RFC 9110 dates are always GMT, and parsedate_to_datetime leaves "-0000" naive.
        moment = moment.replace(tzinfo=dt.UTC)

    return (moment - now).total_seconds()


def _parse_aware_time(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
