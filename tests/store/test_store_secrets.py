"""Shared secrets at rest: Fernet encryption, legacy plain-text rows and key rotation."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from propledger.errors import ConfigurationError, SecretKeyError
from propledger.model import Installation
from propledger.store import SecretCodec, Store, generate_secret_key
from propledger.store._schema import installations

OLD_KEY = generate_secret_key()
NEW_KEY = generate_secret_key()


async def raw_secret(store: Store, client_key: str) -> str:
    statement = select(installations.c.shared_secret).where(
        installations.c.client_key == client_key
    )
    async with store._read() as conn:
        return (await conn.execute(statement)).scalar_one()


async def write_raw_secret(store: Store, client_key: str, value: str) -> None:
    statement = (
        update(installations)
        .where(installations.c.client_key == client_key)
        .values(shared_secret=value)
    )
    async with store._write() as conn:
        await conn.execute(statement)


def make(client_key="tenant-a"):
    return Installation(client_key, f"https://{client_key}.jira.test", f"secret-of-{client_key}")


async def test_secret_encrypted_at_rest(database_url):
    async with await Store.open(database_url, secret_keys=[OLD_KEY]) as store:
        await store.save_installation(make())

        stored = await store.get_installation("tenant-a")
        raw = await raw_secret(store, "tenant-a")

    assert stored.shared_secret == "secret-of-tenant-a"
    assert raw.startswith("fernet:")
    assert "secret-of-tenant-a" not in raw


async def test_secret_plain_without_key(database_url):
    async with await Store.open(database_url, secret_keys=[]) as store:
        await store.save_installation(make())

        raw = await raw_secret(store, "tenant-a")

    assert raw == "plain:secret-of-tenant-a"


async def test_legacy_plain_row_reads(database_url):
    async with await Store.open(database_url, secret_keys=[OLD_KEY]) as store:
        await store.save_installation(make())
        await write_raw_secret(store, "tenant-a", "legacy-secret")

        stored = await store.get_installation("tenant-a")

    assert stored.shared_secret == "legacy-secret"


async def test_encrypted_row_without_key(database_url):
    async with await Store.open(database_url, secret_keys=[OLD_KEY]) as store:
        await store.save_installation(make())

    async with await Store.open(database_url, secret_keys=[]) as store:
        with pytest.raises(SecretKeyError) as caught:
            await store.get_installation("tenant-a")

    assert str(caught.value) == (
        "A stored shared secret is encrypted, but no secret key was given. Set "
        "PROPLEDGER_SECRET_KEY (or Settings.secret_keys) to the Fernet keys the store was "
        "encrypted with."
    )


async def test_encrypted_row_wrong_key(database_url):
    async with await Store.open(database_url, secret_keys=[OLD_KEY]) as store:
        await store.save_installation(make())

    async with await Store.open(database_url, secret_keys=[NEW_KEY]) as store:
        with pytest.raises(ConfigurationError, match="cannot be decrypted with any key"):
            await store.get_installation("tenant-a")


async def test_rotate_to_new_key(database_url):
    async with await Store.open(database_url, secret_keys=[]) as store:
        await store.save_installation(make("tenant-plain"))
    async with await Store.open(database_url, secret_keys=[OLD_KEY]) as store:
        await store.save_installation(make("tenant-old"))
        await store.save_installation(make("tenant-legacy"))
        await write_raw_secret(store, "tenant-legacy", "secret-of-tenant-legacy")

    async with await Store.open(database_url, secret_keys=[NEW_KEY, OLD_KEY]) as store:
        rotated = await store.rotate_secrets()
    async with await Store.open(database_url, secret_keys=[NEW_KEY]) as store:
        secrets = {inst.client_key: inst.shared_secret for inst in await store.list_installations()}
        raws = [await raw_secret(store, key) for key in secrets]

    assert rotated == 3
    assert secrets == {
        "tenant-legacy": "secret-of-tenant-legacy",
        "tenant-old": "secret-of-tenant-old",
        "tenant-plain": "secret-of-tenant-plain",
    }
    assert all(raw.startswith("fernet:") for raw in raws)


async def test_rotate_without_key(database_url):
    async with await Store.open(database_url, secret_keys=[]) as store:
        await store.save_installation(make())

        with pytest.raises(ConfigurationError, match="No key to rotate to"):
            await store.rotate_secrets()


async def test_rotate_undecryptable_changes_nothing(database_url):
    async with await Store.open(database_url, secret_keys=[OLD_KEY]) as store:
        await store.save_installation(make("tenant-a"))
        await store.save_installation(make("tenant-b"))
        before = [await raw_secret(store, key) for key in ("tenant-a", "tenant-b")]

    async with await Store.open(database_url, secret_keys=[NEW_KEY]) as store:
        with pytest.raises(ConfigurationError, match="cannot be decrypted"):
            await store.rotate_secrets()
        after = [await raw_secret(store, key) for key in ("tenant-a", "tenant-b")]

    assert after == before


def test_codec_rejects_bad_key():
    with pytest.raises(ConfigurationError) as caught:
        SecretCodec(["not-a-key"])

    assert str(caught.value) == (
        "Key number 1 in PROPLEDGER_SECRET_KEY is not a Fernet key (32 bytes in URL-safe "
        "base64). Generate one with `propledger secrets generate-key`."
    )


def test_codec_from_env_splits_keys():
    codec = SecretCodec.from_env({"PROPLEDGER_SECRET_KEY": f" {NEW_KEY} , {OLD_KEY} "})
    old_value = SecretCodec([OLD_KEY]).encode("s3cr3t")

    assert codec.encrypts
    assert codec.decode(old_value) == "s3cr3t"
    assert not SecretCodec.from_env({}).encrypts


def test_codec_message_has_no_secret():
    value = SecretCodec([OLD_KEY]).encode("s3cr3t")

    with pytest.raises(ConfigurationError) as caught:
        SecretCodec([NEW_KEY]).decode(value)

    assert "s3cr3t" not in str(caught.value)
    assert value not in str(caught.value)
