"""Fixtures for the FakeJira tests: a fake with one site, and clients that sign as the app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import httpx
import pytest

from propledger.connect import encode_app_token
from propledger.testing import FakeJira, FakeSite

APP_KEY = "com.example.app"
BASE_URL = "https://acme.jira.test"
# PyJWT warns about HS256 keys shorter than 32 bytes, so the fake secret is longer.
SHARED_SECRET = "fake-shared-secret-for-tests-0123456789abcdef"


class AppAuth(httpx.Auth):
    """Sign each request as the app: a Connect JWT bound to the request by its qsh."""

    def __init__(self, site: FakeSite, *, app_key: str = APP_KEY, **token_options: Any) -> None:
        self.site = site
        self.app_key = app_key
        self.token_options = token_options

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = encode_app_token(
            app_key=self.app_key,
            shared_secret=self.token_options.pop("shared_secret", self.site.shared_secret),
            method=self.token_options.get("method", request.method),
            url=self.token_options.get("url", str(request.url)),
            base_url=self.site.base_url,
            now=self.token_options.get("now"),
        )
        request.headers["Authorization"] = f"JWT {token}"
        yield request


@pytest.fixture
def reference_dir() -> Path:
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


@pytest.fixture
def jira_spec(reference_dir: Path) -> dict[str, Any]:
    with (reference_dir / "jira-platform-v3.openapi.json").open(encoding="utf-8") as file:
        spec: dict[str, Any] = json.load(file)

    return spec


@pytest.fixture
def app_auth() -> type[AppAuth]:
    """The httpx auth class that signs requests as the app, for tests that vary the token."""
    return AppAuth


@pytest.fixture
def fake() -> FakeJira:
    return FakeJira(app_key=APP_KEY)


@pytest.fixture
def site(fake: FakeJira) -> FakeSite:
    site = fake.add_site(BASE_URL, name="acme")
    site.shared_secret = SHARED_SECRET

    return site


@pytest.fixture
async def app_client(fake: FakeJira, site: FakeSite) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=BASE_URL, auth=AppAuth(site)
    ) as client:
        yield client


@pytest.fixture
async def anonymous_client(fake: FakeJira, site: FakeSite) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=BASE_URL) as client:
        yield client
