"""Settings: removal defaults, the admin page's script, environment variables and checks."""

from __future__ import annotations

import pytest

from propledger.errors import ConfigurationError
from propledger.scope import KeyScope
from propledger.settings import DEFAULT_CONNECT_JS_URL, Settings

BASE = {"PROPLEDGER_APP_KEY": "com.example.app", "PROPLEDGER_BASE_URL": "https://app.test"}


def test_removal_defaults():
    settings = Settings.from_env(BASE)

    assert (
        settings.removal_concurrency,
        settings.lease_seconds,
        settings.bulk_chunk_size,
        settings.sweep,
        settings.task_deadline,
        settings.request_rate,
        settings.max_request_rate,
    ) == (8, 30.0, 1000, False, 300.0, 10.0, 100.0)


def test_removal_from_env():
    env = BASE | {
        "PROPLEDGER_REMOVAL_CONCURRENCY": "3",
        "PROPLEDGER_LEASE_SECONDS": "1.5",
        "PROPLEDGER_RETRY_BASE_DELAY": "0.01",
        "PROPLEDGER_RETRY_MAX_ATTEMPTS": "7",
        "PROPLEDGER_BULK_CHUNK_SIZE": "100",
        "PROPLEDGER_SWEEP": "true",
        "PROPLEDGER_TASK_DEADLINE": "60",
        "PROPLEDGER_REQUEST_RATE": "25",
        "PROPLEDGER_MAX_REQUEST_RATE": "50",
    }

    settings = Settings.from_env(env)

    assert (
        settings.removal_concurrency,
        settings.lease_seconds,
        settings.retry_base_delay,
        settings.retry_max_attempts,
        settings.bulk_chunk_size,
        settings.sweep,
        settings.task_deadline,
        settings.request_rate,
        settings.max_request_rate,
    ) == (3, 1.5, 0.01, 7, 100, True, 60.0, 25.0, 50.0)


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("off", False), (" Yes ", True)])
def test_sweep_flag(text, expected):
    assert Settings.from_env(BASE | {"PROPLEDGER_SWEEP": text}).sweep is expected


def test_override_beats_env():
    settings = Settings.from_env(BASE | {"PROPLEDGER_SWEEP": "false"}, sweep=True)

    assert settings.sweep is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PROPLEDGER_BULK_CHUNK_SIZE": "ten"},
            "PROPLEDGER_BULK_CHUNK_SIZE is 'ten', which is not a whole number. "
            "Set it to a whole number.",
        ),
        (
            {"PROPLEDGER_LEASE_SECONDS": "soon"},
            "PROPLEDGER_LEASE_SECONDS is 'soon', which is not a number. Set it to a number.",
        ),
        (
            {"PROPLEDGER_SWEEP": "maybe"},
            "PROPLEDGER_SWEEP is 'maybe'. Set it to true or false.",
        ),
        (
            {"PROPLEDGER_BULK_CHUNK_SIZE": "5001"},
            "The bulk chunk size 5001 is outside 1 to 5000. "
            "Set PROPLEDGER_BULK_CHUNK_SIZE within that range.",
        ),
        (
            {"PROPLEDGER_BULK_CHUNK_SIZE": "0"},
            "The bulk chunk size 0 is outside 1 to 5000. "
            "Set PROPLEDGER_BULK_CHUNK_SIZE within that range.",
        ),
        (
            {"PROPLEDGER_TASK_DEADLINE": "0"},
            "PROPLEDGER_TASK_DEADLINE is 0.0. Set it to a positive number.",
        ),
        (
            {"PROPLEDGER_LEASE_SECONDS": "-1"},
            "PROPLEDGER_LEASE_SECONDS is -1.0. Set it to a positive number.",
        ),
        (
            {"PROPLEDGER_REQUEST_RATE": "20", "PROPLEDGER_MAX_REQUEST_RATE": "5"},
            "The maximum request rate 5.0 is below the initial rate 20.0. "
            "Raise PROPLEDGER_MAX_REQUEST_RATE.",
        ),
    ],
)
def test_invalid_env(env, message):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(BASE | env)

    assert str(caught.value) == message


def test_connect_js_url_default():
    settings = Settings.from_env(BASE)

    assert settings.connect_js_url == "https://connect-cdn.atl-paas.net/all.js"
    assert settings.connect_js_url == DEFAULT_CONNECT_JS_URL


def test_connect_js_url_from_env():
    env = BASE | {"PROPLEDGER_CONNECT_JS_URL": "http://127.0.0.1:8000/all.js"}

    settings = Settings.from_env(env)

    assert settings.connect_js_url == "http://127.0.0.1:8000/all.js"


def test_connect_js_url_not_http():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(BASE | {"PROPLEDGER_CONNECT_JS_URL": "javascript:alert(1)"})

    assert str(caught.value) == (
        "The Connect JavaScript URL 'javascript:alert(1)' is not an http(s) URL. "
        "Set PROPLEDGER_CONNECT_JS_URL, or leave it unset for "
        "https://connect-cdn.atl-paas.net/all.js."
    )


def test_exact_keys_keep_default_prefix():
    settings = Settings.from_env(BASE | {"PROPLEDGER_KEYS": "legacy.flag, other.key"})

    assert settings.scope == KeyScope(
        keys=frozenset({"legacy.flag", "other.key"}), prefixes=("com.example.app.",)
    )


def test_prefixes_replace_default():
    settings = Settings.from_env(BASE | {"PROPLEDGER_KEY_PREFIXES": "com.vendor."})

    assert settings.scope == KeyScope(prefixes=("com.vendor.",))
