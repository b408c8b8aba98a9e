"""The whole demo at DEBUG on every logger leaves no secret, JWT or value in the log."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from propledger.demo import DEMO_APP_KEY, run_demo
from propledger.store import generate_secret_key
from propledger.testing import FakeJira

LOGGERS = [
    "",
    "propledger",
    "httpx",
    "httpcore",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "aiosqlite",
    "asyncio",
]
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted with its arguments."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def written_values(fake: FakeJira) -> list[str]:
    texts = set()
    for entry in fake.request_log:
        if entry.method == "PUT" and entry.body is not None:
            texts.add(json.dumps(entry.body))
            texts.add(json.dumps(entry.body, separators=(",", ":")))

    return sorted(texts)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-store", "encrypted-store"])
async def test_demo_log_has_no_secrets(debug_log, tmp_path, monkeypatch, encrypted):
    if encrypted:
        monkeypatch.setenv("PROPLEDGER_SECRET_KEY", generate_secret_key())
    fake = FakeJira(app_key=DEMO_APP_KEY)
    demo_logger = logging.getLogger("propledger.demo")

    result = await run_demo(
        issues=6,
        users=3,
        app_properties=2,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        report=demo_logger.info,
        fake=fake,
    )

    log = debug_log.getvalue()
    values = written_values(fake)
    assert result["removal_state"] == "completed"
    # The scan must have something to find, or it proves nothing.
    assert len(log.splitlines()) > 500
    assert "SELECT" in log
    assert "HTTP Request: PUT" in log
    assert fake.issued_secrets
    assert len(fake.minted_tokens) == 2
    assert len(fake.received_credentials) >= result["requests_sent"]
    assert len(values) == 6
    for secret in fake.issued_secrets:
        assert secret not in log
    for token in {*fake.minted_tokens, *fake.received_credentials}:
        assert token not in log
    for value in values:
        assert value not in log
    assert JWT_SHAPE.findall(log) == []
