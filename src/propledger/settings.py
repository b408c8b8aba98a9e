"""Settings of a propledger deployment, read from arguments or environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import httpx

from propledger.errors import ConfigurationError
from propledger.scope import KeyScope

__all__ = [
    "DEFAULT_CONNECT_JS_URL",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_FORGE_API_BASE_URL",
    "DEFAULT_FORGE_JWKS_URL",
    "DEFAULT_INSTALL_KEYS_URL",
    "MAX_BULK_CHUNK_SIZE",
    "Settings",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///propledger.db"
DEFAULT_INSTALL_KEYS_URL = "https://connect-install-keys.atlassian.com"
DEFAULT_CONNECT_JS_URL = "https://connect-cdn.atl-paas.net/all.js"
"""Atlassian's Connect JavaScript API, which the admin page loads to get context tokens."""
DEFAULT_FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
"""The URL of the keys that sign Forge invocation tokens, published by Atlassian."""
DEFAULT_FORGE_API_BASE_URL = "https://api.atlassian.com/ex/jira/{cloudId}"
"""The base URL of a site's REST API for a Forge remote; ``{cloudId}`` names the site."""
MAX_BULK_CHUNK_SIZE = 5000
"""The largest bulk chunk: one ids-only search page, which verifies a chunk in one request."""

# Numeric and boolean settings read from the environment, by field name.
_NUMBER_VARIABLES: dict[str, tuple[str, type[int] | type[float]]] = {
    "removal_concurrency": ("PROPLEDGER_REMOVAL_CONCURRENCY", int),
    "lease_seconds": ("PROPLEDGER_LEASE_SECONDS", float),
    "retry_base_delay": ("PROPLEDGER_RETRY_BASE_DELAY", float),
    "retry_max_attempts": ("PROPLEDGER_RETRY_MAX_ATTEMPTS", int),
    "bulk_chunk_size": ("PROPLEDGER_BULK_CHUNK_SIZE", int),
    "task_deadline": ("PROPLEDGER_TASK_DEADLINE", float),
    "request_rate": ("PROPLEDGER_REQUEST_RATE", float),
    "max_request_rate": ("PROPLEDGER_MAX_REQUEST_RATE", float),
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything propledger needs to know about the app it serves.

    ``app_base_url`` is the app's public base URL: lifecycle tokens must name it as
    their audience, and the qsh of incoming requests is computed relative to it.
    ``secret_keys`` are Fernet keys that encrypt shared secrets at rest, the first one
    for new values; without them secrets are stored as plain text. ``forge_app_id``
    (``ari:cloud:ecosystem::app/...``) turns on the Forge routes: invocation tokens must
    name it as their audience. ``jira_transport`` replaces the network for calls to
    Jira, the install-key server and the Forge key set, so tests can reach an
    in-process FakeJira. ``connect_js_url`` is the script that gives the admin page its
    ``AP`` object; tests point it at a local stand-in.

    Removals delete issue properties in bulk tasks of ``bulk_chunk_size`` issue ids, and
    give up waiting for a task after ``task_deadline`` seconds. ``sweep`` also sends the
    empty-filter bulk delete for each exact key of the key scope, which deletes that key
    from every issue the app can see and edit, inventoried or not. Every request to one
    site shares a pace that starts at ``request_rate`` requests per second and adapts
    to Jira's rate-limit signals up to ``max_request_rate``.
    """

    app_key: str
    app_base_url: str
    database_url: str = DEFAULT_DATABASE_URL
    key_scope: KeyScope | None = None
    install_keys_url: str = DEFAULT_INSTALL_KEYS_URL
    allowed_audiences: tuple[str, ...] = ()
    token_leeway: float = 30.0
    removal_concurrency: int = 8
    lease_seconds: float = 30.0
    retry_base_delay: float = 0.5
    retry_max_attempts: int = 5
    connect_js_url: str = DEFAULT_CONNECT_JS_URL
    secret_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    forge_app_id: str | None = None
    forge_jwks_url: str = DEFAULT_FORGE_JWKS_URL
    forge_api_base_url: str = DEFAULT_FORGE_API_BASE_URL
    bulk_chunk_size: int = 1000
    sweep: bool = False
    task_deadline: float = 300.0
    request_rate: float = 10.0
    max_request_rate: float = 100.0
    jira_transport: httpx.AsyncBaseTransport | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.app_key:
            raise ConfigurationError("The app key is empty. Set PROPLEDGER_APP_KEY.")
        if not self.app_base_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"The app base URL {self.app_base_url!r} is not an http(s) URL. "
                "Set PROPLEDGER_BASE_URL to the URL Jira reaches the app at."
            )
        if not self.connect_js_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"The Connect JavaScript URL {self.connect_js_url!r} is not an http(s) URL. "
                f"Set PROPLEDGER_CONNECT_JS_URL, or leave it unset for {DEFAULT_CONNECT_JS_URL}."
            )
        if self.removal_concurrency < 1:
            raise ConfigurationError(
                f"The removal concurrency {self.removal_concurrency} is below 1. Use 1 or more."
            )
        self._check_removal_settings()
        object.__setattr__(self, "app_base_url", self.app_base_url.rstrip("/"))

    def _check_removal_settings(self) -> None:
        if not 1 <= self.bulk_chunk_size <= MAX_BULK_CHUNK_SIZE:
            raise ConfigurationError(
                f"The bulk chunk size {self.bulk_chunk_size} is outside 1 to "
                f"{MAX_BULK_CHUNK_SIZE}. Set PROPLEDGER_BULK_CHUNK_SIZE within that range."
            )
        positive = {
            "PROPLEDGER_LEASE_SECONDS": self.lease_seconds,
            "PROPLEDGER_TASK_DEADLINE": self.task_deadline,
            "PROPLEDGER_REQUEST_RATE": self.request_rate,
        }
        for variable, value in positive.items():
            if not value > 0:
                raise ConfigurationError(f"{variable} is {value}. Set it to a positive number.")
        if self.max_request_rate < self.request_rate:
            raise ConfigurationError(
                f"The maximum request rate {self.max_request_rate} is below the initial rate "
                f"{self.request_rate}. Raise PROPLEDGER_MAX_REQUEST_RATE."
            )

    @property
    def scope(self) -> KeyScope:
        """The key scope in force: the configured one, or the app key and a dot."""
        return self.key_scope or KeyScope.for_app(self.app_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from ``PROPLEDGER_*`` variables; keyword arguments win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "app_key": env.get("PROPLEDGER_APP_KEY", ""),
            "app_base_url": env.get("PROPLEDGER_BASE_URL", ""),
            "database_url": env.get("PROPLEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            "install_keys_url": env.get("PROPLEDGER_INSTALL_KEYS_URL", DEFAULT_INSTALL_KEYS_URL),
            "connect_js_url": env.get("PROPLEDGER_CONNECT_JS_URL", DEFAULT_CONNECT_JS_URL),
            "secret_keys": tuple(_split(env.get("PROPLEDGER_SECRET_KEY", ""))),
            "forge_app_id": env.get("PROPLEDGER_FORGE_APP_ID") or None,
            "forge_jwks_url": env.get("PROPLEDGER_FORGE_JWKS_URL", DEFAULT_FORGE_JWKS_URL),
            "forge_api_base_url": env.get(
                "PROPLEDGER_FORGE_API_BASE_URL", DEFAULT_FORGE_API_BASE_URL
            ),
        }
        prefixes = _split(env.get("PROPLEDGER_KEY_PREFIXES", ""))
        keys = _split(env.get("PROPLEDGER_KEYS", ""))
        if prefixes or keys:
            # Exact keys add to the default prefix; only PROPLEDGER_KEY_PREFIXES replaces it.
            default_prefix = (f"{values['app_key']}.",) if values["app_key"] else ()
            values["key_scope"] = KeyScope(
                keys=frozenset(keys), prefixes=tuple(prefixes) or default_prefix
            )
        audiences = _split(env.get("PROPLEDGER_ALLOWED_AUDIENCES", ""))
        if audiences:
            values["allowed_audiences"] = tuple(audiences)
        values.update(_numbers(env))
        if "PROPLEDGER_SWEEP" in env:
            values["sweep"] = _flag("PROPLEDGER_SWEEP", env["PROPLEDGER_SWEEP"])
        values.update({name: value for name, value in overrides.items() if value is not None})

        return cls(**values)  # type: ignore[arg-type]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _numbers(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, (variable, kind) in _NUMBER_VARIABLES.items():
        text = env.get(variable, "").strip()
        if not text:
            continue
        try:
            values[name] = kind(text)
        except ValueError:
            expected = "a whole number" if kind is int else "a number"
            raise ConfigurationError(
                f"{variable} is {text!r}, which is not {expected}. Set it to {expected}."
            ) from None

    return values


def _flag(variable: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False

    raise ConfigurationError(f"{variable} is {text!r}. Set it to true or false.")
