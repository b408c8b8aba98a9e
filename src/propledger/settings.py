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
    "Settings",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///propledger.db"
DEFAULT_INSTALL_KEYS_URL = "https://connect-install-keys.atlassian.com"
DEFAULT_CONNECT_JS_URL = "https://connect-cdn.atl-paas.net/all.js"
"""Atlassian's Connect JavaScript API, which the admin page loads to get context tokens."""
DEFAULT_FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
"""Where Atlassian publishes the keys that sign Forge invocation tokens."""
DEFAULT_FORGE_API_BASE_URL = "https://api.atlassian.com/ex/jira/{cloudId}"
"""The base URL of a site's REST API for a Forge remote; ``{cloudId}`` names the site."""


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
        object.__setattr__(self, "app_base_url", self.app_base_url.rstrip("/"))

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
            values["key_scope"] = KeyScope(keys=frozenset(keys), prefixes=tuple(prefixes))
        audiences = _split(env.get("PROPLEDGER_ALLOWED_AUDIENCES", ""))
        if audiences:
            values["allowed_audiences"] = tuple(audiences)
        values.update({name: value for name, value in overrides.items() if value is not None})

        return cls(**values)  # type: ignore[arg-type]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
