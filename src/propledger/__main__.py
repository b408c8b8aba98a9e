"""Run the CLI as ``python -m propledger``."""

from propledger.cli import main

main(prog_name="propledger")
