"""The admin page in Chromium: counts, downloads, typed confirmation and a removal."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from tests.browser.conftest import APP_KEY, Harness, Tab

from propledger.removal import start_removal

pytestmark = pytest.mark.browser

HOST = "acme.jira.test"
PROPERTY_COUNT = 11
WAIT_MS = 15_000


async def screenshot(page: Page, path: Path) -> None:
    # The pointer stays where the last click was, so move it off the page's buttons.
    await page.mouse.move(0, 0)
    await page.screenshot(path=path, full_page=True)


async def table_counts(page: Page) -> dict[str, list[str]]:
    counts = {}
    for row in await page.locator("#inventory-table tbody tr").all():
        label = await row.locator("th").inner_text()
        counts[label] = [cell.strip() for cell in await row.locator("td").all_inner_texts()]

    return counts


async def download_text(page: Page, button_name: str) -> tuple[str, str]:
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name=button_name).click()
    download = await download_info.value
    path = await download.path()

    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")

    return download.suggested_filename, text


def expected_inventory(harness: Harness) -> list[tuple[str, str, str]]:
    site = harness.site
    members = [user for user in site.users.values() if not user.is_admin][:2]

    return sorted(
        [("issue", issue_id, f"{APP_KEY}.checklist") for issue_id in site.issues]
        + [("user", user.account_id, f"{APP_KEY}.prefs") for user in members]
        + [("project", project_id, f"{APP_KEY}.board") for project_id in site.projects]
        + [("comment", comment_id, f"{APP_KEY}.reaction") for comment_id in site.comments]
        + [("app", APP_KEY, f"{APP_KEY}.config"), ("app", APP_KEY, f"{APP_KEY}.licence")]
    )


async def assert_api_calls_signed(tab: Tab, harness: Harness) -> None:
    api_calls = [request for request in tab.requests if "/api/" in request.url]
    assert api_calls, "the page made no API call"
    for request in api_calls:
        headers = await request.all_headers()
        assert headers.get("authorization", "").startswith("JWT "), request.url
        assert "cookie" not in headers, request.url
    # Each API call asked AP for a fresh context token.
    assert harness.tokens_issued == len(api_calls)
    assert await tab.page.context.cookies() == []


async def test_admin_removes_all_data(harness: Harness, tab: Tab, images_dir: Path):
    page = tab.page

    response = await page.goto(harness.page_url(harness.admin))

    assert response is not None
    assert response.status == 200
    await expect(page.get_by_role("heading", level=1)).to_have_text("Data stored in your site")
    await expect(page.locator("#site-host")).to_have_text(HOST)
    assert await table_counts(page) == {
        "App properties": ["2", "0", "0"],
        "Comment properties": ["1", "0", "0"],
        "Issue properties": ["5", "0", "0"],
        "Project properties": ["1", "0", "0"],
        "User properties": ["2", "0", "0"],
    }
    await expect(page.locator("#inventory-summary")).to_have_text(
        f"The app stores {PROPERTY_COUNT} properties in this site."
    )
    await expect(page.locator("#last-rebuilt")).to_contain_text(
        "Inventory last rebuilt from a scan of the site: never."
    )
    await screenshot(page, images_dir / "admin-page.png")

    # The CSV download.
    filename, text = await download_text(page, "Download CSV")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert filename == f"propledger-inventory-{HOST}.csv"
    assert sorted((row["entity_type"], row["entity_id"], row["property_key"]) for row in rows) == (
        expected_inventory(harness)
    )
    assert {row["state"] for row in rows} == {"present"}
    await expect(page.locator("#export-message")).to_have_text(f"Downloaded {filename}.")

    # A wrong host name leaves the button disabled, and Enter submits nothing.
    confirm = page.get_by_label("To confirm, type the site's host name")
    remove = page.get_by_role("button", name="Remove all data")
    await confirm.fill("acme.jira")
    await confirm.press("Enter")
    await expect(remove).to_be_disabled()
    assert await harness.ledger.store.latest_job(harness.site.client_key) is None

    # The right host name, in upper case and with spaces, enables the button, and the
    # keyboard starts the removal.
    await confirm.fill(" ACME.jira.test ")
    await expect(remove).to_be_enabled()
    await page.keyboard.press("Tab")
    await expect(remove).to_be_focused()
    await screenshot(page, images_dir / "admin-page-confirm.png")
    harness.transport.hold_deletes_after(4)
    await page.keyboard.press("Enter")

    # Progress, part done while FakeJira's DELETEs are held back. Issue properties go in
    # one bulk DELETE and the others one DELETE each, concurrently, so how many are done
    # when the fifth DELETE is held depends on their order.
    await expect(page.locator("#progress-heading")).to_be_focused()
    await expect(page.locator("#progress-status")).to_have_text(
        re.compile(rf"Removing the app's data: ([1-9]|10) of {PROPERTY_COUNT} properties done\."),
        timeout=WAIT_MS,
    )
    await expect(page.locator("#remove-start")).to_be_hidden()
    await expect(page.locator("#progress-list li")).to_have_count(5)
    await screenshot(page, images_dir / "admin-page-progress.png")
    harness.transport.release.set()

    # The outcome, the refreshed counts and the receipt.
    await expect(page.locator("#progress-heading")).to_have_text(
        "Removal finished", timeout=WAIT_MS
    )
    await expect(page.locator("#progress-status")).to_have_text(
        f"The removal is complete: {PROPERTY_COUNT} properties were deleted from {HOST}."
    )
    await expect(page.locator("#progress-list li").first).to_contain_text("2 of 2 done")
    await expect(page.locator("#inventory-summary")).to_have_text(
        "The app stores no data in this site."
    )
    await expect(page.locator('[data-total="removed"]')).to_have_text(str(PROPERTY_COUNT))
    await screenshot(page, images_dir / "admin-page-done.png")
    filename, text = await download_text(page, "Download receipt")
    receipt = json.loads(text)
    assert re.fullmatch(r"removal-[\w-]+\.json", filename)
    assert receipt["state"] == "completed"
    assert receipt["totals"] == {"deleted": PROPERTY_COUNT}
    assert receipt["not_removed"] == []
    assert receipt["installation"]["base_url"] == f"https://{HOST}"

    assert harness.site.property_count(prefixes=(f"{APP_KEY}.",)) == 0
    assert tab.blocked == []
    await assert_api_calls_signed(tab, harness)


async def test_page_narrow(harness: Harness, tab: Tab, images_dir: Path):
    page = tab.page
    await page.set_viewport_size({"width": 320, "height": 800})

    await page.goto(harness.page_url(harness.admin))

    await expect(page.get_by_role("button", name="Remove all data")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    await screenshot(page, images_dir / "admin-page-narrow.png")
    assert tab.blocked == []


async def test_page_opens_on_running_removal(harness: Harness, tab: Tab):
    page = tab.page
    harness.transport.hold_deletes_after(3)
    job, created = await start_removal(
        harness.ledger, client_key=harness.site.client_key, requested_by=harness.admin
    )

    await page.goto(harness.page_url(harness.admin))

    await expect(page.locator("#removal-progress")).to_be_visible()
    await expect(page.locator("#remove-start")).to_be_hidden()
    await expect(page.locator("#progress-status")).to_have_text(
        re.compile(rf"Removing the app's data: ([1-9]|10) of {PROPERTY_COUNT} properties done\."),
        timeout=WAIT_MS,
    )
    harness.transport.release.set()
    await expect(page.locator("#progress-heading")).to_have_text(
        "Removal finished", timeout=WAIT_MS
    )
    assert created is True
    await expect(page.locator("#removal-outcome [data-receipt]")).to_have_attribute(
        "data-receipt", job.id
    )
    assert harness.site.property_count(prefixes=(f"{APP_KEY}.",)) == 0


async def test_removal_with_issues(harness: Harness, tab: Tab):
    page = tab.page
    # The first issue carries the comment, so its comment property is hidden with it.
    harness.site.hidden_issue_ids.add(next(iter(harness.site.issues)))
    await page.goto(harness.page_url(harness.admin))
    await page.get_by_label("To confirm, type the site's host name").fill(HOST)

    await page.get_by_role("button", name="Remove all data").click()

    await expect(page.locator("#progress-heading")).to_have_text(
        "Removal finished", timeout=WAIT_MS
    )
    await expect(page.locator("#progress-status")).to_have_text(
        f"The removal finished, but 2 of {PROPERTY_COUNT} properties could not be confirmed "
        "as removed: 2 not verified, because Jira returned 404 for an entity the app cannot "
        "see, so the property may be hidden rather than deleted. The receipt lists each of "
        "them with the reason. Open this page again from Jira to start another removal."
    )
    await expect(page.locator("#progress-list li", has_text="Issue properties")).to_contain_text(
        "5 of 5 done, 1 not removed"
    )
    await expect(page.locator("#progress-list li", has_text="Comment properties")).to_contain_text(
        "1 of 1 done, 1 not removed"
    )
    await expect(page.locator("#inventory-summary")).to_have_text(
        "The app stores 2 properties in this site."
    )
    assert harness.site.property_count(prefixes=(f"{APP_KEY}.",)) == 2


async def test_removal_refused_shows_message(harness: Harness, tab: Tab):
    page = tab.page
    await page.goto(harness.page_url(harness.admin))
    await page.get_by_label("To confirm, type the site's host name").fill(HOST)
    # From now on AP hands out tokens of a user who is not a Jira admin.
    harness.signed_in = harness.member

    await page.get_by_role("button", name="Remove all data").click()

    await expect(page.locator("#remove-message")).to_have_text(
        "Only a Jira administrator of this site can remove the app's data. "
        "Ask a Jira admin to open this page."
    )
    await expect(page.locator("#remove-message")).to_be_visible()
    await expect(page.get_by_role("button", name="Remove all data")).to_be_enabled()
    await expect(page.locator("#removal-progress")).to_be_hidden()
    assert await harness.ledger.store.latest_job(harness.site.client_key) is None
    assert harness.site.property_count(prefixes=(f"{APP_KEY}.",)) == PROPERTY_COUNT


async def test_non_admin_sees_admin_needed(harness: Harness, tab: Tab, images_dir: Path):
    page = tab.page
    await page.set_viewport_size({"width": 800, "height": 240})

    response = await page.goto(harness.page_url(harness.member))

    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("A Jira admin is needed")
    await expect(page.locator("main")).to_contain_text(
        "Only a Jira administrator of the site can open it."
    )
    await expect(page.locator("main")).to_contain_text(f"Ask a Jira admin of {HOST} to open")
    await expect(page.get_by_role("button")).to_have_count(0)
    await screenshot(page, images_dir / "admin-page-not-admin.png")
    assert tab.blocked == []
