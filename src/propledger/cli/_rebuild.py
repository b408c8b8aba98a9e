"""The ``propledger rebuild`` command: scan a site and reconcile an installation's inventory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from propledger.cli._common import database_option, run_async
from propledger.model import EntityType

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from propledger.scan import RebuildSummary, ScanOptions

__all__ = ["rebuild"]

SCANNABLE = ("issue", "user", "project", "app")


def _entity_types(text: str | None, operator: bool) -> tuple[EntityType, ...]:
    if text is None:
        names = [name for name in SCANNABLE if not (operator and name == "app")]
    else:
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCANNABLE]
    if unknown or not names:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing'} is not a scannable entity type. "
            f"Give a comma-separated list of: {', '.join(SCANNABLE)}.",
            param_hint="--entity-types",
        )
    if operator and "app" in names:
        raise click.BadParameter(
            "App properties can be read only by the app itself, not with an API token. "
            "Leave out 'app', or rebuild without --site to scan as the app.",
            param_hint="--entity-types",
        )

    return tuple(EntityType(name) for name in dict.fromkeys(names))


def _api_token(site: str | None, email: str | None, token_env: str | None) -> str | None:
    given = [value is not None for value in (site, email, token_env)]
    if not any(given):
        return None
    if not all(given):
        raise click.UsageError(
            "The operator mode needs --site, --email and --token-env together. "
            "Give all three, or none to scan as the app."
        )
    token = os.environ.get(token_env or "", "")
    if not token:
        raise click.UsageError(
            f"The environment variable {token_env} is empty or not set. "
            "Export the operator's Atlassian API token in it."
        )

    return token


class _ProgressBars:
    """Rich progress bars on stderr, one per entity type, fed by the scan's progress.

    The bars appear with the first progress report, so an error before the scan
    starts prints nothing but the error.
    """

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._tasks: dict[EntityType, TaskID] = {}

    def __call__(self, entity_type: EntityType, done: int, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import Progress

        if self._progress is None:
            self._progress = Progress(console=Console(stderr=True))
            self._progress.start()
        task = self._tasks.get(entity_type)
        if task is None:
            task = self._progress.add_task(f"{entity_type.value} properties", total=total)
            self._tasks[entity_type] = task
        self._progress.update(task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _print_table(summary: RebuildSummary) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    title = f"Inventory rebuild of {summary.client_key}"
    if summary.dry_run:
        title += " (dry run: nothing was written)"
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    fields = list(summary.total.as_dict())
    table.add_column("type")
    for field in fields:
        table.add_column(field, justify="right")
    for entity_type, counts in summary.counts.items():
        table.add_row(entity_type.value, *(str(value) for value in counts.as_dict().values()))
    table.add_section()
    table.add_row("total", *(str(value) for value in summary.total.as_dict().values()))
    console = Console()
    console.print(title, soft_wrap=True, markup=False, highlight=False)
    console.print(table)


async def _run(
    client_key: str,
    database_url: str,
    options: ScanOptions,
    operator: tuple[str, str, str] | None,
    dry_run: bool,
) -> RebuildSummary:
    from propledger.jira import JiraClient, basic_auth
    from propledger.ledger import Ledger
    from propledger.scan import rebuild_inventory
    from propledger.settings import Settings

    settings = Settings.from_env(database_url=database_url)
    async with await Ledger.open(settings) as ledger:
        installation = await ledger.store.get_installation(client_key)
        if operator is None:
            client = await ledger.jira_client(installation)
        else:
            site, email, token = operator
            client = JiraClient(site, basic_auth(email, token), retry=ledger.retry_policy())
        progress = _ProgressBars()
        try:
            return await rebuild_inventory(
                ledger.store,
                client,
                installation,
                settings.scope,
                app_key=settings.app_key,
                options=options,
                dry_run=dry_run,
                progress=progress,
            )
        finally:
            progress.close()
            if operator is not None:
                await client.aclose()


@click.command()
@click.option("--installation", "client_key", required=True, help="The installation's clientKey.")
@click.option(
    "--entity-types",
    help="Comma-separated entity types to scan: issue, user, project, app. "
    "Default: all of them, or all but app with an API token.",
)
@click.option(
    "--accounts-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A text file of account ids, one per line, whose user properties are scanned too.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change, and write nothing.")
@click.option("--site", help="Operator mode: the site's base URL, scanned with an API token.")
@click.option("--email", help="Operator mode: the email address of the API token's owner.")
@click.option(
    "--token-env", help="Operator mode: the environment variable that contains the API token."
)
@click.option("--concurrency", default=8, show_default=True, help="Requests in flight at once.")
@click.option("--max-rate", type=float, help="Entity requests started per second at most.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
@database_option
def rebuild(
    client_key: str,
    entity_types: str | None,
    accounts_file: Path | None,
    dry_run: bool,
    site: str | None,
    email: str | None,
    token_env: str | None,
    concurrency: int,
    max_rate: float | None,
    as_json: bool,
    database_url: str,
) -> None:
    """Rebuild an installation's inventory by scanning its site, then reconciling.

    Scans as the app with the installation's shared secret, or as an operator with
    an API token (--site, --email, --token-env). Reads PROPLEDGER_APP_KEY,
    PROPLEDGER_BASE_URL and the key scope like serve.
    """
    from propledger.errors import PropledgerError
    from propledger.scan import ScanOptions, read_account_ids

    token = _api_token(site, email, token_env)
    operator = (site or "", email or "", token) if token is not None else None
    try:
        options = ScanOptions(
            entity_types=_entity_types(entity_types, operator is not None),
            account_ids=tuple(read_account_ids(accounts_file)) if accounts_file else (),
            search_users=operator is not None,
            concurrency=concurrency,
            max_requests_per_second=max_rate,
        )
    except PropledgerError as exc:
        raise click.UsageError(str(exc)) from exc
    summary = run_async(_run(client_key, database_url, options, operator, dry_run))
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        _print_table(summary)
