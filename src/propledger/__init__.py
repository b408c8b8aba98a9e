"""propledger: the inventory and removal of a Jira Cloud app's data in customers' sites."""

from propledger.errors import (
    AuthenticationError,
    ConfigurationError,
    ConfirmationError,
    InstallationNotFoundError,
    InvalidPropertyError,
    JiraError,
    JiraResponseError,
    JiraTransportError,
    NotAdminError,
    NotFoundError,
    OutOfScopeError,
    PropertyKeyError,
    PropertyValueError,
    PropledgerError,
    RateLimitedError,
    RemovalNotFoundError,
)
from propledger.model import EntityType, Installation, Outcome, PropertyRef
from propledger.scope import KeyScope

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConfirmationError",
    "EntityType",
    "Installation",
    "InstallationNotFoundError",
    "InvalidPropertyError",
    "JiraError",
    "JiraResponseError",
    "JiraTransportError",
    "KeyScope",
    "NotAdminError",
    "NotFoundError",
    "Outcome",
    "OutOfScopeError",
    "PropertyKeyError",
    "PropertyRef",
    "PropertyValueError",
    "PropledgerError",
    "RateLimitedError",
    "RemovalNotFoundError",
]
