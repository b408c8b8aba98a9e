"""Seed a FakeJira site and the inventory directly, for removals of thousands of properties.

Tracked writes would send one request per property. These tests are about removal, so
the properties go straight into the site and the inventory.
"""

from __future__ import annotations

import dataclasses

from propledger.model import EntityType, Installation, PropertyRef
from propledger.store import Store
from propledger.testing import FakeSite

SHARED_SECRET = "seeded-shared-secret-0123456789abcdef-0123456789"


@dataclasses.dataclass(frozen=True)
class Seed:
    """How many properties to put into a site: issue properties per key, users, app."""

    issues: int
    issue_keys: tuple[str, ...]
    users: int
    user_key: str
    app_properties: int
    app_key_prefix: str

    @property
    def total(self) -> int:
        return self.issues * len(self.issue_keys) + self.users + self.app_properties


def seed_site(site: FakeSite, seed: Seed) -> list[PropertyRef]:
    """Create the issues and users, store their properties, and return every property."""
    refs: list[PropertyRef] = []
    for _ in range(seed.issues):
        issue = site.add_issue(project_key="SEED")
        for key in seed.issue_keys:
            issue.properties[key] = {"seeded": True}
            refs.append(PropertyRef(EntityType.ISSUE, issue.id, key))
    for _ in range(seed.users):
        user = site.add_user()
        user.properties[seed.user_key] = {"seeded": True}
        refs.append(PropertyRef(EntityType.USER, user.account_id, seed.user_key))
    app_values = site.app_properties.setdefault(site.app_key, {})
    for index in range(seed.app_properties):
        key = f"{seed.app_key_prefix}{index}"
        app_values[key] = {"seeded": True}
        refs.append(PropertyRef(EntityType.APP, site.app_key, key))

    return refs


async def install_directly(store: Store, site: FakeSite) -> Installation:
    """Store the installation of ``site`` without the signed lifecycle."""
    site.shared_secret = SHARED_SECRET
    installation = Installation(
        client_key=site.client_key, base_url=site.base_url, shared_secret=SHARED_SECRET
    )
    await store.save_installation(installation)

    return installation


async def record_inventory(store: Store, client_key: str, refs: list[PropertyRef]) -> None:
    for ref in refs:
        await store.record_found(client_key, ref, value_sha256=None, value_size=None)
