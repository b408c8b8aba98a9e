"""Fixtures for the Jira client tests: a respx-mocked site and a client with fake sleep."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import respx

from propledger.jira import ConnectAuth, JiraClient, RetryPolicy

BASE_URL = "https://acme.jira.test"
APP_KEY = "com.example.ledger"
# PyJWT warns about HS256 keys shorter than 32 bytes, so the fake secret is longer.
SHARED_SECRET = "shared-secret-for-tests-0123456789abcdef"


class SleepRecorder:
    """A stand-in for asyncio.sleep that records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class UpperBoundRandom(random.Random):
    """A random source whose uniform() always returns the upper bound."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def base_url() -> str:
    return BASE_URL


@pytest.fixture
def app_key() -> str:
    return APP_KEY


@pytest.fixture
def shared_secret() -> str:
    return SHARED_SECRET


@pytest.fixture
def reference_dir() -> Path:
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def upper_bound_random() -> random.Random:
    return UpperBoundRandom()


@pytest.fixture
def jira() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as router:
        yield router


@pytest.fixture
def connect_auth() -> ConnectAuth:
    return ConnectAuth(app_key=APP_KEY, shared_secret=SHARED_SECRET, base_url=BASE_URL)


@pytest.fixture
async def client(
    jira: respx.MockRouter,
    connect_auth: ConnectAuth,
    sleeps: SleepRecorder,
    upper_bound_random: random.Random,
) -> AsyncIterator[JiraClient]:
    async with JiraClient(
        BASE_URL,
        connect_auth,
        retry=RetryPolicy(),
        sleep=sleeps,
        rng=upper_bound_random,
    ) as jira_client:
        yield jira_client
