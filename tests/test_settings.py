"""Settings: the Connect JavaScript URL of the admin page."""

from __future__ import annotations

import pytest

from propledger.errors import ConfigurationError
from propledger.settings import DEFAULT_CONNECT_JS_URL, Settings

ENV = {"PROPLEDGER_APP_KEY": "com.example.app", "PROPLEDGER_BASE_URL": "https://app.example.test"}


def test_connect_js_url_default():
    settings = Settings.from_env(ENV)

    assert settings.connect_js_url == "https://connect-cdn.atl-paas.net/all.js"
    assert settings.connect_js_url == DEFAULT_CONNECT_JS_URL


def test_connect_js_url_from_env():
    env = ENV | {"PROPLEDGER_CONNECT_JS_URL": "http://127.0.0.1:8000/all.js"}

    settings = Settings.from_env(env)

    assert settings.connect_js_url == "http://127.0.0.1:8000/all.js"


def test_connect_js_url_not_http():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(ENV | {"PROPLEDGER_CONNECT_JS_URL": "javascript:alert(1)"})

    assert str(caught.value) == (
        "The Connect JavaScript URL 'javascript:alert(1)' is not an http(s) URL. "
        "Set PROPLEDGER_CONNECT_JS_URL, or leave it unset for "
        "https://connect-cdn.atl-paas.net/all.js."
    )
