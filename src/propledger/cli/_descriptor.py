"""The ``propledger descriptor`` command: the Connect descriptor for one deployment."""

from __future__ import annotations

import json
from pathlib import Path

import click

from propledger.errors import PropledgerError

__all__ = ["descriptor"]


@click.command()
@click.option("--base-url", required=True, help="The URL Jira reaches the app at.")
@click.option(
    "--app-key",
    envvar="PROPLEDGER_APP_KEY",
    default=None,
    help="The app key (PROPLEDGER_APP_KEY); defaults to the template's.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A Connect scope beyond READ, WRITE and DELETE; repeat for more.",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path),
    default=None,
    help="The descriptor template to render; defaults to the one shipped with propledger.",
)
def descriptor(
    base_url: str, app_key: str | None, scopes: tuple[str, ...], template: Path | None
) -> None:
    """Print the Connect app descriptor (atlassian-connect.json) as JSON."""
    from propledger.connect import load_descriptor_template, render_descriptor
    from propledger.connect._descriptor import default_template_path

    try:
        rendered = render_descriptor(
            load_descriptor_template(template or default_template_path()),
            base_url=base_url,
            app_key=app_key,
            extra_scopes=scopes,
        )
    except PropledgerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(rendered, indent=2))
