"""The rate controller: one per Jira site, shared by every request sent to that site.

Jira rate-limits an app per site, so the requests of one removal job, however many run
at once, must slow down together. The controller spaces requests ``1 / rate`` seconds
apart and adapts the rate the way TCP adapts its window (AIMD):

- Every response below 500 without a rate-limit signal raises the rate. Until the
  first signal each one adds 1 request/s, so the rate doubles about once a second (slow
  start). After a signal each success adds ``increase / rate``, about ``increase``
  requests/s per second.
- ``X-RateLimit-NearLimit: true`` (Jira sends it when less than 20 % of a budget is
  left) multiplies the rate by ``near_limit_factor``; a 429 or 503 by
  ``throttled_factor``. At most one decrease happens per ``cooldown`` seconds, because
  the requests already in flight report the same congestion.
- A wait that Jira requests in ``Retry-After`` or ``X-RateLimit-Reset`` pauses every
  request to the site, not only the one that received it, plus up to ``pause_jitter``
  of the wait on top, so paused requests do not all resume at one instant. Jira
  extends the wait of a request retried early, so the jitter never shortens it.

Source: Atlassian, "Rate limiting" in the Jira Cloud platform developer guide
(developer.atlassian.com/cloud/jira/platform/rate-limiting), which names the headers
and recommends jittered backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import httpx

from propledger.errors import ConfigurationError

__all__ = ["RateController"]

logger = logging.getLogger("propledger.jira")

_THROTTLED_STATUSES = frozenset({429, 503})


class RateController:
    """Paces the requests to one Jira site and adapts the pace to Jira's signals.

    Rates are in requests per second, times in seconds. ``clock``, ``sleep`` and ``rng``
    replace the monotonic clock, ``asyncio.sleep`` and the jitter source, so tests can
    drive the controller deterministically.
    """

    def __init__(
        self,
        *,
        initial_rate: float = 10.0,
        max_rate: float = 100.0,
        min_rate: float = 0.5,
        increase: float = 1.0,
        near_limit_factor: float = 0.8,
        throttled_factor: float = 0.5,
        cooldown: float = 1.0,
        pause_jitter: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        _check_options(
            (min_rate, initial_rate, max_rate),
            {"near_limit_factor": near_limit_factor, "throttled_factor": throttled_factor},
        )
        self._rate = initial_rate
        self._max_rate = max_rate
        self._min_rate = min_rate
        self._increase = increase
        self._near_limit_factor = near_limit_factor
        self._throttled_factor = throttled_factor
        self._cooldown = cooldown
        self._pause_jitter = pause_jitter
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter only
        self._slow_start = True
        self._next_slot = clock()
        self._paused_until = self._next_slot
        self._last_decrease: float | None = None

    @property
    def rate(self) -> float:
        """The current pace, in requests per second."""
        return self._rate

    @property
    def paused_until(self) -> float:
        """The clock time before which no request starts."""
        return self._paused_until

    async def acquire(self) -> None:
        """Wait until the next request to the site may start.

        Each caller reserves the next free slot and sleeps until it. A caller that wakes
        inside a pause set meanwhile reserves a slot after the pause.
        """
        while True:
            now = self._clock()
            slot = max(now, self._next_slot, self._paused_until)
            self._next_slot = slot + 1.0 / self._rate
            if slot <= now:
                return
            await self._sleep(slot - now)
            if self._clock() >= self._paused_until:
                return

    def record(self, response: httpx.Response) -> None:
        """Adapt the rate to one response from the site."""
        if response.status_code in _THROTTLED_STATUSES:
            self._decrease(self._throttled_factor, f"status {response.status_code}")
        elif response.headers.get("X-RateLimit-NearLimit", "").strip().lower() == "true":
            self._decrease(self._near_limit_factor, "X-RateLimit-NearLimit")
        elif response.status_code < 500:
            self._speed_up()

    def pause(self, seconds: float) -> float:
        """Pause every request to the site for ``seconds`` plus jitter, and return the pause."""
        if seconds <= 0:
            return 0.0
        pause = seconds * (1.0 + self._rng.uniform(0.0, self._pause_jitter))
        self._paused_until = max(self._paused_until, self._clock() + pause)
        logger.info(
            "Pausing requests to the site for %.2f seconds, as Jira requested",
            pause,
            extra={"event": "jira.rate_pause", "pause": pause},
        )

        return pause

    def _speed_up(self) -> None:
        step = 1.0 if self._slow_start else self._increase / self._rate
        self._rate = min(self._max_rate, self._rate + step)

    def _decrease(self, factor: float, reason: str) -> None:
        now = self._clock()
        self._slow_start = False
        if self._last_decrease is not None and now - self._last_decrease < self._cooldown:
            return
        self._last_decrease = now
        self._rate = max(self._min_rate, self._rate * factor)
        logger.info(
            "Slowing requests to the site to %.2f per second after %s",
            self._rate,
            reason,
            extra={"event": "jira.rate_decreased", "rate": self._rate, "reason": reason},
        )


def _check_options(rates: tuple[float, float, float], factors: dict[str, float]) -> None:
    min_rate, initial_rate, max_rate = rates
    if not 0 < min_rate <= initial_rate <= max_rate:
        raise ConfigurationError(
            f"The request rates must satisfy 0 < min_rate <= initial_rate <= max_rate, "
            f"got {min_rate}, {initial_rate} and {max_rate}. Adjust the rate settings."
        )
    for name, factor in factors.items():
        if not 0 < factor < 1:
            raise ConfigurationError(f"{name} is {factor}, but it must lie between 0 and 1.")
