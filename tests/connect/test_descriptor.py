"""The Connect descriptor: rendered by the CLI and valid against Connect's schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from propledger.cli import main
from propledger.connect import load_descriptor_template, render_descriptor
from propledger.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "manifests" / "atlassian-connect.json"
BASE_URL = "https://propledger.example.test"


@pytest.fixture
def schema(reference_dir: Path) -> dict:
    schema = json.loads((reference_dir / "connect-descriptor.schema.json").read_text())
    # The schema ships with atlassian-connect-express 7.4.1, which predates the
    # signed-install and context-qsh migrations: its apiMigrations allows only gdpr and
    # no other property. Exactly those two booleans are added to that one node; the rest
    # of the schema is used unchanged.
    patched = copy.deepcopy(schema)
    migrations = patched["properties"]["apiMigrations"]["properties"]
    assert set(migrations) == {"gdpr"}
    migrations["signed-install"] = {"type": "boolean"}
    migrations["context-qsh"] = {"type": "boolean"}

    return patched


def run_cli(*args: str):
    return CliRunner().invoke(
        main, ["descriptor", "--base-url", BASE_URL, "--template", str(TEMPLATE), *args]
    )


def test_descriptor_cli_validates(schema):
    result = run_cli()

    assert result.exit_code == 0, result.output
    descriptor = json.loads(result.output)
    jsonschema.Draft4Validator(schema).validate(descriptor)
    assert descriptor["baseUrl"] == BASE_URL
    assert descriptor["key"] == "com.example.app"
    assert descriptor["authentication"] == {"type": "jwt"}
    assert descriptor["apiMigrations"] == {
        "gdpr": True,
        "signed-install": True,
        "context-qsh": True,
    }
    assert descriptor["lifecycle"] == {
        "installed": "/installed",
        "uninstalled": "/uninstalled",
        "enabled": "/enabled",
        "disabled": "/disabled",
    }
    assert descriptor["scopes"] == ["READ", "WRITE", "DELETE"]
    assert descriptor["modules"]["adminPages"][0]["url"] == "/admin/data"


def test_descriptor_fails_unpatched_schema(reference_dir):
    # Shows why the schema is patched: the migrations are all it rejects.
    schema = json.loads((reference_dir / "connect-descriptor.schema.json").read_text())
    descriptor = render_descriptor(load_descriptor_template(TEMPLATE), base_url=BASE_URL)

    errors = list(jsonschema.Draft4Validator(schema).iter_errors(descriptor))

    assert [list(error.path) for error in errors] == [["apiMigrations"]]
    del descriptor["apiMigrations"]["signed-install"], descriptor["apiMigrations"]["context-qsh"]
    jsonschema.Draft4Validator(schema).validate(descriptor)


def test_descriptor_extra_scope_and_key(schema):
    result = run_cli("--app-key", "com.vendor.tracker", "--scope", "act_as_user", "--scope", "READ")

    descriptor = json.loads(result.output)
    jsonschema.Draft4Validator(schema).validate(descriptor)
    assert descriptor["key"] == "com.vendor.tracker"
    assert descriptor["scopes"] == ["READ", "WRITE", "DELETE", "ACT_AS_USER"]


def test_descriptor_unknown_scope():
    result = run_cli("--scope", "EVERYTHING")

    assert result.exit_code == 1
    assert "The scope 'EVERYTHING' is not a Connect scope." in result.output


def test_descriptor_missing_template(tmp_path):
    result = CliRunner().invoke(
        main,
        ["descriptor", "--base-url", BASE_URL, "--template", str(tmp_path / "missing.json")],
    )

    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_render_rejects_bad_base_url():
    with pytest.raises(ConfigurationError, match="is not an http\\(s\\) URL"):
        render_descriptor({}, base_url="ftp://app.example.test")


def test_render_keeps_template_unchanged():
    template = load_descriptor_template(TEMPLATE)
    before = copy.deepcopy(template)

    render_descriptor(template, base_url=BASE_URL, extra_scopes=["ADMIN"])

    assert template == before


def test_cli_outside_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPLEDGER_APP_KEY", "com.vendor.tool")

    result = CliRunner().invoke(main, ["descriptor", "--base-url", "https://app.example.com"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["key"] == "com.vendor.tool"


def test_cli_invalid_app_key():
    result = CliRunner().invoke(
        main, ["descriptor", "--base-url", "https://app.example.com", "--app-key", "bad key!"]
    )

    assert result.exit_code == 1
    assert result.output == (
        "Error: The app key 'bad key!' is invalid. Connect app keys have at most 80 letters, "
        "digits, dots, dashes and underscores, such as com.example.app.\n"
    )
