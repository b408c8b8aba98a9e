"""propledger: the inventory and removal of a Jira Cloud app's data in customers' sites."""

from importlib.metadata import version

from propledger.errors import (
    AuthenticationError,
    ConfigurationError,
    ConfirmationError,
    InstallationNotFoundError,
    InvalidPayloadError,
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
    SecretKeyError,
    StoreUnavailableError,
)
from propledger.ledger import Ledger
from propledger.model import EntityType, Installation, Outcome, PropertyRef
from propledger.scope import KeyScope
from propledger.settings import Settings
from propledger.tracking import TrackedSite

__version__ = version("propledger")

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConfirmationError",
    "EntityType",
    "Installation",
    "InstallationNotFoundError",
    "InvalidPayloadError",
    "InvalidPropertyError",
    "JiraError",
    "JiraResponseError",
    "JiraTransportError",
    "KeyScope",
    "Ledger",
    "NotAdminError",
    "NotFoundError",
    "OutOfScopeError",
    "Outcome",
    "PropertyKeyError",
    "PropertyRef",
    "PropertyValueError",
    "PropledgerError",
    "RateLimitedError",
    "RemovalNotFoundError",
    "SecretKeyError",
    "Settings",
    "StoreUnavailableError",
    "TrackedSite",
    "__version__",
]
