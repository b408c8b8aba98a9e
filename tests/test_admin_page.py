"""The admin page route: the iframe token, the admin check, and what the HTML contains."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from urllib.parse import urlencode

import httpx
import pytest
from tests.conftest import APP_BASE_URL, APP_KEY, SITE_URL

from propledger.errors import JiraTransportError
from propledger.ledger import Ledger
from propledger.model import EntityType, PropertyRef
from propledger.removal import start_removal
from propledger.settings import DEFAULT_CONNECT_JS_URL
from propledger.testing import FakeJira, FakeSite

TARGET = "/admin/data?" + urlencode(
    {"xdm_e": SITE_URL, "xdm_c": "channel-1", "cp": "", "lic": "none", "cv": "1001.0.0"}
)


def page_url(fake: FakeJira, site: FakeSite, account_id: str, target: str = TARGET) -> str:
    token = fake.iframe_token(site, account_id, method="GET", url=target, app_base_url=APP_BASE_URL)

    return f"{TARGET}&jwt={token}"


def text_of(response: httpx.Response) -> str:
    """Return the page's visible text with tags removed and whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", "", response.text)

    return " ".join(html.unescape(without_tags).split())


async def write_properties(ledger: Ledger, site: FakeSite) -> None:
    tracked = await ledger.site(site.client_key)
    for issue_id in site.issues:
        await tracked.issue(issue_id).set_property(f"{APP_KEY}.checklist", {"done": 1})
    await tracked.app().set_property(f"{APP_KEY}.config", {"version": 3})


async def wait_for_job_end(ledger: Ledger, client_key: str) -> None:
    for _ in range(200):
        job = await ledger.store.latest_job(client_key)
        if job is not None and not job.state.is_active:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the removal did not finish")


async def test_page_admin(ledger, app_client, installed: FakeSite, fake: FakeJira, admin):
    await write_properties(ledger, installed)
    url = page_url(fake, installed, admin)

    response = await app_client.get(url)

    text = text_of(response)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "Data stored in your site Site: acme.jira.test" in text
    assert "The app stores 6 properties in this site." in text
    assert "App properties 1 0 0 Issue properties 5 0 0 Total 6 0 0" in text
    assert (
        "This deletes the 6 properties that the app stored in acme.jira.test: "
        "1 app property and 5 issue properties." in text
    )
    assert "Inventory last rebuilt from a scan of the site: never." in text
    assert f'<script src="{DEFAULT_CONNECT_JS_URL}"></script>' in response.text
    assert '<script src="/admin/static/admin.js?v=' in response.text
    assert 'data-host="acme.jira.test"' in response.text
    assert 'data-active-removal=""' in response.text
    assert url.rpartition("jwt=")[2] not in response.text


async def test_page_non_admin(ledger, app_client, installed: FakeSite, fake: FakeJira, member):
    response = await app_client.get(page_url(fake, installed, member))

    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert text_of(response).startswith(
        "A Jira admin is needed A Jira admin is needed This page shows the data the app "
        "stores in acme.jira.test and lets you remove it. Only a Jira administrator of the "
        "site can open it. Ask a Jira admin of acme.jira.test to open this page"
    )
    assert "<script" not in response.text


@pytest.mark.parametrize(
    ("make_url", "reason"),
    [
        (lambda fake, site, user: TARGET, "missing token"),
        (lambda fake, site, user: f"{TARGET}&jwt=not-a-token", "malformed token"),
        (
            lambda fake, site, user: page_url(fake, site, user, target="/admin/data?cp=other"),
            "query string hash mismatch",
        ),
        (
            lambda fake, site, user: f"{TARGET}&jwt={fake.context_token(site, user)}",
            "context tokens are not accepted on this route",
        ),
    ],
    ids=["missing", "malformed", "other-request", "context-token"],
)
async def test_page_bad_token(
    app_client, installed: FakeSite, fake: FakeJira, admin, make_url, reason
):
    response = await app_client.get(make_url(fake, installed, admin))

    assert response.status_code == 401
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "This page could not be opened" in text_of(response)
    assert f"the app could not verify the link it was opened with ({reason})" in text_of(response)


async def test_page_head_rejected(app_client, installed: FakeSite, fake: FakeJira, admin):
    # The iframe token's qsh covers a GET, so the same URL with HEAD does not verify.
    response = await app_client.head(page_url(fake, installed, admin))

    assert response.status_code == 401


async def test_page_jira_unreachable(
    ledger, app_client, installed: FakeSite, fake: FakeJira, admin, monkeypatch
):
    async def unreachable(installation, account_id):
        raise JiraTransportError("Jira did not respond.")

    monkeypatch.setattr(ledger, "is_admin", unreachable)

    response = await app_client.get(page_url(fake, installed, admin))

    assert response.status_code == 502
    assert "Jira could not be reached" in text_of(response)


async def test_page_logs_no_token(app_client, installed: FakeSite, fake: FakeJira, member, caplog):
    url = page_url(fake, installed, member)
    caplog.set_level(logging.DEBUG)

    await app_client.get(url)

    token = url.rpartition("jwt=")[2]
    assert (
        "propledger.web",
        logging.WARNING,
        "Rejected GET /admin/data with status 403",
    ) in caplog.record_tuples
    # httpx, the test's own client, logs the URL, but propledger's loggers must not.
    propledger_records = [r for r in caplog.records if r.name.startswith("propledger")]
    assert propledger_records
    assert all(token not in record.getMessage() for record in propledger_records)


async def test_page_empty_inventory(app_client, installed: FakeSite, fake: FakeJira, admin):
    response = await app_client.get(page_url(fake, installed, admin))

    text = text_of(response)
    assert "The app stores no data in this site." in text
    assert "There is nothing to remove." in text
    assert 'id="inventory-table"' not in response.text
    assert 'id="remove-form"' not in response.text


async def test_page_running_removal(ledger, site: FakeSite, fake: FakeJira, admin):
    # Without a worker the job stays queued, so the page finds it running.
    from propledger.web import create_app

    app = create_app(ledger, run_worker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_BASE_URL) as client,
    ):
        await fake.install(site, app_base_url=APP_BASE_URL, client=client)
        await write_properties(ledger, site)
        job, _ = await start_removal(ledger, client_key=site.client_key, requested_by=admin)
        response = await client.get(page_url(fake, site, admin))

    assert response.status_code == 200
    assert f'data-active-removal="{job.id}"' in response.text
    assert '<div id="remove-start" hidden>' in response.text
    assert '<div id="removal-progress">' in response.text


async def test_page_last_removal(ledger, app_client, installed: FakeSite, fake: FakeJira, admin):
    await write_properties(ledger, installed)
    job, _ = await start_removal(ledger, client_key=installed.client_key, requested_by=admin)
    await wait_for_job_end(ledger, installed.client_key)
    finished = await ledger.store.get_job(job.id, client_key=installed.client_key)

    response = await app_client.get(page_url(fake, installed, admin))

    text = text_of(response)
    ended = finished.finished_at.strftime("%d %B %Y, %H:%M UTC").lstrip("0")
    assert f"The last removal ended on {ended}: every property was removed." in text
    assert f'data-receipt="{job.id}"' in response.text
    assert "App properties 0 1 0 Issue properties 0 5 0 Total 0 6 0" in text
    assert 'data-active-removal=""' in response.text


async def test_page_last_rebuilt(ledger, app_client, installed: FakeSite, fake: FakeJira, admin):
    ref = PropertyRef(EntityType.ISSUE, next(iter(installed.issues)), f"{APP_KEY}.found")
    await ledger.store.record_found(installed.client_key, ref, value_sha256=None, value_size=None)
    found = await ledger.store.last_found_by_scan(installed.client_key)

    response = await app_client.get(page_url(fake, installed, admin))

    displayed_time = found.strftime("%d %B %Y, %H:%M UTC").lstrip("0")
    assert f"Inventory last rebuilt from a scan of the site: {displayed_time}." in text_of(response)
    assert f'<time datetime="{found.isoformat()}">' in response.text


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/admin/static/admin.js", "text/javascript"), ("/admin/static/admin.css", "text/css")],
)
async def test_static_files(app_client, path, media_type):
    response = await app_client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


async def test_static_file_missing(app_client):
    response = await app_client.get("/admin/static/all.js")

    assert response.status_code == 404
