"""Serve an ASGI app with uvicorn on a loopback address for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.types import ASGIApp

from propledger.testing._limits import DroppedConnection

__all__ = ["serve"]

logger = logging.getLogger("propledger.testing")

STARTUP_TIMEOUT = 10.0
"""Seconds to wait for uvicorn to start before giving up."""


class _Server(uvicorn.Server):
    # The test runner or CLI owns the process's signal handlers; uvicorn must not
    # replace them while it runs in a background task.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _is_not_dropped_on_purpose(record: logging.LogRecord) -> bool:
    # uvicorn logs each exception of the app with its traceback; a connection FakeJira
    # drops on purpose is no error of the app.
    return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def _bind(host: str, port: int) -> socket.socket:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            f"The host {host!r} is not a loopback address. Serve on 127.0.0.1 or ::1 only."
        )
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    # With the protocol named, asyncio sets TCP_NODELAY on accepted connections. Without
    # it, each small response waits about 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise

    return sock


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn in a background task and yield its base URL.

    ``port`` 0 picks a free port. The base URL, such as ``http://127.0.0.1:52731``, is
    yielded once the server accepts connections; leaving the block shuts it down.
    Raise ``ValueError`` for a host that is not a loopback address.
    """
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    error_logger = logging.getLogger("uvicorn.error")
    if _is_not_dropped_on_purpose not in error_logger.filters:
        error_logger.addFilter(_is_not_dropped_on_purpose)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _wait_started(server, task)
        bound_port = sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        logger.info("Serving on %s port %d.", host, bound_port)
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started serving.")
        if loop.time() > deadline:
            raise RuntimeError(f"uvicorn did not start within {STARTUP_TIMEOUT} seconds.")
        await asyncio.sleep(0.01)
