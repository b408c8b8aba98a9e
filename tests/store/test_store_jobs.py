"""Removal jobs: creation under races, lookups, states and leases."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re

import pytest

from propledger.errors import ConfigurationError, RemovalNotFoundError
from propledger.model import JobState, RemovalJob

ADMIN = "5b10a2844c20165700ede21g"


async def test_create_job_new(store):
    before = dt.datetime.now(dt.UTC)

    job, created = await store.create_job("tenant-a", ADMIN)

    assert created is True
    assert re.fullmatch(r"[0-9a-f]{32}", job.id)
    assert job == RemovalJob(
        id=job.id,
        client_key="tenant-a",
        requested_by=ADMIN,
        state=JobState.QUEUED,
        created_at=job.created_at,
    )
    assert before <= job.created_at <= dt.datetime.now(dt.UTC)
    assert await store.get_job(job.id) == job


async def test_create_job_returns_active(store):
    first, _ = await store.create_job("tenant-a", ADMIN)
    await store.set_job_state(first.id, JobState.RUNNING)

    job, created = await store.create_job("tenant-a", "another-admin")

    assert created is False
    assert job == await store.get_job(first.id)


async def test_create_job_after_completed(store):
    first, _ = await store.create_job("tenant-a", ADMIN)
    await store.set_job_state(first.id, JobState.COMPLETED_WITH_ISSUES)

    job, created = await store.create_job("tenant-a", ADMIN)

    assert created is True
    assert job.id != first.id
    assert job.state is JobState.QUEUED


async def test_create_job_per_installation(store):
    job_a, created_a = await store.create_job("tenant-a", ADMIN)
    job_b, created_b = await store.create_job("tenant-b", ADMIN)

    assert created_a is True
    assert created_b is True
    assert job_a.id != job_b.id


async def test_create_job_race(store, second_store):
    calls = [(store, second_store)[n % 2].create_job("tenant-a", ADMIN) for n in range(20)]

    results = await asyncio.gather(*calls)

    assert len({job.id for job, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert (await store.latest_job("tenant-a")).id == results[0][0].id


async def test_create_job_logs(store, caplog):
    caplog.set_level(logging.INFO, logger="propledger.store")

    job, _ = await store.create_job("tenant-a", ADMIN)

    assert [record.getMessage() for record in caplog.records] == [
        f"Created removal job {job.id} for tenant-a, requested by {ADMIN}"
    ]


async def test_get_job_missing(store):
    with pytest.raises(RemovalNotFoundError) as caught:
        await store.get_job("0123456789abcdef0123456789abcdef")

    assert str(caught.value) == (
        "No removal job '0123456789abcdef0123456789abcdef' was found. "
        "Check the job id, or start a new removal."
    )


async def test_get_job_other_installation(store):
    job, _ = await store.create_job("tenant-a", ADMIN)

    with pytest.raises(RemovalNotFoundError) as caught:
        await store.get_job(job.id, client_key="tenant-b")

    assert str(caught.value) == (
        f"No removal job {job.id!r} was found for this installation. "
        "Check the job id, or start a new removal."
    )


async def test_get_job_own_installation(store):
    job, _ = await store.create_job("tenant-a", ADMIN)

    assert await store.get_job(job.id, client_key="tenant-a") == job


async def test_latest_job(store):
    assert await store.latest_job("tenant-a") is None
    first, _ = await store.create_job("tenant-a", ADMIN)
    await store.set_job_state(first.id, JobState.COMPLETED)
    second, _ = await store.create_job("tenant-a", ADMIN)
    await store.create_job("tenant-b", ADMIN)

    latest = await store.latest_job("tenant-a")

    assert latest == second


async def test_set_job_state_running(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    before = dt.datetime.now(dt.UTC)

    running = await store.set_job_state(job.id, JobState.RUNNING)

    assert running == dataclasses.replace(
        job, state=JobState.RUNNING, started_at=running.started_at
    )
    assert before <= running.started_at <= dt.datetime.now(dt.UTC)


async def test_set_job_state_running_twice(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    first = await store.set_job_state(job.id, JobState.RUNNING)
    await store.set_job_state(job.id, JobState.QUEUED)

    again = await store.set_job_state(job.id, JobState.RUNNING)

    assert again.started_at == first.started_at


@pytest.mark.parametrize("state", [JobState.COMPLETED, JobState.COMPLETED_WITH_ISSUES])
async def test_set_job_state_finished(store, state):
    job, _ = await store.create_job("tenant-a", ADMIN)
    running = await store.set_job_state(job.id, JobState.RUNNING)

    finished = await store.set_job_state(job.id, state)

    assert finished == dataclasses.replace(running, state=state, finished_at=finished.finished_at)
    assert finished.finished_at >= running.started_at
    assert await store.get_job(job.id) == finished


async def test_set_job_state_missing(store):
    with pytest.raises(RemovalNotFoundError, match="No removal job 'nope' was found"):
        await store.set_job_state("nope", JobState.RUNNING)


async def test_claim_job_oldest(store):
    old, _ = await store.create_job("tenant-a", ADMIN)
    new, _ = await store.create_job("tenant-b", ADMIN)
    before = dt.datetime.now(dt.UTC)

    first = await store.claim_job("worker-1", lease_seconds=60)
    second = await store.claim_job("worker-2", lease_seconds=60)
    third = await store.claim_job("worker-3", lease_seconds=60)

    assert first == dataclasses.replace(
        old, lease_owner="worker-1", lease_expires_at=first.lease_expires_at
    )
    assert first.lease_expires_at >= before + dt.timedelta(seconds=60)
    assert (second.id, second.lease_owner) == (new.id, "worker-2")
    assert third is None


async def test_claim_job_none_active(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    await store.set_job_state(job.id, JobState.COMPLETED)

    assert await store.claim_job("worker-1", lease_seconds=60) is None
    assert await store.claim_job("worker-1", lease_seconds=60, job_id=job.id) is None


async def test_claim_job_by_id(store):
    await store.create_job("tenant-a", ADMIN)
    target, _ = await store.create_job("tenant-b", ADMIN)

    claimed = await store.claim_job("worker-1", lease_seconds=60, job_id=target.id)

    assert claimed.id == target.id
    assert claimed.lease_owner == "worker-1"
    assert await store.claim_job("worker-2", lease_seconds=60, job_id=target.id) is None
    assert await store.claim_job("worker-2", lease_seconds=60, job_id="missing") is None


async def test_claim_job_same_owner_again(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    first = await store.claim_job("worker-1", lease_seconds=60, job_id=job.id)

    again = await store.claim_job("worker-1", lease_seconds=120, job_id=job.id)

    assert again.lease_owner == "worker-1"
    assert again.lease_expires_at > first.lease_expires_at


async def test_claim_job_exclusive(store, second_store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    claims = [
        (store, second_store)[n % 2].claim_job(f"worker-{n}", lease_seconds=60, job_id=job.id)
        for n in range(10)
    ]

    results = await asyncio.gather(*claims)

    winners = [claimed for claimed in results if claimed is not None]
    assert len(winners) == 1
    assert (await store.get_job(job.id)).lease_owner == winners[0].lease_owner


async def test_claim_job_after_expiry(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    await store.claim_job("worker-1", lease_seconds=0.05)
    await asyncio.sleep(0.1)

    takeover = await store.claim_job("worker-2", lease_seconds=60)

    assert takeover.id == job.id
    assert takeover.lease_owner == "worker-2"
    assert await store.renew_lease(job.id, "worker-1", lease_seconds=60) is False
    assert await store.renew_lease(job.id, "worker-2", lease_seconds=60) is True


async def test_renew_lease(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    claimed = await store.claim_job("worker-1", lease_seconds=10)

    renewed = await store.renew_lease(job.id, "worker-1", lease_seconds=600)

    assert renewed is True
    stored = await store.get_job(job.id)
    assert stored.lease_owner == "worker-1"
    assert stored.lease_expires_at > claimed.lease_expires_at + dt.timedelta(seconds=500)


async def test_renew_lease_lost_logs(store, caplog):
    job, _ = await store.create_job("tenant-a", ADMIN)
    await store.claim_job("worker-2", lease_seconds=60)
    caplog.set_level(logging.WARNING, logger="propledger.store")

    renewed = await store.renew_lease(job.id, "worker-1", lease_seconds=60)

    assert renewed is False
    assert [record.getMessage() for record in caplog.records] == [
        f"Worker worker-1 lost the lease of removal job {job.id}"
    ]


async def test_release_lease(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    await store.claim_job("worker-1", lease_seconds=60)

    await store.release_lease(job.id, "worker-1")
    released = await store.get_job(job.id)
    takeover = await store.claim_job("worker-2", lease_seconds=60)

    assert released.lease_owner is None
    assert released.lease_expires_at is None
    assert takeover.lease_owner == "worker-2"


async def test_release_lease_other_owner(store):
    job, _ = await store.create_job("tenant-a", ADMIN)
    claimed = await store.claim_job("worker-1", lease_seconds=60)

    await store.release_lease(job.id, "worker-2")

    assert await store.get_job(job.id) == claimed


@pytest.mark.parametrize("lease_seconds", [0, -1.5])
async def test_claim_job_lease_invalid(store, lease_seconds):
    with pytest.raises(ConfigurationError) as caught:
        await store.claim_job("worker-1", lease_seconds=lease_seconds)

    assert str(caught.value) == f"lease_seconds must be positive, got {lease_seconds}."
