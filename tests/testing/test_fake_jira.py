"""FakeJira's behaviour as Jira Cloud's: authentication, permissions, limits, sites, log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest

from propledger.connect import encode_app_token
from propledger.testing import FakeJira, FakeSite, FakeUser, LoggedRequest

APP_KEY = "com.example.app"
BASE_URL = "https://acme.jira.test"
SHARED_SECRET = "fake-shared-secret-for-tests-0123456789abcdef"
KEY = "com.example.app.state"
ISSUE_NOT_FOUND = {
    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
    "errors": {},
}


SignedGet = Callable[..., Awaitable[httpx.Response]]
AuthFactory = Callable[..., httpx.Auth]


def error(message: str) -> dict[str, object]:
    return {"errorMessages": [message], "errors": {}}


def basic_client(fake: FakeJira, site: FakeSite, user: FakeUser) -> httpx.AsyncClient:
    email = f"{user.account_id}@example.com"
    site.add_api_token(email, "api-token", user.account_id)

    return httpx.AsyncClient(
        transport=fake.transport(), base_url=site.base_url, auth=(email, "api-token")
    )


@pytest.fixture
async def member_client(fake: FakeJira, site: FakeSite) -> AsyncIterator[httpx.AsyncClient]:
    member = site.add_user(display_name="Member", account_id="member-account")
    async with basic_client(fake, site, member) as client:
        yield client


@pytest.fixture
def signed_get(fake: FakeJira, site: FakeSite, app_auth: AuthFactory) -> SignedGet:
    """Send a GET signed as the app, with token options such as a wrong ``url`` or ``now``."""

    async def get(path: str, **options: object) -> httpx.Response:
        auth = app_auth(site, **options)
        async with httpx.AsyncClient(
            transport=fake.transport(), base_url=BASE_URL, auth=auth
        ) as client:
            return await client.get(path)

    return get


# Authentication


async def test_jwt_accepted(fake: FakeJira, site: FakeSite, app_client: httpx.AsyncClient) -> None:
    issue = site.add_issue()

    response = await app_client.get(f"/rest/api/3/issue/{issue.id}/properties")

    assert response.status_code == 200
    assert response.json() == {"keys": []}


async def test_jwt_wrong_qsh_rejected(site: FakeSite, signed_get: SignedGet) -> None:
    issue = site.add_issue()
    path = f"/rest/api/3/issue/{issue.id}/properties"

    response = await signed_get(path, url=f"{BASE_URL}{path}/other")

    assert response.status_code == 401
    assert response.json() == error(
        "The JWT's qsh claim does not match the request's method, path and query."
    )


async def test_jwt_wrong_method_rejected(site: FakeSite, signed_get: SignedGet) -> None:
    issue = site.add_issue()

    response = await signed_get(f"/rest/api/3/issue/{issue.id}/properties", method="PUT")

    assert response.status_code == 401


async def test_jwt_expired_rejected(site: FakeSite, signed_get: SignedGet) -> None:
    issue = site.add_issue()

    response = await signed_get(f"/rest/api/3/issue/{issue.id}/properties", now=time.time() - 600)

    assert response.status_code == 401
    assert response.json() == error("The JWT has expired. Sign a new one for each request.")


async def test_jwt_within_leeway_accepted(site: FakeSite, signed_get: SignedGet) -> None:
    issue = site.add_issue()

    # The token expired 2 seconds ago; FakeJira tolerates 5 seconds of clock skew.
    response = await signed_get(f"/rest/api/3/issue/{issue.id}/properties", now=time.time() - 182)

    assert response.status_code == 200


async def test_jwt_wrong_issuer_rejected(site: FakeSite, signed_get: SignedGet) -> None:
    issue = site.add_issue()

    response = await signed_get(f"/rest/api/3/issue/{issue.id}/properties", app_key="com.other.app")

    assert response.status_code == 401
    assert response.json() == error(
        "The JWT issuer 'com.other.app' is not the installed app 'com.example.app'."
    )


async def test_jwt_wrong_secret_rejected(site: FakeSite, signed_get: SignedGet) -> None:
    issue = site.add_issue()

    response = await signed_get(
        f"/rest/api/3/issue/{issue.id}/properties",
        shared_secret="another-secret-that-is-long-enough-0123456789",
    )

    assert response.status_code == 401
    assert response.json() == error("The JWT is invalid: Signature verification failed.")


async def test_jwt_not_installed_rejected(fake: FakeJira, site: FakeSite) -> None:
    issue = site.add_issue()
    token = encode_app_token(
        app_key=APP_KEY,
        shared_secret=SHARED_SECRET,
        method="GET",
        url=f"/rest/api/3/issue/{issue.id}/properties",
        base_url=BASE_URL,
    )
    site.shared_secret = None
    async with httpx.AsyncClient(transport=fake.transport(), base_url=BASE_URL) as client:
        response = await client.get(
            f"/rest/api/3/issue/{issue.id}/properties", headers={"Authorization": f"JWT {token}"}
        )

    assert response.status_code == 401
    assert response.json() == error(
        "The app is not installed on this site, so no shared secret can verify its JWT."
    )


async def test_jwt_query_parameter_accepted(fake: FakeJira, site: FakeSite) -> None:
    site.shared_secret = SHARED_SECRET
    user = site.add_user()
    url = f"{BASE_URL}/rest/api/3/user/properties?accountId={user.account_id}"
    token = encode_app_token(
        app_key=APP_KEY, shared_secret=SHARED_SECRET, method="GET", url=url, base_url=BASE_URL
    )
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        response = await client.get(url, params={"accountId": user.account_id, "jwt": token})

    assert response.status_code == 200
    assert fake.request_log == [
        LoggedRequest(
            base_url=BASE_URL,
            method="GET",
            path="/rest/api/3/user/properties",
            query={"accountId": user.account_id},
            status=200,
            auth="jwt",
            issuer=APP_KEY,
        )
    ]


async def test_no_credentials_rejected(site: FakeSite, anonymous_client: httpx.AsyncClient) -> None:
    issue = site.add_issue()

    response = await anonymous_client.get(f"/rest/api/3/issue/{issue.id}/properties")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.json() == error(
        "The request has no credentials. Send a Connect JWT or basic auth with an API token."
    )


async def test_basic_wrong_token_rejected(fake: FakeJira, site: FakeSite) -> None:
    user = site.add_user()
    site.add_api_token("user@example.com", "right-token", user.account_id)
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=BASE_URL, auth=("user@example.com", "wrong-token")
    ) as client:
        response = await client.get("/rest/api/3/myself")

    assert response.status_code == 401
    assert response.json() == error("No API token of 'user@example.com' matches the one sent.")


def test_api_token_needs_user(site: FakeSite) -> None:
    with pytest.raises(ValueError, match="no user with account id 'ghost'"):
        site.add_api_token("ghost@example.com", "token", "ghost")


# Hidden issues and permissions


async def test_hidden_issue_returns_404(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    issue = site.add_issue()
    issue.properties[KEY] = {"kept": True}
    site.hidden_issue_ids.add(issue.id)

    for id_or_key in (issue.id, issue.key):
        base = f"/rest/api/3/issue/{id_or_key}/properties"
        responses = [
            await app_client.get(base),
            await app_client.get(f"{base}/{KEY}"),
            await app_client.put(f"{base}/{KEY}", json={"changed": True}),
            await app_client.put(f"{base}/com.example.app.new", json=1),
            await app_client.delete(f"{base}/{KEY}"),
        ]

        assert [response.status_code for response in responses] == [404] * 5
        assert all(response.json() == ISSUE_NOT_FOUND for response in responses)
    assert issue.properties == {KEY: {"kept": True}}


async def test_hidden_issue_visible_to_admin(fake: FakeJira, site: FakeSite) -> None:
    issue = site.add_issue()
    issue.properties[KEY] = 1
    site.hidden_issue_ids.add(issue.id)
    admin = site.add_user(is_admin=True)
    async with basic_client(fake, site, admin) as client:
        response = await client.delete(f"/rest/api/3/issue/{issue.id}/properties/{KEY}")

    assert response.status_code == 204
    assert issue.properties == {}


async def test_hidden_issue_hides_comments(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    issue = site.add_issue()
    comment = site.add_comment(issue)
    comment.properties[KEY] = 1
    site.hidden_issue_ids.add(issue.id)
    base = f"/rest/api/3/comment/{comment.id}/properties"

    listed = await app_client.get(base)
    deleted = await app_client.delete(f"{base}/{KEY}")

    assert listed.status_code == 404
    assert deleted.status_code == 404
    assert deleted.json() == error(f"Can not find a comment for the id: {comment.id}.")
    assert comment.properties == {KEY: 1}


async def test_protected_user_returns_403(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    user = site.add_user()
    user.properties[KEY] = "kept"
    site.protected_account_ids.add(user.account_id)
    url = f"/rest/api/3/user/properties/{KEY}"
    params = {"accountId": user.account_id}

    written = await app_client.put(url, params=params, json="changed")
    deleted = await app_client.delete(url, params=params)
    read = await app_client.get(url, params=params)

    assert written.status_code == 403
    assert written.json() == error(
        "You do not have permission to change the properties of this user."
    )
    assert deleted.status_code == 403
    assert read.status_code == 200
    assert user.properties == {KEY: "kept"}


async def test_member_other_user_returns_403(
    site: FakeSite, member_client: httpx.AsyncClient
) -> None:
    other = site.add_user()
    url = f"/rest/api/3/user/properties/{KEY}"

    written = await member_client.put(url, params={"accountId": other.account_id}, json=1)
    read = await member_client.get(url, params={"accountId": other.account_id})
    own = await member_client.put(url, params={"accountId": "member-account"}, json=1)

    assert written.status_code == 403
    assert written.json() == error(
        "Only Jira administrators can access the properties of other users."
    )
    assert read.status_code == 403
    assert own.status_code == 201
    assert other.properties == {}
    assert site.users["member-account"].properties == {KEY: 1}


async def test_admin_other_user_allowed(fake: FakeJira, site: FakeSite) -> None:
    admin = site.add_user(is_admin=True)
    other = site.add_user()
    async with basic_client(fake, site, admin) as client:
        response = await client.put(
            f"/rest/api/3/user/properties/{KEY}", params={"accountId": other.account_id}, json=1
        )

    assert response.status_code == 201
    assert other.properties == {KEY: 1}


async def test_member_project_write_returns_403(
    site: FakeSite, member_client: httpx.AsyncClient
) -> None:
    project = site.add_project("OPS")

    written = await member_client.put(f"/rest/api/3/project/OPS/properties/{KEY}", json=1)
    read = await member_client.get("/rest/api/3/project/OPS/properties")

    assert written.status_code == 403
    assert read.status_code == 200
    assert project.properties == {}


async def test_member_app_properties_return_401(
    site: FakeSite, member_client: httpx.AsyncClient
) -> None:
    response = await member_client.get(
        "/rest/atlassian-connect/1/addons/com.example.app/properties"
    )

    assert response.status_code == 401
    assert response.json() == {
        "message": "Access to this resource must be authenticated as an app.",
        "statusCode": 401,
    }


async def test_other_addon_key_returns_403(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    response = await app_client.put(
        "/rest/atlassian-connect/1/addons/com.other.app/properties/k", json=1
    )

    assert response.status_code == 403
    assert response.json() == {
        "message": "Only the app 'com.other.app' can access its own app properties.",
        "statusCode": 403,
    }
    assert site.app_properties == {}


# Limits and invalid requests


async def test_value_length_limit(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    issue = site.add_issue()
    url = f"/rest/api/3/issue/{issue.id}/properties/{KEY}"
    longest = '"' + "x" * 32766 + '"'

    accepted = await app_client.put(url, content=longest)
    rejected = await app_client.put(url, content='"' + "x" * 32767 + '"')

    assert accepted.status_code == 201
    assert rejected.status_code == 400
    assert rejected.json() == error(
        "The property value is 32769 characters long; the maximum length is 32768 characters."
    )
    assert issue.properties == {KEY: "x" * 32766}


async def test_app_value_too_long(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    response = await app_client.put(
        "/rest/atlassian-connect/1/addons/com.example.app/properties/k",
        content='"' + "x" * 32767 + '"',
    )

    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
    assert site.app_properties == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The property value must not be empty. Send a non-empty JSON value."),
        (b"  ", "The property value must not be empty. Send a non-empty JSON value."),
        (b"{not json", "The property value is not valid JSON."),
        (b"\xff", "The property value is not valid UTF-8 text."),
    ],
)
async def test_invalid_value_returns_400(
    site: FakeSite, app_client: httpx.AsyncClient, content: bytes, message: str
) -> None:
    issue = site.add_issue()

    response = await app_client.put(
        f"/rest/api/3/issue/{issue.id}/properties/{KEY}", content=content
    )

    assert response.status_code == 400
    assert response.json() == error(message)
    assert issue.properties == {}


async def test_key_length_limit(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    issue = site.add_issue()
    base = f"/rest/api/3/issue/{issue.id}/properties"

    accepted = await app_client.put(f"{base}/{'k' * 255}", json=1)
    rejected = await app_client.put(f"{base}/{'k' * 256}", json=1)

    assert accepted.status_code == 201
    assert rejected.status_code == 400
    assert rejected.json() == error("The property key cannot be longer than 255 characters.")
    assert list(issue.properties) == ["k" * 255]


async def test_user_without_account_id_returns_400(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/rest/api/3/user/properties")

    assert response.status_code == 400
    assert response.json() == error(
        "The accountId query parameter is missing. Give the user's account id."
    )


async def test_removed_search_returns_410(app_client: httpx.AsyncClient) -> None:
    got = await app_client.get("/rest/api/3/search", params={"jql": "project = DEMO"})
    posted = await app_client.post("/rest/api/3/search", json={"jql": "project = DEMO"})

    for response in (got, posted):
        assert response.status_code == 410
        assert "/rest/api/3/search/jql" in response.json()["errorMessages"][0]


async def test_unknown_route_returns_404(fake: FakeJira, app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/rest/api/3/nothing")

    assert response.status_code == 404
    assert response.json() == error("No Jira REST resource is served at /rest/api/3/nothing.")
    assert fake.request_log[-1].status == 404


# Permission checks and the calling user


async def test_permissions_check_grants(site: FakeSite, app_client: httpx.AsyncClient) -> None:
    admin = site.add_user(is_admin=True)
    member = site.add_user()
    requested = ["ADMINISTER", "USER_PICKER"]

    granted = {
        account_id: (
            await app_client.post(
                "/rest/api/3/permissions/check",
                json={"accountId": account_id, "globalPermissions": requested},
            )
        ).json()["globalPermissions"]
        for account_id in (admin.account_id, member.account_id, "unknown-account")
    }

    assert granted == {
        admin.account_id: ["ADMINISTER", "USER_PICKER"],
        member.account_id: ["USER_PICKER"],
        "unknown-account": [],
    }


async def test_permissions_check_caller(site: FakeSite, member_client: httpx.AsyncClient) -> None:
    own = await member_client.post(
        "/rest/api/3/permissions/check", json={"globalPermissions": ["ADMINISTER", "USER_PICKER"]}
    )
    other = await member_client.post(
        "/rest/api/3/permissions/check",
        json={"accountId": site.add_user().account_id, "globalPermissions": ["ADMINISTER"]},
    )

    assert own.json() == {"globalPermissions": ["USER_PICKER"], "projectPermissions": []}
    assert other.status_code == 403
    assert other.json() == error("Only Jira administrators can perform this operation.")


async def test_myself_basic_user(fake: FakeJira, site: FakeSite) -> None:
    user = site.add_user(display_name="Mia", email="mia@example.com", account_id="mia-account")
    async with basic_client(fake, site, user) as client:
        response = await client.get("/rest/api/3/myself")

    assert response.json() == {
        "self": f"{BASE_URL}/rest/api/3/user?accountId=mia-account",
        "accountId": "mia-account",
        "accountType": "atlassian",
        "displayName": "Mia",
        "emailAddress": "mia@example.com",
        "active": True,
        "timeZone": "UTC",
        "locale": "en_US",
    }


# Sites and the request log


async def test_site_selected_by_host(fake: FakeJira, site: FakeSite, app_auth: AuthFactory) -> None:
    other = fake.add_site("https://beta.jira.test", name="beta")
    other.shared_secret = "beta-shared-secret-that-is-long-enough-0123"
    acme_issue = site.add_issue()
    beta_issue = other.add_issue()
    async with (
        httpx.AsyncClient(
            transport=fake.transport(), base_url=BASE_URL, auth=app_auth(site)
        ) as acme,
        httpx.AsyncClient(
            transport=fake.transport(), base_url=other.base_url, auth=app_auth(other)
        ) as beta,
    ):
        acme_response = await acme.put(
            f"/rest/api/3/issue/{acme_issue.id}/properties/{KEY}", json=1
        )
        beta_response = await beta.put(
            f"/rest/api/3/issue/{beta_issue.id}/properties/{KEY}", json=2
        )

    assert (acme_response.status_code, beta_response.status_code) == (201, 201)
    assert acme_issue.properties == {KEY: 1}
    assert beta_issue.properties == {KEY: 2}
    assert [entry.base_url for entry in fake.request_log] == [BASE_URL, other.base_url]


async def test_unknown_host_returns_404(fake: FakeJira, site: FakeSite) -> None:
    fake.add_site("https://beta.jira.test")
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url="https://gamma.jira.test"
    ) as client:
        response = await client.get("/rest/api/3/myself")

    assert response.status_code == 404
    assert response.json() == error("FakeJira has no site at host 'gamma.jira.test'.")
    assert fake.request_log == [
        LoggedRequest(base_url=None, method="GET", path="/rest/api/3/myself", query={}, status=404)
    ]


async def test_host_default_port_matches(fake: FakeJira, site: FakeSite) -> None:
    fake.add_site("https://beta.jira.test")

    assert fake.site_for_host("acme.jira.test:443") is site
    assert fake.site_for_host("ACME.jira.test") is site
    assert fake.site_for_host("acme.jira.test:8443") is None
    assert fake.site_for_host(None) is None


def test_add_site_rejects_duplicate_host(fake: FakeJira, site: FakeSite) -> None:
    with pytest.raises(ValueError, match=r"already has a site at 'acme\.jira\.test'"):
        fake.add_site("https://acme.jira.test/")


@pytest.mark.parametrize(
    "base_url", ["https://acme.jira.test/jira", "acme.jira.test", "ftp://acme.jira.test"]
)
def test_add_site_rejects_base_url(fake: FakeJira, base_url: str) -> None:
    with pytest.raises(ValueError, match="site base URL"):
        fake.add_site(base_url)


def test_add_site_strips_trailing_slash(fake: FakeJira) -> None:
    site = fake.add_site("https://acme.jira.test/")

    assert site.base_url == "https://acme.jira.test"
    assert site.client_key.startswith("jira:")
    assert fake.sites == (site,)


async def test_request_log_entry(
    fake: FakeJira, site: FakeSite, app_client: httpx.AsyncClient
) -> None:
    user = site.add_user()

    await app_client.put(
        f"/rest/api/3/user/properties/{KEY}",
        params={"accountId": user.account_id, "note": "a"},
        json={"theme": "dark"},
    )

    assert fake.request_log == [
        LoggedRequest(
            base_url=BASE_URL,
            method="PUT",
            path=f"/rest/api/3/user/properties/{KEY}",
            query={"accountId": user.account_id, "note": "a"},
            status=201,
            auth="jwt",
            issuer=APP_KEY,
            account_id=None,
            body={"theme": "dark"},
        )
    ]


async def test_key_server_not_logged(fake: FakeJira, anonymous_client: httpx.AsyncClient) -> None:
    response = await anonymous_client.get("/_fake/install-keys/unknown-kid")

    assert response.status_code == 404
    assert fake.request_log == []


# Site data helpers


def test_entity_ids_start_at_10000(site: FakeSite) -> None:
    first = site.add_issue()
    second = site.add_issue()
    other = site.add_issue(project_key="OPS")
    comment = site.add_comment(first)

    assert (first.id, first.key) == ("10000", "DEMO-1")
    assert (second.id, second.key) == ("10001", "DEMO-2")
    assert (other.id, other.key) == ("10002", "OPS-1")
    assert [project.id for project in site.projects.values()] == ["10000", "10001"]
    assert comment.id == "10000"
    assert site.find_issue("OPS-1") is other
    assert site.find_project("OPS") is site.projects["10001"]


def test_properties_and_count(site: FakeSite) -> None:
    issue = site.add_issue()
    user = site.add_user(account_id="user-1")
    issue.properties.update({"com.example.app.a": 1, "other.vendor": 2})
    user.properties["com.example.app.b"] = 3
    site.projects[issue.project_id].properties["exact-key"] = 4
    site.app_properties["com.example.app"] = {"settings": 5}

    assert site.properties() == [
        ("app", "com.example.app", "settings"),
        ("issue", "10000", "com.example.app.a"),
        ("issue", "10000", "other.vendor"),
        ("project", "10000", "exact-key"),
        ("user", "user-1", "com.example.app.b"),
    ]
    assert site.property_count() == 5
    assert site.property_count(prefixes=("com.example.app.",)) == 2
    assert site.property_count(prefixes=("com.example.app.",), keys=("exact-key",)) == 3


async def test_chunked_body_read_whole(fake: FakeJira, site: FakeSite) -> None:
    site.shared_secret = SHARED_SECRET
    issue = site.add_issue()
    path = f"/rest/api/3/issue/{issue.id}/properties/{KEY}"
    token = encode_app_token(
        app_key=APP_KEY, shared_secret=SHARED_SECRET, method="PUT", url=path, base_url=BASE_URL
    )
    messages = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"acme.jira.test"), (b"authorization", f"JWT {token}".encode())],
        "server": ("acme.jira.test", 443),
        "client": ("127.0.0.1", 50000),
    }

    await fake.app(scope, receive, send)

    assert sent[0]["status"] == 201
    assert issue.properties == {KEY: {"a": 1}}
    assert fake.request_log[-1].body == {"a": 1}
