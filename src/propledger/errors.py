"""Exceptions raised by propledger.

Every exception derives from :class:`PropledgerError`, and most also derive from the
built-in that fits, so callers can catch either::

    PropledgerError
    ├── ConfigurationError (ValueError)        invalid settings or arguments
    │   └── SecretKeyError                     stored secrets unreadable with the keys given
    ├── InvalidPropertyError (ValueError)      a write rejected before any request
    │   ├── PropertyKeyError                   key too long, contains "/", or empty
    │   │   └── OutOfScopeError                key outside the app's key scope
    │   └── PropertyValueError                 value empty, not JSON, or too long
    ├── AuthenticationError (PermissionError)  a token is missing, invalid or expired
    ├── NotAdminError (PermissionError)        the caller is not a Jira administrator
    ├── ConfirmationError (ValueError)         a removal was not confirmed as required
    ├── InvalidPayloadError (ValueError)       a request body lacks a field or is not JSON
    ├── StoreUnavailableError (ConnectionError) the database cannot be opened or reached
    ├── NotFoundError (LookupError)
    │   ├── InstallationNotFoundError
    │   └── RemovalNotFoundError
    └── JiraError                              a call to Jira did not succeed
        ├── JiraTransportError (ConnectionError)  no response after every retry
        └── JiraResponseError                  Jira returned an error status
            └── RateLimitedError               429 or 503 after every retry

httpx exceptions are translated into :class:`JiraError` once, in ``propledger.jira``.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConfirmationError",
    "InstallationNotFoundError",
    "InvalidPayloadError",
    "InvalidPropertyError",
    "JiraError",
    "JiraResponseError",
    "JiraTransportError",
    "NotAdminError",
    "NotFoundError",
    "OutOfScopeError",
    "PropertyKeyError",
    "PropertyValueError",
    "PropledgerError",
    "RateLimitedError",
    "RemovalNotFoundError",
    "SecretKeyError",
    "StoreUnavailableError",
]


class PropledgerError(Exception):
    """Base class of every exception propledger raises."""


class ConfigurationError(PropledgerError, ValueError):
    """A setting or argument is invalid."""


class SecretKeyError(ConfigurationError):
    """Stored shared secrets cannot be read with the secret keys given.

    This is the operator's configuration, not the caller's input, so the web service
    returns 503 for it.
    """


class InvalidPropertyError(PropledgerError, ValueError):
    """A property write was rejected before any request was sent."""


class PropertyKeyError(InvalidPropertyError):
    """A property key breaks one of Jira's key rules."""


class OutOfScopeError(PropertyKeyError):
    """A property key lies outside the app's declared key scope."""


class PropertyValueError(InvalidPropertyError):
    """A property value is empty, not JSON, or longer than Jira allows."""


class AuthenticationError(PropledgerError, PermissionError):
    """A token is missing, malformed, expired or signed with the wrong key.

    ``reason`` is a short phrase safe to return to the caller and to log: it never
    contains the token or a secret.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAdminError(PropledgerError, PermissionError):
    """The caller is not a Jira administrator of the site."""


class ConfirmationError(PropledgerError, ValueError):
    """A removal request did not carry the confirmation it needs."""


class InvalidPayloadError(PropledgerError, ValueError):
    """A request body is not JSON, or lacks a field it needs."""


class StoreUnavailableError(PropledgerError, ConnectionError):
    """The inventory database cannot be opened or reached."""


class NotFoundError(PropledgerError, LookupError):
    """Something looked up by id does not exist."""


class InstallationNotFoundError(NotFoundError):
    """No installation is stored under the given client key."""


class RemovalNotFoundError(NotFoundError):
    """No removal job of this installation has the given id."""


class JiraError(PropledgerError):
    """A call to Jira did not succeed."""


class JiraTransportError(JiraError, ConnectionError):
    """Jira could not be reached, or did not respond in time, after every retry."""


class JiraResponseError(JiraError):
    """Jira returned an error status.

    ``status_code``, ``method`` and ``path`` describe the call; the query string is left
    out because a Connect request can carry a token there.
    """

    def __init__(self, message: str, *, status_code: int, method: str, path: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.path = path


class RateLimitedError(JiraResponseError):
    """Jira kept answering 429 or 503 until the retries ran out."""
