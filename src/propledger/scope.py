"""Key scope and Jira's limits: which property writes and deletes are allowed.

A key scope is the set of property keys an app declares as its own, given as exact
keys and key prefixes. propledger checks every key against it before it writes, scans
or deletes, so nothing outside the app's own data is ever touched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from propledger.errors import OutOfScopeError, PropertyKeyError, PropertyValueError
from propledger.model import EntityType, JSONValue

__all__ = [
    "MAX_APP_PROPERTY_KEY_LENGTH",
    "MAX_PROPERTY_KEY_LENGTH",
    "MAX_PROPERTY_VALUE_LENGTH",
    "KeyScope",
    "serialize_value",
]

MAX_PROPERTY_KEY_LENGTH = 255
"""Jira's maximum length of an entity property key, in characters."""

MAX_APP_PROPERTY_KEY_LENGTH = 127
"""Jira's maximum length of an app property key, in characters."""

MAX_PROPERTY_VALUE_LENGTH = 32768
"""Jira's maximum length of a property value as JSON text, in characters."""


@dataclasses.dataclass(frozen=True, slots=True)
class KeyScope:
    """The property keys an app may write and delete: exact keys and key prefixes."""

    keys: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.keys and not self.prefixes:
            raise ValueError("A key scope needs at least one exact key or key prefix.")
        if any(not prefix for prefix in self.prefixes):
            raise ValueError("A key prefix must not be empty: it would match every key.")

    @classmethod
    def for_app(cls, app_key: str, *, keys: Iterable[str] = ()) -> KeyScope:
        """Return the default scope of an app: every key starting with the app key and a dot."""
        return cls(keys=frozenset(keys), prefixes=(f"{app_key}.",))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False

        return key in self.keys or key.startswith(self.prefixes)

    def describe(self) -> str:
        """Return the scope as text for messages, such as ``prefix 'com.example.'``."""
        parts = [f"prefix {prefix!r}" for prefix in self.prefixes]
        parts += [f"key {key!r}" for key in sorted(self.keys)]

        return ", ".join(parts)

    def check_key(self, entity_type: EntityType, key: str) -> None:
        """Raise :class:`PropertyKeyError` unless ``key`` may be written or deleted."""
        if not key:
            raise PropertyKeyError("The property key is empty. Give a non-empty key.")
        limit = (
            MAX_APP_PROPERTY_KEY_LENGTH
            if entity_type is EntityType.APP
            else MAX_PROPERTY_KEY_LENGTH
        )
        if len(key) > limit:
            raise PropertyKeyError(
                f"The property key {key[:40]!r}... is {len(key)} characters long; "
                f"Jira allows at most {limit} for {entity_type.value} properties."
            )
        if "/" in key:
            raise PropertyKeyError(
                f"The property key {key!r} contains '/', which Jira's REST API cannot read "
                "back. Use another separator, such as '.'."
            )
        if key not in self:
            raise OutOfScopeError(
                f"The property key {key!r} is outside the app's key scope "
                f"({self.describe()}). Rename the key or add it to the scope."
            )


def serialize_value(key: str, value: JSONValue) -> str:
    """Return ``value`` as compact JSON text, or raise :class:`PropertyValueError`.

    Jira rejects an empty value and one longer than 32768 characters. ``None`` and the
    empty string count as empty here, because storing them is almost always a mistake.
    """
    if value is None or value == "":
        raise PropertyValueError(
            f"The value of property {key!r} is empty. Jira needs a non-empty JSON value; "
            "delete the property instead of writing an empty one."
        )
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PropertyValueError(
            f"The value of property {key!r} is not JSON: {exc}. Pass dicts, lists, strings, "
            "numbers and booleans only."
        ) from exc
    if len(text) > MAX_PROPERTY_VALUE_LENGTH:
        raise PropertyValueError(
            f"The value of property {key!r} is {len(text)} characters of JSON; Jira allows "
            f"at most {MAX_PROPERTY_VALUE_LENGTH}. Split it over several properties."
        )

    return text
