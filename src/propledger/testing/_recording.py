"""A transport that records the path of every request it forwards."""

from __future__ import annotations

import httpx

__all__ = ["RecordingTransport"]


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards each request to ``inner`` and appends its URL path to ``paths``.

    FakeJira's own request log leaves out its ``/_fake/`` helper routes, such as the
    install-key server; this shows every request the app sent, those included.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)

        return await self.inner.handle_async_request(request)
