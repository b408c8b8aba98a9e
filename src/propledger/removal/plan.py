"""Removal plans: what a removal would delete, computed without changing anything."""

from __future__ import annotations

import dataclasses

from propledger.model import EntityType, RowState
from propledger.store import Store

__all__ = ["RemovalPlan", "plan_removal"]


@dataclasses.dataclass(frozen=True, slots=True)
class RemovalPlan:
    """The properties a removal of one installation would delete, per entity type.

    A plan is read-only: computing it sends no request to Jira and changes no row.
    """

    client_key: str
    base_url: str
    counts: dict[EntityType, int]

    @property
    def total(self) -> int:
        """The number of properties the removal would delete."""
        return sum(self.counts.values())

    def describe(self) -> str:
        """Return the plan as one sentence, such as ``Would delete 3 properties: ...``."""
        if not self.total:
            return f"Would delete nothing: the inventory of {self.base_url} lists no properties."
        parts = ", ".join(
            f"{count} {entity_type.value}" for entity_type, count in sorted(self.counts.items())
        )

        noun = "property" if self.total == 1 else "properties"

        return f"Would delete {self.total} {noun} from {self.base_url}: {parts}."


async def plan_removal(store: Store, client_key: str) -> RemovalPlan:
    """Return the plan of a removal of this installation's pending and present rows."""
    installation = await store.get_installation(client_key)
    counts = await store.count_inventory(client_key)
    live = {
        entity_type: states.get(RowState.PENDING, 0) + states.get(RowState.PRESENT, 0)
        for entity_type, states in counts.items()
    }

    return RemovalPlan(
        client_key=client_key,
        base_url=installation.base_url,
        counts={entity_type: count for entity_type, count in live.items() if count},
    )
