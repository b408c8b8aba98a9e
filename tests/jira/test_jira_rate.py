"""The rate controller: pacing, pauses and AIMD, on a fake clock; and clients sharing one."""

from __future__ import annotations

import datetime as dt
import logging
import random

import httpx
import pytest
import respx
from tests.jira.conftest import UpperBoundRandom

from propledger.errors import ConfigurationError
from propledger.jira import ConnectAuth, JiraClient, RateController
from propledger.model import utcnow

ISSUE_PATH = "/rest/api/3/issue/10001/properties/com.example.ledger.state"
NEAR_LIMIT = {"X-RateLimit-NearLimit": "true"}


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def controller(clock: FakeClock, rng: random.Random, **options) -> RateController:
    return RateController(clock=clock, sleep=clock.sleep, rng=rng, **options)


def status(code: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(code, headers=headers)


async def test_acquire_spaces_requests(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    for _ in range(3):
        await rate.acquire()

    assert clock.sleeps == [0.1, 0.1]


async def test_acquire_waits_for_pause(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0, pause_jitter=0.1)
    await rate.acquire()

    pause = rate.pause(2.0)
    await rate.acquire()
    await rate.acquire()

    assert pause == pytest.approx(2.2)
    assert rate.paused_until == pytest.approx(102.2)
    assert clock.sleeps == [2.2, 0.1]


async def test_pause_set_while_waiting(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0, pause_jitter=0.0)
    await rate.acquire()
    sleep = clock.sleep

    async def sleep_then_pause(seconds: float) -> None:
        await sleep(seconds)
        if len(clock.sleeps) == 1:
            # Another request received Retry-After: 3 while this one waited for its slot.
            rate.pause(3.0)

    rate._sleep = sleep_then_pause
    await rate.acquire()

    assert clock.sleeps == [0.1, 3.0]
    assert clock.now == pytest.approx(103.1)


async def test_pause_zero_is_no_pause(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random)

    assert rate.pause(0.0) == 0.0
    assert rate.paused_until == 100.0


async def test_pause_never_shortened(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, pause_jitter=0.0)

    rate.pause(5.0)
    rate.pause(1.0)

    assert rate.paused_until == 105.0


def test_slow_start_doubles(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    for _ in range(10):
        rate.record(status(204))

    assert rate.rate == 20.0


def test_429_halves(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    rate.record(status(429))

    assert rate.rate == 5.0


def test_503_halves(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    rate.record(status(503))

    assert rate.rate == 5.0


def test_near_limit_slows(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    rate.record(status(204, NEAR_LIMIT))

    assert rate.rate == 8.0


def test_decrease_once_per_cooldown(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=16.0, cooldown=1.0)

    rate.record(status(429))
    rate.record(status(429))
    clock.now += 0.5
    rate.record(status(204, NEAR_LIMIT))
    after_burst = rate.rate
    clock.now += 0.5
    rate.record(status(429))

    assert after_burst == 8.0
    assert rate.rate == 4.0


def test_additive_increase_after_signal(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=20.0, increase=1.0)
    rate.record(status(429))

    for _ in range(10):
        rate.record(status(204))

    # Ten successes at about 10 requests per second add about 1 request per second.
    assert rate.rate == pytest.approx(10.9586, abs=0.0001)


def test_rate_bounds(clock, upper_bound_random):
    fast = controller(clock, upper_bound_random, initial_rate=10.0, max_rate=12.0)
    slow = controller(clock, upper_bound_random, initial_rate=1.0, min_rate=0.5, cooldown=0.0)

    for _ in range(5):
        fast.record(status(200))
        slow.record(status(429))

    assert fast.rate == 12.0
    assert slow.rate == 0.5


def test_server_error_keeps_rate(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    rate.record(status(500))

    assert rate.rate == 10.0


def test_client_error_speeds_up(clock, upper_bound_random):
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    rate.record(status(404))

    assert rate.rate == 11.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"initial_rate": 0.2, "min_rate": 0.5},
            "The request rates must satisfy 0 < min_rate <= initial_rate <= max_rate, got 0.5, "
            "0.2 and 100.0. Adjust the rate settings.",
        ),
        (
            {"initial_rate": 200.0},
            "The request rates must satisfy 0 < min_rate <= initial_rate <= max_rate, got 0.5, "
            "200.0 and 100.0. Adjust the rate settings.",
        ),
        ({"throttled_factor": 1.0}, "throttled_factor is 1.0, but it must lie between 0 and 1."),
        ({"near_limit_factor": 0.0}, "near_limit_factor is 0.0, but it must lie between 0 and 1."),
    ],
)
def test_invalid_options(options, message):
    with pytest.raises(ConfigurationError) as caught:
        RateController(**options)

    assert str(caught.value) == message


def test_decrease_logged(clock, upper_bound_random, caplog):
    caplog.set_level(logging.INFO, logger="propledger.jira")
    rate = controller(clock, upper_bound_random, initial_rate=10.0)

    rate.record(status(429))

    [record] = caplog.records
    assert record.getMessage() == "Slowing requests to the site to 5.00 per second after status 429"
    assert (record.event, record.rate, record.reason) == ("jira.rate_decreased", 5.0, "status 429")


# Clients sharing one controller


@pytest.fixture
def shared(clock, upper_bound_random) -> RateController:
    return controller(clock, upper_bound_random, initial_rate=10.0, pause_jitter=0.1)


def client_with(rate: RateController, connect_auth: ConnectAuth, base_url: str, sleeps):
    return JiraClient(base_url, connect_auth, rate=rate, sleep=sleeps, rng=UpperBoundRandom())


async def test_retry_after_pauses_site(
    jira: respx.MockRouter, shared, clock, connect_auth, base_url, sleeps
):
    route = jira.get(ISSUE_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(404)]
    )

    async with client_with(shared, connect_auth, base_url, sleeps) as client:
        response = await client.request("GET", ISSUE_PATH)

    assert response.status_code == 404
    assert route.call_count == 2
    assert sleeps.delays == []
    assert clock.sleeps == [3.3]
    # Halved by the 429, then raised by 1 / rate for the retry that got a 404.
    assert shared.rate == pytest.approx(5.2)


async def test_pause_holds_other_client(
    jira: respx.MockRouter, shared, clock, connect_auth, base_url, sleeps
):
    jira.get(ISSUE_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(404)]
    )
    other_path = "/rest/api/3/issue/10002/properties"
    jira.get(other_path).respond(200, json={"keys": []})
    first = client_with(shared, connect_auth, base_url, sleeps)
    second = client_with(shared, connect_auth, base_url, sleeps)

    async with first, second:
        await first.request("GET", ISSUE_PATH)
        started = clock.now
        await second.request("GET", other_path)

    # The second client's request waited for the slot after the first client's retry.
    assert clock.sleeps == [2.2, 0.2]
    assert clock.now - started == pytest.approx(0.2)
    assert sleeps.delays == []


async def test_server_error_backs_off_alone(
    jira: respx.MockRouter, shared, clock, connect_auth, base_url, sleeps
):
    jira.get(ISSUE_PATH).mock(side_effect=[httpx.Response(500), httpx.Response(404)])

    async with client_with(shared, connect_auth, base_url, sleeps) as client:
        await client.request("GET", ISSUE_PATH)

    assert sleeps.delays == [0.5]
    assert shared.paused_until == 100.0


async def test_ratelimit_reset_pauses_site(
    jira: respx.MockRouter, shared, clock, connect_auth, base_url, sleeps
):
    reset = (utcnow() + dt.timedelta(seconds=10)).isoformat()
    jira.get(ISSUE_PATH).mock(
        side_effect=[httpx.Response(429, headers={"X-RateLimit-Reset": reset}), httpx.Response(404)]
    )

    async with client_with(shared, connect_auth, base_url, sleeps) as client:
        await client.request("GET", ISSUE_PATH)

    assert sleeps.delays == []
    [pause] = clock.sleeps
    # About 10 seconds until the reset, plus 10 % jitter, minus the time the test took.
    assert 10.5 < pause <= 11.0
