"""serve(): uvicorn on a loopback address for the length of a block."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from propledger.testing import serve


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello from {request.url.port}")


APP = Starlette(routes=[Route("/", hello)])


async def test_serve_responds_then_stops() -> None:
    async with serve(APP) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(base_url + "/")

    assert base_url.startswith("http://127.0.0.1:")
    assert response.text == f"hello from {port}"
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(base_url + "/")


async def test_serve_ipv6_loopback() -> None:
    try:
        context = serve(APP, host="::1")
        base_url = await context.__aenter__()
    except OSError:
        pytest.skip("This machine has no IPv6 loopback interface.")
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(base_url + "/")
    finally:
        await context.__aexit__(None, None, None)

    assert base_url.startswith("http://[::1]:")
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "localhost", "example.test"])
async def test_serve_rejects_non_loopback(host: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"The host '{host}' is not a loopback address")):
        async with serve(APP, host=host):
            pass
