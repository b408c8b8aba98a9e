from __future__ import annotations

import datetime as dt
import random

import httpx
import pytest

from propledger.errors import ConfigurationError
from propledger.jira import RetryPolicy
from propledger.jira._retry import retry_delay

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def _delay(headers, *, attempt=1, policy=None, rng=None):
    response = httpx.Response(429, headers=headers)

    return retry_delay(policy or RetryPolicy(), response, attempt, rng or random.Random(0), NOW)


def test_policy_defaults():
    policy = RetryPolicy()

    assert policy.max_attempts == 5
    assert policy.base_delay == 0.5
    assert policy.max_delay == 30.0
    assert policy.max_retry_after == 300.0
    assert policy.retry_statuses == frozenset({429, 503})
    assert policy.server_error_statuses == frozenset({500, 502, 504})


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (503, True), (500, True), (502, True), (504, True), (501, False), (404, False)],
)
def test_policy_retryable_status(status, retryable):
    assert RetryPolicy().is_retryable_status(status) is retryable


def test_policy_rejects_zero_attempts():
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(max_attempts=0)

    assert str(caught.value) == "max_attempts is 0, but a request needs at least 1 attempt."


def test_policy_rejects_negative_delay():
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(max_delay=-1.0)

    assert str(caught.value) == "max_delay is -1.0, but a delay cannot be negative."


def test_delay_retry_after_seconds():
    assert _delay({"Retry-After": "12"}) == 12.0


def test_delay_retry_after_above_max_delay():
    assert _delay({"Retry-After": "120"}) == 120.0


def test_delay_retry_after_capped():
    assert _delay({"Retry-After": "3600"}) == 300.0


def test_delay_retry_after_custom_cap():
    policy = RetryPolicy(max_retry_after=60.0)

    assert _delay({"Retry-After": "90"}, policy=policy) == 60.0


def test_delay_retry_after_http_date():
    assert _delay({"Retry-After": "Sat, 01 Mar 2025 12:00:20 GMT"}) == 20.0


def test_delay_retry_after_past_date():
    assert _delay({"Retry-After": "Sat, 01 Mar 2025 11:59:00 GMT"}) == 0.0


def test_delay_retry_after_wins_over_reset():
    headers = {"Retry-After": "4", "X-RateLimit-Reset": "2025-03-01T12:01:00Z"}

    assert _delay(headers) == 4.0


def test_delay_ratelimit_reset():
    assert _delay({"X-RateLimit-Reset": "2025-03-01T12:00:45.500Z"}) == 45.5


def test_delay_ratelimit_reset_with_offset():
    assert _delay({"X-RateLimit-Reset": "2025-03-01T13:00:10+01:00"}) == 10.0


def test_delay_invalid_retry_after_uses_reset():
    headers = {"Retry-After": "soon", "X-RateLimit-Reset": "2025-03-01T12:00:30Z"}

    assert _delay(headers) == 30.0


@pytest.mark.parametrize("value", ["soon", "nan", "inf"])
def test_delay_invalid_header_uses_backoff(value, upper_bound_random):
    delay = _delay({"Retry-After": value, "X-RateLimit-Reset": value}, rng=upper_bound_random)

    assert delay == 0.5


def test_delay_backoff_ceilings(upper_bound_random):
    delays = [_delay({}, attempt=attempt, rng=upper_bound_random) for attempt in range(1, 10)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_delay_backoff_jitter_bounded():
    rng = random.Random(1234)

    delays = [_delay({}, attempt=attempt, rng=rng) for attempt in range(1, 9) for _ in range(50)]

    ceilings = [min(30.0, 0.5 * 2 ** (attempt - 1)) for attempt in range(1, 9) for _ in range(50)]
    assert all(0.0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)


def test_delay_without_response_uses_backoff(upper_bound_random):
    delay = retry_delay(RetryPolicy(), None, 3, upper_bound_random, NOW)

    assert delay == 2.0
