"""The ``propledger demo`` command."""

from __future__ import annotations

import json
import sys

import click

from propledger.cli._common import run_async

__all__ = ["demo"]

count = click.IntRange(min=0)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line of results to stdout.")
@click.option("--issues", default=200, show_default=True, type=count, help="Issue properties.")
@click.option("--users", default=20, show_default=True, type=count, help="User properties.")
@click.option("--app-properties", default=3, show_default=True, type=count, help="App properties.")
def demo(as_json: bool, issues: int, users: int, app_properties: int) -> None:
    """Run the whole story against FakeJira on 127.0.0.1: install, write, remove.

    Exits 1 when the removal leaves any of the app's properties in the site. With
    --json the progress lines go to stderr and stdout contains only the JSON line.
    """
    from propledger.demo import run_demo

    def report(line: str) -> None:
        click.echo(line, err=as_json)

    result = run_async(
        run_demo(issues=issues, users=users, app_properties=app_properties, report=report)
    )
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        for name, value in result.items():
            click.echo(f"{name}: {value}")
    if result["properties_remaining_in_site"] or result["removal_state"] != "completed":
        sys.exit(1)
