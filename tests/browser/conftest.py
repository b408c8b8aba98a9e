"""Fixtures for the browser tests: FakeJira and the app under uvicorn, and Chromium.

Everything runs on 127.0.0.1. The site keeps the host name ``acme.jira.test``: the
app's calls to Jira go through a transport that sends them to FakeJira's server on
127.0.0.1 and keeps the Host header. Jira's own ``AP`` script is replaced by a
stand-in that the test app serves and that hands out context tokens FakeJira minted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route as StarletteRoute

from propledger.ledger import Ledger
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite, serve
from propledger.web import create_app

APP_KEY = "com.example.app"
SITE_URL = "https://acme.jira.test"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IMAGES_DIR = Path(__file__).resolve().parents[2] / "docs" / "images"

STAND_IN_AP = """\
// A stand-in for Atlassian's Connect script: getToken() returns a token FakeJira minted.
window.AP = {
  context: {
    getToken: function (callback) {
      fetch("/_test/context-token", { cache: "no-store", credentials: "omit" })
        .then(function (response) { return response.text(); })
        .then(callback);
    },
  },
};
"""


class ForwardToFakeJira(httpx.AsyncBaseTransport):
    """Sends the app's requests to FakeJira's server, and can hold DELETEs back.

    With ``hold_deletes_after(n)`` the first ``n`` DELETE requests pass and later ones
    wait until ``release`` is set, so a test can see a removal half done.
    """

    def __init__(self, jira_url: str) -> None:
        self._target = httpx.URL(jira_url)
        self._inner = httpx.AsyncHTTPTransport()
        self._deletes_allowed: int | None = None
        self.deletes_sent = 0
        self.release = asyncio.Event()

    def hold_deletes_after(self, count: int) -> None:
        self._deletes_allowed = count
        self.release.clear()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            self.deletes_sent += 1
            if self._deletes_allowed is not None and self.deletes_sent > self._deletes_allowed:
                await self.release.wait()
        # The Host header still names the site, which is how FakeJira picks it.
        request.url = request.url.copy_with(
            scheme=self._target.scheme, host=self._target.host, port=self._target.port
        )

        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclasses.dataclass
class Harness:
    """FakeJira and the app, both served on 127.0.0.1, with the app installed."""

    fake: FakeJira
    site: FakeSite
    ledger: Ledger
    transport: ForwardToFakeJira
    app_url: str
    admin: str
    member: str
    signed_in: str = ""
    tokens_issued: int = 0

    def page_url(self, account_id: str) -> str:
        """Return the URL Jira loads in the admin page's iframe for this user."""
        self.signed_in = account_id
        target = "/admin/data?" + urlencode(
            {
                "xdm_e": SITE_URL,
                "xdm_c": f"channel-{APP_KEY}__propledger-data",
                "cp": "",
                "xdm_deprecated_addon_key_do_not_use": APP_KEY,
                "lic": "none",
                "cv": "1001.0.0-SNAPSHOT",
            }
        )
        token = self.fake.iframe_token(
            self.site, account_id, method="GET", url=target, app_base_url=self.app_url
        )

        return f"{self.app_url}{target}&jwt={token}"

    def stand_in_routes(self) -> list[StarletteRoute]:
        """Return the test-only routes: the stand-in ``AP`` script and its token source."""

        async def script(request: StarletteRequest) -> Response:
            return Response(STAND_IN_AP, media_type="text/javascript")

        async def context_token(request: StarletteRequest) -> Response:
            self.tokens_issued += 1
            token = self.fake.context_token(self.site, self.signed_in)

            return PlainTextResponse(token, headers={"Cache-Control": "no-store"})

        return [
            StarletteRoute("/_test/all.js", script, methods=["GET"]),
            StarletteRoute("/_test/context-token", context_token, methods=["GET"]),
        ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _populate(site: FakeSite) -> None:
    for _ in range(5):
        site.add_issue(project_key="ACME")
    site.add_comment(next(iter(site.issues.values())))
    for index in range(2):
        site.add_user(display_name=f"Member {index + 1}")


async def _write_properties(ledger: Ledger, site: FakeSite) -> None:
    tracked = await ledger.site(site.client_key)
    for issue_id in site.issues:
        await tracked.issue(issue_id).set_property(f"{APP_KEY}.checklist", {"done": 1})
    members = [user for user in site.users.values() if not user.is_admin][:2]
    for user in members:
        await tracked.user(user.account_id).set_property(f"{APP_KEY}.prefs", {"compact": True})
    for project_id in site.projects:
        await tracked.project(project_id).set_property(f"{APP_KEY}.board", {"columns": 3})
    for comment_id in site.comments:
        await tracked.comment(comment_id).set_property(f"{APP_KEY}.reaction", {"ok": True})
    await tracked.app().set_property(f"{APP_KEY}.config", {"version": 3})
    await tracked.app().set_property(f"{APP_KEY}.licence", {"seats": 10})


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    fake = FakeJira(app_key=APP_KEY)
    site = fake.add_site(SITE_URL, name="acme")
    _populate(site)
    admin = site.add_user(is_admin=True, display_name="Ada Admin").account_id
    member = site.add_user(display_name="Max Member").account_id
    async with serve(fake.app) as jira_url:
        transport = ForwardToFakeJira(jira_url)
        port = _free_port()
        app_url = f"http://127.0.0.1:{port}"
        settings = Settings(
            app_key=APP_KEY,
            app_base_url=app_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'propledger.db'}",
            install_keys_url=fake.install_keys_url(jira_url),
            retry_base_delay=0.01,
            removal_concurrency=2,
            connect_js_url=f"{app_url}/_test/all.js",
            jira_transport=transport,
        )
        async with await Ledger.open(settings) as ledger:
            harness = Harness(fake, site, ledger, transport, app_url, admin, member)
            app = create_app(ledger, routes=harness.stand_in_routes())
            async with serve(app, port=port), httpx.AsyncClient() as client:
                response = await fake.install(site, app_base_url=app_url, client=client)
                assert response.status_code == 204, response.text
                await _write_properties(ledger, site)
                try:
                    yield harness
                finally:
                    # A test that fails while DELETEs are held must not hang the shutdown.
                    transport.release.set()


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; the test is skipped without it, or fails when CI is set."""
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM}. Run `make test`, which installs it."
        # CI runs `make test`, which installs Chromium, so a missing browser is a failure there.
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclasses.dataclass
class Tab:
    """A Chromium page that may reach only 127.0.0.1, with what it sent and what was blocked."""

    page: Page
    blocked: list[str]
    requests: list[Request]


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    context = await browser.new_context(
        viewport={"width": 800, "height": 900}, accept_downloads=True
    )
    blocked: list[str] = []
    requests: list[Request] = []

    async def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_loopback)
    page = await context.new_page()

    def record(request: Request) -> None:
        requests.append(request)

    page.on("request", record)
    try:
        yield Tab(page, blocked, requests)
    finally:
        await context.close()


@pytest.fixture
def images_dir() -> Path:
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)

    return IMAGES_DIR
