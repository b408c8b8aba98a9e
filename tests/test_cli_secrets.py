"""The secrets commands: generate a key, and rotate the stored secrets to it."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner
from cryptography.fernet import Fernet

from propledger.cli import main
from propledger.model import Installation
from propledger.store import Store, generate_secret_key


def save(database_url: str, keys: list[str], *installations: Installation) -> None:
    async def run() -> None:
        async with await Store.open(database_url, secret_keys=keys) as store:
            for inst in installations:
                await store.save_installation(inst)

    asyncio.run(run())


def read_secrets(database_url: str, keys: list[str]) -> dict[str, str]:
    async def run() -> dict[str, str]:
        async with await Store.open(database_url, secret_keys=keys) as store:
            return {
                inst.client_key: inst.shared_secret for inst in await store.list_installations()
            }

    return asyncio.run(run())


def test_generate_key_prints_fernet_key():
    result = CliRunner().invoke(main, ["secrets", "generate-key"])

    assert result.exit_code == 0
    Fernet(result.output.strip())


def test_rotate_encrypts_with_first_key(database_url):
    old, new = generate_secret_key(), generate_secret_key()
    save(database_url, [], Installation("tenant-a", "https://a.jira.test", "secret-a"))
    save(database_url, [old], Installation("tenant-b", "https://b.jira.test", "secret-b"))

    result = CliRunner().invoke(
        main,
        ["secrets", "rotate", "--database-url", database_url],
        env={"PROPLEDGER_SECRET_KEY": f"{new},{old}"},
    )

    assert result.exit_code == 0, result.output
    assert result.output == (
        "Re-encrypted the shared secrets of 2 installations with the first key.\n"
    )
    assert read_secrets(database_url, [new]) == {"tenant-a": "secret-a", "tenant-b": "secret-b"}


def test_rotate_without_key_fails(database_url):
    save(database_url, [], Installation("tenant-a", "https://a.jira.test", "secret-a"))

    result = CliRunner().invoke(
        main,
        ["secrets", "rotate", "--database-url", database_url],
        env={"PROPLEDGER_SECRET_KEY": ""},
    )

    assert result.exit_code == 1
    assert "No key to rotate to: PROPLEDGER_SECRET_KEY is not set." in result.output
