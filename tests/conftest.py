"""Fixtures shared by the whole suite: FakeJira, a ledger on SQLite, the app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from propledger.ledger import Ledger
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite
from propledger.web import create_app

APP_KEY = "com.example.app"
APP_BASE_URL = "https://app.example.test"
SITE_URL = "https://acme.jira.test"
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reference_dir() -> Path:
    """The folder of Atlassian's published specs and vectors, beside the repository."""
    return REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture
def fake() -> FakeJira:
    return FakeJira(app_key=APP_KEY)


@pytest.fixture
def site(fake: FakeJira) -> FakeSite:
    site = fake.add_site(SITE_URL, name="acme")
    for _ in range(5):
        site.add_issue(project_key="ACME")

    return site


@pytest.fixture
def admin(site: FakeSite) -> str:
    return site.add_user(is_admin=True, display_name="Ada Admin").account_id


@pytest.fixture
def member(site: FakeSite) -> str:
    return site.add_user(display_name="Max Member").account_id


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'propledger.db'}"


@pytest.fixture
def settings(fake: FakeJira, database_url: str) -> Settings:
    return Settings(
        app_key=APP_KEY,
        app_base_url=APP_BASE_URL,
        database_url=database_url,
        install_keys_url=fake.install_keys_url(SITE_URL),
        retry_base_delay=0.001,
        lease_seconds=3.0,
        jira_transport=fake.transport(),
    )


@pytest.fixture
async def ledger(settings: Settings) -> AsyncIterator[Ledger]:
    async with await Ledger.open(settings) as ledger:
        yield ledger


@pytest.fixture
async def app_client(ledger: Ledger) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for propledger's app, running in-process with its worker."""
    app = create_app(ledger)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_BASE_URL) as client,
    ):
        yield client


@pytest.fixture
async def installed(fake: FakeJira, site: FakeSite, app_client: httpx.AsyncClient) -> FakeSite:
    """The site, with the app installed through the signed lifecycle."""
    response = await fake.install(site, app_base_url=APP_BASE_URL, client=app_client)
    assert response.status_code == 204, response.text

    return site
