"""The public library API: what ``import propledger`` offers is pinned here."""

from __future__ import annotations

import propledger


def test_all_is_pinned():
    assert propledger.__all__ == [
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


def test_all_is_sorted_and_importable():
    assert propledger.__all__ == sorted(propledger.__all__)
    for name in propledger.__all__:
        assert getattr(propledger, name) is not None
