"""Bulk issue-property deletes and task polling: the exact requests and the waits between."""

from __future__ import annotations

import json

import httpx
import pytest

from propledger.errors import ConfigurationError, JiraResponseError
from propledger.jira import (
    TaskPolling,
    TaskStatus,
    bulk_delete_issue_property,
    get_task,
    wait_for_task,
)

KEY = "com.example.ledger.state"
BULK_PATH = f"/rest/api/3/issue/properties/{KEY}"
TASK_PATH = "/rest/api/3/task/10641"


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def task_body(status: str, progress: int = 0) -> dict[str, object]:
    return {
        "self": f"https://acme.jira.test{TASK_PATH}",
        "id": "10641",
        "status": status,
        "progress": progress,
        "submittedBy": 0,
        "elapsedRuntime": 5,
        "submitted": 1,
        "lastUpdate": 2,
    }


def see_other(location: str) -> httpx.Response:
    return httpx.Response(303, headers={"Location": location})


# Submitting


async def test_submit_request(jira, client, base_url):
    route = jira.delete(BULK_PATH).mock(return_value=see_other(f"{base_url}{TASK_PATH}"))

    path = await bulk_delete_issue_property(client, KEY, [10001, 10002])

    assert path == TASK_PATH
    request = route.calls.last.request
    assert request.method == "DELETE"
    assert request.url.raw_path.decode() == BULK_PATH
    assert json.loads(request.content) == {"entityIds": [10001, 10002]}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].startswith("JWT ")


async def test_submit_empty_filter(jira, client):
    route = jira.delete(BULK_PATH).mock(return_value=see_other(TASK_PATH))

    path = await bulk_delete_issue_property(client, KEY, None)

    assert path == TASK_PATH
    assert json.loads(route.calls.last.request.content) == {}


async def test_submit_encodes_key(jira, client):
    encoded = "/rest/api/3/issue/properties/com.example%2Fodd%20key"
    jira.delete(encoded).mock(return_value=see_other(TASK_PATH))

    assert await bulk_delete_issue_property(client, "com.example/odd key", [1]) == TASK_PATH


async def test_submit_400(jira, client):
    jira.delete(BULK_PATH).respond(400, json={"errorMessages": ["Bad filter."], "errors": {}})

    with pytest.raises(JiraResponseError) as caught:
        await bulk_delete_issue_property(client, KEY, [1])

    assert caught.value.status_code == 400
    assert str(caught.value) == (
        f'Jira returned status 400 for DELETE {BULK_PATH} with the error "Bad filter". '
        "Check the ids, property key and body of the request."
    )


async def test_submit_without_location(jira, client):
    jira.delete(BULK_PATH).respond(303)

    with pytest.raises(JiraResponseError) as caught:
        await bulk_delete_issue_property(client, KEY, [1])

    assert str(caught.value) == (
        f"Jira returned 303 for DELETE {BULK_PATH} without a Location header, so the task "
        "cannot be followed. Check that the base URL points at a Jira Cloud site."
    )


@pytest.mark.parametrize(
    "location",
    [
        "https://acme.jira.test/rest/api/3/issue/1",
        "https://acme.jira.test/rest/api/3/task/1/../../issue",
        "https://acme.jira.test/rest/api/3/task/",
    ],
)
async def test_submit_location_without_task(jira, client, location):
    jira.delete(BULK_PATH).mock(return_value=see_other(location))

    with pytest.raises(JiraResponseError) as caught:
        await bulk_delete_issue_property(client, KEY, [1])

    assert str(caught.value) == (
        f"Jira returned 303 for DELETE {BULK_PATH} with a Location that names no task. "
        "Check that the base URL points at a Jira Cloud site."
    )


@pytest.mark.parametrize(
    "location",
    [
        "https://other.jira.test/rest/api/3/task/10042",
        "https://gateway.test/ex/jira/cloud-1/rest/api/3/task/10042",
        "/rest/api/2/task/10042",
    ],
)
async def test_submit_task_polled_on_own_site(jira, client, location):
    jira.delete(BULK_PATH).mock(return_value=see_other(location))

    task_path = await bulk_delete_issue_property(client, KEY, [1])

    assert task_path == "/rest/api/3/task/10042"


async def test_submit_rejects_empty_ids(client):
    with pytest.raises(ConfigurationError) as caught:
        await bulk_delete_issue_property(client, KEY, [])

    assert str(caught.value) == (
        "The list of issue ids is empty. Give at least one id, or None for every issue."
    )


# Polling


async def test_get_task(jira, client):
    jira.get(TASK_PATH).respond(200, json=task_body("RUNNING", 40) | {"message": "Half way"})

    status = await get_task(client, TASK_PATH)

    assert status == TaskStatus(id="10641", status="RUNNING", progress=40, message="Half way")
    assert (status.is_finished, status.is_complete) == (False, False)


async def test_get_task_malformed(jira, client):
    jira.get(TASK_PATH).respond(200, json={"id": "10641"})

    with pytest.raises(JiraResponseError) as caught:
        await get_task(client, TASK_PATH)

    assert str(caught.value) == (
        f'Jira returned status 200 for GET {TASK_PATH} with a body whose "status" member is '
        "missing or malformed. Check that the base URL points at a Jira Cloud site."
    )


async def test_get_task_404(jira, client):
    jira.get(TASK_PATH).respond(404, json={"errorMessages": ["No task."], "errors": {}})

    with pytest.raises(JiraResponseError) as caught:
        await get_task(client, TASK_PATH)

    assert caught.value.status_code == 404


async def test_wait_backs_off(jira, client):
    clock = FakeClock()
    route = jira.get(TASK_PATH).mock(
        side_effect=[
            httpx.Response(200, json=task_body("ENQUEUED")),
            httpx.Response(200, json=task_body("RUNNING", 50)),
            httpx.Response(200, json=task_body("COMPLETE", 100)),
        ]
    )

    status = await wait_for_task(client, TASK_PATH, sleep=clock.sleep, clock=clock)

    assert status == TaskStatus(id="10641", status="COMPLETE", progress=100)
    assert clock.sleeps == [0.2, 0.4, 0.8]
    assert [call.request.method for call in route.calls] == ["GET"] * 3


async def test_wait_delay_capped(jira, client):
    clock = FakeClock()
    jira.get(TASK_PATH).mock(
        side_effect=[httpx.Response(200, json=task_body("RUNNING"))] * 5
        + [httpx.Response(200, json=task_body("FAILED"))]
    )
    polling = TaskPolling(first_delay=1.0, factor=3.0, max_delay=5.0)

    status = await wait_for_task(client, TASK_PATH, polling=polling, sleep=clock.sleep, clock=clock)

    assert status.status == "FAILED"
    assert (status.is_finished, status.is_complete) == (True, False)
    assert clock.sleeps == [1.0, 3.0, 5.0, 5.0, 5.0, 5.0]


async def test_wait_stops_at_deadline(jira, client):
    clock = FakeClock()
    jira.get(TASK_PATH).respond(200, json=task_body("RUNNING"))
    polling = TaskPolling(first_delay=0.5, deadline=2.0)

    status = await wait_for_task(client, TASK_PATH, polling=polling, sleep=clock.sleep, clock=clock)

    assert status.status == "RUNNING"
    assert clock.sleeps == [0.5, 1.0, 0.5]
    assert clock.now == 2.0


def test_polling_rejects_negative_delay():
    with pytest.raises(ConfigurationError) as caught:
        TaskPolling(first_delay=-1.0)

    assert str(caught.value) == (
        "The task polling TaskPolling(first_delay=-1.0, factor=2.0, max_delay=5.0, "
        "deadline=300.0) is invalid. Delays must not be negative, the factor must be at "
        "least 1 and the deadline positive."
    )
