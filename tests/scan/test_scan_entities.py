"""Scanning users, projects and app properties, as the app and as an operator."""

from __future__ import annotations

import pytest
from tests.scan.conftest import APP_KEY, KEY_A, KEY_B, requests_to

from propledger.errors import ConfigurationError, JiraResponseError
from propledger.hashing import digest_value
from propledger.jira import JiraClient, RetryPolicy, basic_auth, search_users
from propledger.model import EntityType, Installation, PropertyRef
from propledger.scan import ReconcileCounts, ScanOptions, SiteScanner, rebuild_inventory
from propledger.scope import KeyScope

SCOPE = KeyScope.for_app(APP_KEY)
USERS_SEARCH = "/rest/api/3/users/search"
EMAIL = "operator@example.com"
API_TOKEN = "operator-api-token"


def user_ref(account_id, key=KEY_A):
    return PropertyRef(EntityType.USER, account_id, key)


@pytest.fixture
def operator_client(fake, site):
    admin = site.add_user(is_admin=True, display_name="Site admin", email=EMAIL)
    site.add_api_token(EMAIL, API_TOKEN, admin.account_id)

    return JiraClient(
        site.base_url,
        basic_auth(EMAIL, API_TOKEN),
        transport=fake.transport(),
        retry=RetryPolicy(max_attempts=1),
    )


async def test_users_from_inventory_and_file(fake, site, store, client, installation):
    known, listed, unknown = (site.add_user() for _ in range(3))
    for user in (known, listed, unknown):
        user.properties[KEY_A] = {"user": user.account_id}
    await store.record_found(
        installation.client_key, user_ref(known.account_id), value_sha256=None, value_size=None
    )
    options = ScanOptions(entity_types=(EntityType.USER,), account_ids=(listed.account_id,))

    summary = await rebuild_inventory(
        store, client, installation, SCOPE, app_key=APP_KEY, options=options
    )

    assert summary.counts == {EntityType.USER: ReconcileCounts(found=2, added=1, unchanged=1)}
    rows = [row async for row in store.iter_inventory(installation.client_key)]
    assert {row.ref for row in rows} == {user_ref(known.account_id), user_ref(listed.account_id)}
    assert requests_to(fake, USERS_SEARCH) == []
    assert sorted(
        entry.query["accountId"] for entry in requests_to(fake, "/rest/api/3/user/properties")
    ) == sorted([known.account_id, listed.account_id])


async def test_operator_searches_users(fake, site, store, operator_client, installation):
    users = [site.add_user() for _ in range(3)]
    users[1].properties[KEY_B] = [1, 2]
    options = ScanOptions(entity_types=(EntityType.USER,), search_users=True)

    async with operator_client:
        summary = await rebuild_inventory(
            store, operator_client, installation, SCOPE, app_key=APP_KEY, options=options
        )

    assert summary.counts == {EntityType.USER: ReconcileCounts(found=1, added=1)}
    row = await store.get_row(installation.client_key, user_ref(users[1].account_id, KEY_B))
    assert row.value_sha256 == digest_value([1, 2]).sha256
    searches = requests_to(fake, USERS_SEARCH)
    assert [(entry.auth, entry.status, entry.query) for entry in searches] == [
        ("basic", 200, {"startAt": "0", "maxResults": "1000"}),
        ("basic", 200, {"startAt": "4", "maxResults": "1000"}),
    ]


async def test_app_cannot_search_users(fake, site, client):
    site.add_user()

    with pytest.raises(JiraResponseError) as caught:
        _ = [user async for user in search_users(client)]

    assert caught.value.status_code == 403
    assert str(caught.value) == (
        "Jira returned status 403 for GET /rest/api/3/users/search: Connect apps cannot list "
        "the users of a site. Give the account ids in a file, or scan as an operator with an "
        "API token."
    )
    assert [(entry.auth, entry.status) for entry in requests_to(fake, USERS_SEARCH)] == [
        ("jwt", 403)
    ]


async def test_projects_paged(fake, site, client):
    projects = [site.add_project(f"P{number:03d}") for number in range(150)]
    projects[120].properties[KEY_A] = "flag"
    projects[3].properties["com.other.vendor.key"] = "theirs"
    scanner = SiteScanner(client, SCOPE, app_key=APP_KEY)

    found = await scanner.scan(EntityType.PROJECT)

    assert found == {PropertyRef(EntityType.PROJECT, projects[120].id, KEY_A): digest_value("flag")}
    assert [entry.query for entry in requests_to(fake, "/rest/api/3/project/search")] == [
        {"startAt": "0", "maxResults": "100"},
        {"startAt": "100", "maxResults": "100"},
    ]
    assert len([entry for entry in fake.request_log if entry.path.endswith("/properties")]) == 150


async def test_app_properties_listed(fake, site, client):
    site.app_properties[APP_KEY] = {KEY_A: {"config": 1}, "legacy-key": True}
    scanner = SiteScanner(client, SCOPE, app_key=APP_KEY)

    found = await scanner.scan(EntityType.APP)

    assert found == {PropertyRef(EntityType.APP, APP_KEY, KEY_A): digest_value({"config": 1})}
    assert [(entry.method, entry.path) for entry in fake.request_log] == [
        ("GET", f"/rest/atlassian-connect/1/addons/{APP_KEY}/properties"),
        ("GET", f"/rest/atlassian-connect/1/addons/{APP_KEY}/properties/{KEY_A}"),
    ]


async def test_whole_site_rebuild(fake, site, store, client, installation):
    issue = site.add_issue("ACME")
    issue.properties[KEY_A] = 1
    site.projects[issue.project_id].properties[KEY_A] = 2
    site.app_properties[APP_KEY] = {KEY_B: 3}

    summary = await rebuild_inventory(store, client, installation, SCOPE, app_key=APP_KEY)

    assert summary.as_dict() == {
        "installation": installation.client_key,
        "dry_run": False,
        "entity_types": {
            "issue": ReconcileCounts(found=1, added=1).as_dict(),
            "user": ReconcileCounts().as_dict(),
            "project": ReconcileCounts(found=1, added=1).as_dict(),
            "app": ReconcileCounts(found=1, added=1).as_dict(),
        },
        "total": ReconcileCounts(found=3, added=3).as_dict(),
    }


async def test_other_site_client_rejected(store, client, installation):
    elsewhere = Installation(installation.client_key, "https://other.jira.test", "secret")

    with pytest.raises(ConfigurationError) as caught:
        await rebuild_inventory(store, client, elsewhere, SCOPE, app_key=APP_KEY)

    assert str(caught.value) == (
        f"The Jira client points at https://acme.jira.test, but installation "
        f"{installation.client_key} is at https://other.jira.test. Scan the installation's "
        "own site."
    )


def test_options_reject_comments():
    with pytest.raises(ConfigurationError) as caught:
        ScanOptions(entity_types=(EntityType.COMMENT,))

    assert str(caught.value) == (
        "A scan cannot enumerate comment properties. Choose among: issue, user, project, app."
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "The scan concurrency 0 is below 1. Use 1 or more."),
        (
            {"max_requests_per_second": 0},
            "The request rate 0 is not positive. Give requests per second above 0.",
        ),
        ({"jql": " "}, "The scan's JQL query is empty. Give a bounded query."),
        ({"max_pages": 0}, "max_pages must be at least 1, got 0."),
    ],
)
def test_options_rejected(options, message):
    with pytest.raises(ConfigurationError) as caught:
        ScanOptions(**options)

    assert str(caught.value) == message
