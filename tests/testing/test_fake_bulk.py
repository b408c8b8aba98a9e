"""FakeJira's bulk issue-property delete and its tasks, and the record of deletions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from propledger.testing import FakeJira, FakeSite

KEY = "com.example.app.flag"
BULK = f"/rest/api/3/issue/properties/{KEY}"


def error(message: str) -> dict[str, object]:
    return {"errorMessages": [message], "errors": {}}


@pytest.fixture
def issues(site: FakeSite) -> list[str]:
    ids = []
    for value in range(4):
        issue = site.add_issue()
        issue.properties[KEY] = value
        issue.properties["com.example.app.other"] = value
        ids.append(issue.id)

    return ids


async def submit(client: httpx.AsyncClient, body: Any, path: str = BULK) -> httpx.Response:
    return await client.request("DELETE", path, json=body)


async def poll(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    return await client.get(response.headers["Location"])


def keys_of(site: FakeSite, issue_id: str) -> list[str]:
    return sorted(site.issues[issue_id].properties)


async def test_bulk_delete_by_ids(app_client, site: FakeSite, issues: list[str]):
    submitted = await submit(app_client, {"entityIds": [int(issues[0]), int(issues[2])]})
    task = await poll(app_client, submitted)

    assert submitted.status_code == 303
    assert submitted.content == b""
    assert submitted.headers["Location"] == f"{site.base_url}/rest/api/3/task/10000"
    assert task.status_code == 200
    assert task.json()["status"] == "COMPLETE"
    assert task.json()["progress"] == 100
    assert [keys_of(site, issue_id) for issue_id in issues] == [
        ["com.example.app.other"],
        ["com.example.app.flag", "com.example.app.other"],
        ["com.example.app.other"],
        ["com.example.app.flag", "com.example.app.other"],
    ]
    assert site.deletions == [("issue", issues[0], KEY), ("issue", issues[2], KEY)]


async def test_bulk_skips_hidden(app_client, site: FakeSite, issues: list[str]):
    site.hidden_issue_ids.add(issues[1])

    submitted = await submit(app_client, {"entityIds": [int(issue_id) for issue_id in issues]})
    task = await poll(app_client, submitted)

    assert task.json()["status"] == "COMPLETE"
    assert site.deletions == [
        ("issue", issue_id, KEY) for issue_id in issues if issue_id != issues[1]
    ]
    assert KEY in site.issues[issues[1]].properties


async def test_bulk_empty_filter(app_client, site: FakeSite, issues: list[str]):
    site.hidden_issue_ids.add(issues[3])

    await submit(app_client, {})

    assert site.deletions == [("issue", issue_id, KEY) for issue_id in issues[:3]]


async def test_bulk_current_value(app_client, site: FakeSite, issues: list[str]):
    await submit(app_client, {"currentValue": 2})

    assert site.deletions == [("issue", issues[2], KEY)]


async def test_bulk_unknown_ids_ignored(app_client, site: FakeSite, issues: list[str]):
    submitted = await submit(app_client, {"entityIds": [99999]})
    task = await poll(app_client, submitted)

    assert task.json()["status"] == "COMPLETE"
    assert site.deletions == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"entityIds": ["10000"]}, "entityIds must be a list of numeric issue ids."),
        ({"entityIds": 10000}, "entityIds must be a list of numeric issue ids."),
        ({"hasProperty": True}, 'Unrecognized field "hasProperty".'),
        ([10000], "The request body must be a JSON object."),
    ],
)
async def test_bulk_bad_filter(app_client, site: FakeSite, issues, body, message):
    response = await submit(app_client, body)

    assert response.status_code == 400
    assert response.json() == error(message)
    assert site.tasks == {}


async def test_bulk_not_json(app_client, site: FakeSite):
    response = await app_client.request("DELETE", BULK, content=b"{entity")

    assert response.status_code == 400
    assert response.json() == error("The request body is not valid JSON.")


async def test_bulk_key_too_long(app_client, site: FakeSite):
    response = await submit(app_client, {}, path=f"/rest/api/3/issue/properties/{'k' * 256}")

    assert response.status_code == 400
    assert response.json() == error("The property key cannot be longer than 255 characters.")


async def test_task_reports_progress(app_client, site: FakeSite, issues: list[str]):
    site.task_options.running_polls = 2

    submitted = await submit(app_client, {"entityIds": [int(issues[0])]})
    reports = [(await poll(app_client, submitted)).json() for _ in range(4)]

    assert [(report["status"], report["progress"]) for report in reports] == [
        ("RUNNING", 33),
        ("RUNNING", 66),
        ("COMPLETE", 100),
        ("COMPLETE", 100),
    ]
    assert site.deletions == [("issue", issues[0], KEY)]
    assert site.tasks["10000"].polls == 3


async def test_task_fails(app_client, site: FakeSite, issues: list[str]):
    site.task_options.fail_next = 1

    failed = await poll(app_client, await submit(app_client, {}))
    completed = await poll(app_client, await submit(app_client, {"entityIds": [int(issues[0])]}))

    assert failed.json()["status"] == "FAILED"
    assert failed.json()["message"] == "The task failed, and no property was deleted."
    assert completed.json()["status"] == "COMPLETE"
    assert site.deletions == [("issue", issues[0], KEY)]


async def test_task_unknown_404(app_client, site: FakeSite):
    response = await app_client.get("/rest/api/3/task/424242")

    assert response.status_code == 404
    assert response.json() == error("The task with id 424242 does not exist.")


async def test_task_other_user_403(fake: FakeJira, app_client, site: FakeSite, issues):
    submitted = await submit(app_client, {})
    member = site.add_user()
    site.add_api_token("member@example.com", "token", member.account_id)
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=site.base_url, auth=("member@example.com", "token")
    ) as client:
        response = await poll(client, submitted)

    assert response.status_code == 403
    assert response.json() == error(
        "Only a Jira administrator or the task's submitter can view it."
    )


async def test_task_v2_location(app_client, site: FakeSite, issues):
    submitted = await submit(app_client, {}, path=f"/rest/api/2/issue/properties/{KEY}")

    assert submitted.headers["Location"] == f"{site.base_url}/rest/api/2/task/10000"
    assert (await poll(app_client, submitted)).json()["status"] == "COMPLETE"


async def test_single_deletes_recorded(app_client, site: FakeSite, issues: list[str]):
    user = site.add_user()
    user.properties[KEY] = True
    site.app_properties["com.example.app"] = {"config": 1}

    await app_client.delete(f"/rest/api/3/issue/{issues[1]}/properties/{KEY}")
    await app_client.delete(f"/rest/api/3/issue/{issues[1]}/properties/{KEY}")
    await app_client.delete(
        f"/rest/api/3/user/properties/{KEY}", params={"accountId": user.account_id}
    )
    await app_client.delete("/rest/atlassian-connect/1/addons/com.example.app/properties/config")

    assert site.deletions == [
        ("issue", issues[1], KEY),
        ("user", user.account_id, KEY),
        ("app", "com.example.app", "config"),
    ]
