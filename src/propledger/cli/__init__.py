"""The propledger command line: thin shells over the library.

Each command parses its options, calls the library and prints the result. Commands
live in modules by concern and are registered here.
"""

from __future__ import annotations

import logging

import click

from propledger.cli._common import configure_logging
from propledger.cli._demo import demo
from propledger.cli._descriptor import descriptor
from propledger.cli._inventory import inventory
from propledger.cli._rebuild import rebuild
from propledger.cli._removal import removal
from propledger.cli._secrets import secrets
from propledger.cli._serve import fake_jira, serve, worker

__all__ = ["main"]


@click.group()
@click.version_option(package_name="propledger")
@click.option("-v", "--verbose", count=True, help="Log INFO (-v) or DEBUG (-vv) to stderr.")
def main(verbose: int) -> None:
    """Inventory and remove the properties a Jira Cloud app stores in customers' sites."""
    if verbose:
        configure_logging(logging.DEBUG if verbose > 1 else logging.INFO)


main.add_command(demo)
main.add_command(serve)
main.add_command(worker)
main.add_command(fake_jira)
main.add_command(inventory)
main.add_command(removal)
main.add_command(rebuild)
main.add_command(secrets)
main.add_command(descriptor)
