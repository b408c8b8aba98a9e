from __future__ import annotations

import logging

import httpx

USER_PATH = "/rest/api/3/user/properties/com.example.ledger.state"
RETRY_MESSAGE = "Retrying %s %s after %s (attempt %d of %d) in %.2f seconds"


async def test_retry_warning_record(jira, client, caplog):
    caplog.set_level(logging.DEBUG, logger="propledger.jira")
    jira.get(USER_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(404)]
    )

    await client.request("GET", USER_PATH, params={"accountId": "557058:f0a1"})

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    record = warnings[0]
    assert record.name == "propledger.jira"
    assert record.msg == RETRY_MESSAGE
    assert record.getMessage() == (
        f"Retrying GET {USER_PATH} after status 429 (attempt 1 of 5) in 3.00 seconds"
    )
    extra = {
        name: getattr(record, name)
        for name in ("event", "method", "path", "status", "error", "attempt", "max_attempts")
    }
    assert extra == {
        "event": "jira.retry",
        "method": "GET",
        "path": USER_PATH,
        "status": 429,
        "error": None,
        "attempt": 1,
        "max_attempts": 5,
    }
    assert record.delay == 3.0


async def test_retry_warning_transport_error(jira, client, caplog):
    caplog.set_level(logging.WARNING, logger="propledger.jira")
    jira.get(USER_PATH).mock(side_effect=[httpx.ConnectTimeout, httpx.Response(404)])

    await client.request("GET", USER_PATH)

    [record] = caplog.records
    assert record.getMessage() == (
        f"Retrying GET {USER_PATH} after ConnectTimeout (attempt 1 of 5) in 0.50 seconds"
    )
    assert (record.status, record.error) == (None, "ConnectTimeout")


async def test_debug_line_per_request(jira, client, caplog):
    caplog.set_level(logging.DEBUG, logger="propledger.jira")
    jira.get(USER_PATH).mock(side_effect=[httpx.Response(503), httpx.Response(200)])

    await client.request("GET", USER_PATH, params={"accountId": "557058:f0a1"})

    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug == [f"GET {USER_PATH} returned status 503", f"GET {USER_PATH} returned status 200"]


async def test_logs_hide_secrets(jira, client, caplog, shared_secret):
    caplog.set_level(logging.DEBUG)
    route = jira.put(USER_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(201)]
    )
    params = {"accountId": "557058:f0a1", "jwt": "query-token-sentinel"}

    await client.request("PUT", USER_PATH, params=params, content='{"value-sentinel":1}')

    tokens = [call.request.headers["Authorization"].split()[1] for call in route.calls]
    records = [r for r in caplog.records if r.name.startswith("propledger")]
    texts = [f"{r.getMessage()} {r.__dict__}" for r in records]
    assert len(records) == 3
    for text in texts:
        assert "jwt=" not in text
        assert "query-token-sentinel" not in text
        assert "value-sentinel" not in text
        assert "accountId" not in text
        assert shared_secret not in text
        for token in tokens:
            assert token not in text
