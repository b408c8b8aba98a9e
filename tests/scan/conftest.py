"""Fixtures for the scan tests: FakeJira with the app installed, a store and a Jira client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from propledger.jira import ConnectAuth, JiraClient, RetryPolicy
from propledger.model import Installation
from propledger.store import Store
from propledger.testing import FakeJira, FakeSite, LoggedRequest

APP_KEY = "com.example.app"
SITE_URL = "https://acme.jira.test"
# PyJWT warns about HS256 keys shorter than 32 bytes, so the fake secret is longer.
SHARED_SECRET = "scan-shared-secret-for-tests-0123456789abcdef"
KEY_A = f"{APP_KEY}.a"
KEY_B = f"{APP_KEY}.b"
KEY_C = f"{APP_KEY}.c"


@pytest.fixture
def fake() -> FakeJira:
    return FakeJira(app_key=APP_KEY)


@pytest.fixture
def site(fake: FakeJira) -> FakeSite:
    site = fake.add_site(SITE_URL, name="acme")
    site.shared_secret = SHARED_SECRET

    return site


@pytest.fixture
def installation(site: FakeSite) -> Installation:
    return Installation(site.client_key, site.base_url, SHARED_SECRET)


@pytest.fixture
async def store(tmp_path: Path, installation: Installation) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'propledger.db'}")
    await store.save_installation(installation)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def client(fake: FakeJira, site: FakeSite) -> AsyncIterator[JiraClient]:
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SHARED_SECRET, base_url=site.base_url)
    async with JiraClient(
        site.base_url, auth, transport=fake.transport(), retry=RetryPolicy(max_attempts=1)
    ) as client:
        yield client


def requests_to(fake: FakeJira, path: str) -> list[LoggedRequest]:
    """Return the logged requests whose path is ``path``."""
    return [entry for entry in fake.request_log if entry.path == path]
