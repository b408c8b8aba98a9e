from __future__ import annotations

import datetime as dt
import json
import random

import httpx
import pytest

from propledger.errors import (
    ConfigurationError,
    JiraError,
    JiraResponseError,
    JiraTransportError,
    RateLimitedError,
)
from propledger.jira import JiraClient, basic_auth, property_keys_request, property_request
from propledger.model import EntityType, PropertyRef, utcnow

ENTITY_IDS = {
    EntityType.ISSUE: "10001",
    EntityType.USER: "557058:f0a1",
    EntityType.PROJECT: "10000",
    EntityType.COMMENT: "20002",
    EntityType.APP: "com.example.ledger",
}
KEY = "com.example.ledger.state"
ISSUE_REF = PropertyRef(EntityType.ISSUE, "10001", KEY)
ISSUE_PATH = f"/rest/api/3/issue/10001/properties/{KEY}"
CHECK_PATH = "/rest/api/3/permissions/check"


def _ref(entity_type):
    return PropertyRef(entity_type, ENTITY_IDS[entity_type], KEY)


def _sent(call):
    """Return what a request sent: method, path, query parameters and body."""
    request = call.request

    return (
        request.method,
        request.url.raw_path.decode().partition("?")[0],
        dict(request.url.params),
        request.content.decode(),
    )


# Requests per entity type and operation


@pytest.mark.parametrize("entity_type", list(EntityType))
async def test_set_property_request(jira, client, entity_type):
    ref = _ref(entity_type)
    path, params = property_request(ref)
    route = jira.put(path).respond(201)

    await client.set_property(ref, '{"done":true}')

    assert _sent(route.calls.last) == ("PUT", path, params, '{"done":true}')
    assert route.calls.last.request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("entity_type", list(EntityType))
async def test_get_property_request(jira, client, entity_type):
    ref = _ref(entity_type)
    path, params = property_request(ref)
    route = jira.get(path).respond(200, json={"key": KEY, "value": {"done": True}})

    value = await client.get_property(ref)

    assert value == {"done": True}
    assert _sent(route.calls.last) == ("GET", path, params, "")


@pytest.mark.parametrize("entity_type", list(EntityType))
async def test_list_keys_request(jira, client, entity_type):
    path, params = property_keys_request(entity_type, ENTITY_IDS[entity_type])
    body = {
        "keys": [
            {"key": "a", "self": f"https://acme.jira.test{path}/a"},
            {"key": "b", "self": f"https://acme.jira.test{path}/b"},
        ]
    }
    route = jira.get(path).respond(200, json=body)

    keys = await client.list_property_keys(entity_type, ENTITY_IDS[entity_type])

    assert keys == ["a", "b"]
    assert _sent(route.calls.last) == ("GET", path, params, "")


@pytest.mark.parametrize("entity_type", list(EntityType))
async def test_delete_property_request(jira, client, entity_type):
    ref = _ref(entity_type)
    path, params = property_request(ref)
    route = jira.delete(path).respond(204)

    status = await client.delete_property(ref)

    assert status == 204
    assert _sent(route.calls.last) == ("DELETE", path, params, "")


async def test_user_request_query(jira, client):
    ref = PropertyRef(EntityType.USER, "557058:a b", KEY)
    route = jira.get(f"/rest/api/3/user/properties/{KEY}").respond(404)

    await client.get_property(ref)

    query = route.calls.last.request.url.query.decode()
    assert query == "accountId=557058%3Aa+b"


async def test_encoded_key_path(jira, client):
    ref = PropertyRef(EntityType.ISSUE, "10001", "a b/c")
    route = jira.delete("/rest/api/3/issue/10001/properties/a%20b%2Fc").respond(204)

    await client.delete_property(ref)

    raw_path = route.calls.last.request.url.raw_path
    assert raw_path == b"/rest/api/3/issue/10001/properties/a%20b%2Fc"


# set_property


async def test_set_property_created(jira, client):
    jira.put(ISSUE_PATH).respond(201)

    assert await client.set_property(ISSUE_REF, "1") is True


async def test_set_property_updated(jira, client):
    jira.put(ISSUE_PATH).respond(200)

    assert await client.set_property(ISSUE_REF, "1") is False


async def test_set_property_400_message(jira, client):
    body = {"errorMessages": ["The property value is not valid JSON."], "errors": {}}
    jira.put(ISSUE_PATH).respond(400, json=body)

    with pytest.raises(JiraResponseError) as caught:
        await client.set_property(ISSUE_REF, '{"secret-value": 42}')

    error = caught.value
    assert str(error) == (
        f"Jira returned status 400 for PUT {ISSUE_PATH} with the error "
        '"The property value is not valid JSON". '
        "Check the ids, property key and body of the request."
    )
    assert (error.status_code, error.method, error.path) == (400, "PUT", ISSUE_PATH)
    assert "secret-value" not in str(error)


async def test_set_property_app_message(jira, client):
    path, _ = property_request(_ref(EntityType.APP))
    jira.put(path).respond(401, json={"statusCode": 401, "message": "Unauthorized"})

    with pytest.raises(JiraResponseError) as caught:
        await client.set_property(_ref(EntityType.APP), "1")

    assert str(caught.value) == (
        f'Jira returned status 401 for PUT {path} with the error "Unauthorized". '
        "Check the app's shared secret, or the operator's email address and API token."
    )


async def test_set_property_error_without_body(jira, client):
    jira.put(ISSUE_PATH).respond(403, text="<html>Forbidden</html>")

    with pytest.raises(JiraResponseError) as caught:
        await client.set_property(ISSUE_REF, "1")

    assert str(caught.value) == (
        f"Jira returned status 403 for PUT {ISSUE_PATH}. "
        "Check that the app's scopes and the user's permissions allow this request."
    )


# get_property and list_property_keys


async def test_get_property_404(jira, client):
    jira.get(ISSUE_PATH).respond(404, json={"errorMessages": ["Issue does not exist"]})

    assert await client.get_property(ISSUE_REF) is None


async def test_get_property_null_value(jira, client):
    jira.get(ISSUE_PATH).respond(200, json={"key": KEY, "value": None})

    assert await client.get_property(ISSUE_REF) is None


async def test_get_property_401(jira, client):
    jira.get(ISSUE_PATH).respond(401)

    with pytest.raises(JiraResponseError) as caught:
        await client.get_property(ISSUE_REF)

    assert caught.value.status_code == 401


async def test_get_property_not_json(jira, client):
    jira.get(ISSUE_PATH).respond(200, text="<html>login</html>")

    with pytest.raises(JiraResponseError) as caught:
        await client.get_property(ISSUE_REF)

    assert str(caught.value) == (
        f"Jira returned status 200 for GET {ISSUE_PATH} with a body that is not a JSON "
        "object. Check that the base URL points at a Jira site."
    )


async def test_get_property_without_value(jira, client):
    jira.get(ISSUE_PATH).respond(200, json={"key": KEY})

    with pytest.raises(JiraResponseError) as caught:
        await client.get_property(ISSUE_REF)

    assert str(caught.value) == (
        f"Jira returned status 200 for GET {ISSUE_PATH} with a body whose "
        '"value" member is missing or malformed. Check that the base URL points at a '
        "Jira Cloud site."
    )


async def test_list_keys_404(jira, client):
    jira.get("/rest/api/3/project/10000/properties").respond(404)

    assert await client.list_property_keys(EntityType.PROJECT, "10000") is None


async def test_list_keys_malformed(jira, client):
    jira.get("/rest/api/3/project/10000/properties").respond(200, json={"keys": [{"k": 1}]})

    with pytest.raises(JiraResponseError) as caught:
        await client.list_property_keys(EntityType.PROJECT, "10000")

    assert '"keys" member is missing or malformed' in str(caught.value)


# delete_property


@pytest.mark.parametrize("status", [204, 400, 401, 403, 404])
async def test_delete_status_returned(jira, client, status):
    jira.delete(ISSUE_PATH).respond(status)

    assert await client.delete_property(ISSUE_REF) == status


async def test_delete_unexpected_status(jira, client):
    jira.delete(ISSUE_PATH).respond(200)

    with pytest.raises(JiraResponseError) as caught:
        await client.delete_property(ISSUE_REF)

    assert str(caught.value) == (
        f"Jira returned status 200 for DELETE {ISSUE_PATH}. "
        "Check the request against Jira's REST API documentation."
    )


async def test_delete_server_error_after_retries(jira, client, sleeps):
    route = jira.delete(ISSUE_PATH).respond(500)

    with pytest.raises(JiraResponseError) as caught:
        await client.delete_property(ISSUE_REF)

    assert route.call_count == 5
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0]
    assert str(caught.value) == (
        f"Jira returned status 500 for DELETE {ISSUE_PATH}. "
        "Jira failed to handle the request. Retry later."
    )


# is_admin


@pytest.mark.parametrize(
    ("granted", "expected"), [(["ADMINISTER"], True), ([], False), (["SYSTEM_ADMIN"], False)]
)
async def test_is_admin(jira, client, granted, expected):
    body = {"globalPermissions": granted, "projectPermissions": []}
    route = jira.post(CHECK_PATH).respond(200, json=body)

    result = await client.is_admin("557058:f0a1")

    assert result is expected
    method, path, params, content = _sent(route.calls.last)
    assert (method, path, params) == ("POST", CHECK_PATH, {})
    assert json.loads(content) == {
        "accountId": "557058:f0a1",
        "globalPermissions": ["ADMINISTER"],
    }


async def test_is_admin_retried(jira, client, sleeps):
    route = jira.post(CHECK_PATH).mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"globalPermissions": []})]
    )

    assert await client.is_admin("557058:f0a1") is False
    assert route.call_count == 2
    assert sleeps.delays == [0.5]


async def test_is_admin_error(jira, client):
    jira.post(CHECK_PATH).respond(403, json={"errorMessages": ["Forbidden."]})

    with pytest.raises(JiraResponseError) as caught:
        await client.is_admin("557058:f0a1")

    assert (caught.value.status_code, caught.value.method) == (403, "POST")


# Retries


async def test_retry_after_honoured(jira, client, sleeps):
    route = jira.get(ISSUE_PATH).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(429, headers={"Retry-After": "45"}),
            httpx.Response(200, json={"key": KEY, "value": 3}),
        ]
    )

    assert await client.get_property(ISSUE_REF) == 3
    assert route.call_count == 3
    assert sleeps.delays == [7.0, 45.0]


async def test_ratelimit_reset_honoured(jira, client, sleeps):
    reset = (utcnow() + dt.timedelta(seconds=10)).isoformat()
    route = jira.get(ISSUE_PATH).mock(
        side_effect=[
            httpx.Response(429, headers={"X-RateLimit-Reset": reset}),
            httpx.Response(404),
        ]
    )

    assert await client.get_property(ISSUE_REF) is None
    assert route.call_count == 2
    assert len(sleeps.delays) == 1
    assert 9.0 < sleeps.delays[0] <= 10.0


async def test_503_retried(jira, client, sleeps):
    route = jira.put(ISSUE_PATH).mock(side_effect=[httpx.Response(503), httpx.Response(201)])

    assert await client.set_property(ISSUE_REF, "1") is True
    assert route.call_count == 2
    assert sleeps.delays == [0.5]


async def test_backoff_bounded(jira, client, sleeps):
    route = jira.get(ISSUE_PATH).mock(side_effect=[httpx.Response(504)] * 4 + [httpx.Response(404)])

    assert await client.get_property(ISSUE_REF) is None
    assert route.call_count == 5
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0]


async def test_backoff_jitter(jira, connect_auth, base_url, sleeps):
    jira.get(ISSUE_PATH).respond(502)
    client = JiraClient(base_url, connect_auth, sleep=sleeps, rng=random.Random(7))

    async with client:
        response = await client.request("GET", ISSUE_PATH)

    assert response.status_code == 502
    ceilings = [0.5, 1.0, 2.0, 4.0]
    assert len(sleeps.delays) == 4
    assert all(0.0 <= d <= c for d, c in zip(sleeps.delays, ceilings, strict=True))
    assert sleeps.delays != ceilings


async def test_retries_exhausted(jira, client, sleeps):
    route = jira.get(ISSUE_PATH).respond(429, headers={"Retry-After": "1"})

    with pytest.raises(RateLimitedError) as caught:
        await client.get_property(ISSUE_REF)

    error = caught.value
    assert str(error) == (
        f"Jira still returned status 429 for GET {ISSUE_PATH} after 5 attempts, "
        "which means it is rate limiting requests or is overloaded. "
        "Wait a few minutes and retry, or lower the request rate."
    )
    assert (error.status_code, error.method, error.path) == (429, "GET", ISSUE_PATH)
    assert route.call_count == 5
    assert sleeps.delays == [1.0, 1.0, 1.0, 1.0]


async def test_server_error_exhausted_returned(jira, client):
    route = jira.get(ISSUE_PATH).respond(500)

    response = await client.request("GET", ISSUE_PATH)

    assert response.status_code == 500
    assert route.call_count == 5


async def test_transport_error(jira, client, sleeps):
    route = jira.get(ISSUE_PATH).mock(side_effect=httpx.ConnectTimeout)

    with pytest.raises(JiraTransportError) as caught:
        await client.get_property(ISSUE_REF)

    assert str(caught.value) == (
        f"GET {ISSUE_PATH} failed after 5 attempts because Jira could not be reached or "
        "did not respond in time (ConnectTimeout). "
        "Check the site's base URL and the network connection, then retry."
    )
    assert isinstance(caught.value.__cause__, httpx.ConnectTimeout)
    assert route.call_count == 5
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0]


async def test_transport_error_recovers(jira, client, sleeps):
    route = jira.delete(ISSUE_PATH).mock(side_effect=[httpx.ReadTimeout, httpx.Response(204)])

    assert await client.delete_property(ISSUE_REF) == 204
    assert route.call_count == 2


async def test_post_not_retried(jira, client, sleeps):
    route = jira.post("/rest/api/3/example").respond(500)

    response = await client.request("POST", "/rest/api/3/example", json={"a": 1})

    assert response.status_code == 500
    assert route.call_count == 1
    assert sleeps.delays == []


async def test_post_retried_when_idempotent(jira, client, sleeps):
    route = jira.post("/rest/api/3/example").mock(
        side_effect=[httpx.Response(500), httpx.Response(200)]
    )

    response = await client.request("POST", "/rest/api/3/example", json={"a": 1}, idempotent=True)

    assert response.status_code == 200
    assert route.call_count == 2
    assert [call.request.content for call in route.calls] == [b'{"a":1}', b'{"a":1}']


async def test_post_429_not_retried(jira, client, sleeps):
    route = jira.post("/rest/api/3/example").respond(429, headers={"Retry-After": "3"})

    with pytest.raises(RateLimitedError) as caught:
        await client.request("POST", "/rest/api/3/example")

    assert "after 1 attempt," in str(caught.value)
    assert route.call_count == 1
    assert sleeps.delays == []


async def test_post_transport_error_not_retried(jira, client, sleeps):
    route = jira.post("/rest/api/3/example").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(JiraTransportError) as caught:
        await client.request("POST", "/rest/api/3/example")

    assert "POST /rest/api/3/example failed after 1 attempt because" in str(caught.value)
    assert route.call_count == 1


async def test_get_not_retried_when_marked(jira, client, sleeps):
    route = jira.get(ISSUE_PATH).respond(503)

    with pytest.raises(RateLimitedError):
        await client.request("GET", ISSUE_PATH, idempotent=False)

    assert route.call_count == 1


async def test_decoding_error(jira, client):
    gzip_header = {"Content-Encoding": "gzip"}
    broken = httpx.Response(200, headers=gzip_header, stream=httpx.ByteStream(b"not gzip"))
    jira.get(ISSUE_PATH).mock(return_value=broken)

    with pytest.raises(JiraError) as caught:
        await client.request("GET", ISSUE_PATH)

    assert str(caught.value) == (
        f"Reading Jira's response to GET {ISSUE_PATH} failed (DecodingError). "
        "Check that the base URL points at a Jira Cloud site."
    )


# Arguments and lifecycle


@pytest.mark.parametrize(
    "path", ["https://evil.test/rest/api/3/x", "//evil.test/x", "rest/api/3/x", "/a?jwt=t"]
)
async def test_request_rejects_path(client, path):
    with pytest.raises(ConfigurationError) as caught:
        await client.request("GET", path)

    assert str(caught.value).endswith(
        "is invalid. Give a path relative to the base URL that starts with a single '/', "
        "and pass query parameters in params."
    )
    assert "jwt=" not in str(caught.value)


async def test_request_rejects_json_and_content(client):
    with pytest.raises(ConfigurationError) as caught:
        await client.request("PUT", ISSUE_PATH, json=1, content="1")

    assert str(caught.value) == (
        f"PUT {ISSUE_PATH} was given both json and content. Give only one of them."
    )


@pytest.mark.parametrize("base_url", ["acme.jira.test", "ftp://acme.jira.test", "https://"])
def test_client_rejects_base_url(base_url):
    with pytest.raises(ConfigurationError) as caught:
        JiraClient(base_url, basic_auth("a@example.com", "t"))

    assert str(caught.value) == (
        f"The Jira base URL {base_url!r} is invalid. "
        "Give an absolute http or https URL, such as https://example.atlassian.net."
    )


async def test_client_base_url(base_url):
    async with JiraClient(base_url + "/", basic_auth("a@example.com", "t")) as client:
        assert client.base_url == base_url


async def test_client_closed_after_context(base_url):
    client = JiraClient(base_url, basic_auth("a@example.com", "t"))
    async with client:
        pass

    with pytest.raises(RuntimeError, match="client has been closed"):
        await client.request("GET", ISSUE_PATH)
