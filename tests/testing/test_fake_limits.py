"""FakeJira's rate limiter and fault injection."""

from __future__ import annotations

import collections
import datetime as dt
import time

import httpx
import pytest

from propledger.testing import DroppedConnection, FakeJira, FakeSite, Faults, RateLimit, serve

KEY = "com.example.app.flag"


class ManualClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def error(message: str) -> dict[str, object]:
    return {"errorMessages": [message], "errors": {}}


@pytest.fixture
def issue_path(site: FakeSite) -> str:
    issue = site.add_issue()
    issue.properties[KEY] = 1

    return f"/rest/api/3/issue/{issue.id}/properties"


# Rate limit


async def test_burst_then_429(app_client, site: FakeSite, issue_path: str):
    clock = ManualClock()
    site.rate_limit = RateLimit(requests_per_second=2.0, burst=5, clock=clock)

    answered = [await app_client.get(issue_path) for _ in range(5)]
    limited = await app_client.get(issue_path)

    assert [response.status_code for response in answered] == [200] * 5
    assert [response.headers["X-RateLimit-Remaining"] for response in answered] == [
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    assert {response.headers["X-RateLimit-Limit"] for response in answered} == {"5"}
    # Jira sends NearLimit when less than 20 % of the budget is left: below 1 of 5.
    assert [response.headers.get("X-RateLimit-NearLimit") for response in answered] == [
        None,
        None,
        None,
        None,
        "true",
    ]
    assert limited.status_code == 429
    assert limited.json() == error("Rate limit exceeded.")
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["RateLimit-Reason"] == "jira-quota-based"
    reset = dt.datetime.fromisoformat(limited.headers["X-RateLimit-Reset"])
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)
    assert abs((reset - expected).total_seconds()) < 2


async def test_bucket_refills(app_client, site: FakeSite, issue_path: str):
    clock = ManualClock()
    site.rate_limit = RateLimit(requests_per_second=2.0, burst=2, clock=clock)
    for _ in range(2):
        await app_client.get(issue_path)

    limited = await app_client.get(issue_path)
    clock.now += 0.5
    answered = await app_client.get(issue_path)
    limited_again = await app_client.get(issue_path)

    assert [limited.status_code, answered.status_code, limited_again.status_code] == [429, 200, 429]


async def test_rate_limit_logged(app_client, fake: FakeJira, site: FakeSite, issue_path: str):
    site.rate_limit = RateLimit(requests_per_second=1.0, burst=1, clock=ManualClock())

    await app_client.get(issue_path)
    await app_client.get(issue_path)

    assert [entry.status for entry in fake.request_log] == [200, 429]


def test_rate_limit_rejects_zero():
    with pytest.raises(ValueError, match="Give a positive rate and a burst of at least 1"):
        RateLimit(requests_per_second=0.0, burst=5)


def test_bucket_wait():
    clock = ManualClock()
    bucket = RateLimit(requests_per_second=10.0, burst=1, clock=clock)

    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.1)
    clock.now += 0.04
    assert bucket.take() == pytest.approx(0.06)


# Faults


def test_fault_shares_seeded():
    faults = Faults(
        internal_errors=0.1, unavailable=0.1, rate_limited=0.1, dropped_connections=0.1, seed=7
    )
    again = Faults(
        internal_errors=0.1, unavailable=0.1, rate_limited=0.1, dropped_connections=0.1, seed=7
    )

    drawn = [faults.draw() for _ in range(2000)]

    assert drawn == [again.draw() for _ in range(2000)]
    counts = collections.Counter(drawn)
    for kind in ("500", "503", "429", "drop"):
        assert 150 < counts[kind] < 250, kind
    assert faults.injected == {kind: counts[kind] for kind in ("500", "503", "429", "drop")}


def test_fault_shares_over_one():
    with pytest.raises(ValueError, match="must be non-negative and sum to 1 at most"):
        Faults(internal_errors=0.6, rate_limited=0.6)


@pytest.mark.parametrize(
    ("share", "status"),
    [("internal_errors", 500), ("unavailable", 503)],
)
async def test_server_errors_injected(app_client, site: FakeSite, issue_path, share, status):
    site.faults = Faults(**{share: 1.0})

    response = await app_client.get(issue_path)

    assert response.status_code == status
    assert response.json() == error("FakeJira injected this server error.")


async def test_429_injected(app_client, site: FakeSite, issue_path: str):
    site.faults = Faults(rate_limited=1.0, retry_after=3)

    response = await app_client.get(issue_path)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in response.headers


async def test_drop_in_process(app_client, fake: FakeJira, site: FakeSite, issue_path: str):
    site.faults = Faults(dropped_connections=1.0)

    with pytest.raises(DroppedConnection) as caught:
        await app_client.delete(f"{issue_path}/{KEY}")

    assert isinstance(caught.value, httpx.RemoteProtocolError)
    # The request was handled before the connection dropped.
    assert site.deletions == [("issue", next(iter(site.issues)), KEY)]
    assert [entry.status for entry in fake.request_log] == [0]


async def test_drop_under_uvicorn():
    fake = FakeJira()
    async with serve(fake.app) as url:
        site = fake.add_site(url)
        user = site.add_user(is_admin=True)
        site.add_api_token("admin@example.com", "token", user.account_id)
        site.faults = Faults(dropped_connections=1.0)
        async with httpx.AsyncClient(base_url=url, auth=("admin@example.com", "token")) as client:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await client.get("/rest/api/3/myself")

    assert not isinstance(caught.value, DroppedConnection)
    assert [entry.status for entry in fake.request_log] == [0]


async def test_latency(app_client, site: FakeSite, issue_path: str):
    site.faults = Faults(latency=0.05)

    started = time.perf_counter()
    response = await app_client.get(issue_path)

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.05
