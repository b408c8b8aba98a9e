"""Long-running commands: ``serve``, ``worker`` and ``fake-jira``."""

from __future__ import annotations

import asyncio
import contextlib

import click

from propledger.cli._common import (
    bind_socket,
    configure_logging,
    load_settings,
    port_option,
    run_async,
)

__all__ = ["fake_jira", "serve", "worker"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@port_option(8000)
@click.option("--no-worker", is_flag=True, help="Do not run a removal worker in-process.")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Serve the lifecycle routes, the admin page and API, and a removal worker.

    Reads PROPLEDGER_APP_KEY, PROPLEDGER_BASE_URL, PROPLEDGER_DATABASE_URL and
    PROPLEDGER_INSTALL_KEYS_URL.
    """
    import uvicorn

    from propledger.ledger import Ledger
    from propledger.web import create_app

    settings = load_settings()
    sock = bind_socket(host, port)
    configure_logging()
    click.echo(f"propledger serves the app {settings.app_key} on http://{host}:{port}", err=True)

    async def run() -> None:
        async with await Ledger.open(settings) as ledger:
            app = create_app(ledger, run_worker=not no_worker)
            # uvicorn's access log would print query strings, which carry JWTs.
            config = uvicorn.Config(app, access_log=False, log_level="info")
            await uvicorn.Server(config).serve(sockets=[sock])

    try:
        run_async(run())
    finally:
        sock.close()


@click.command()
@click.option("--once", is_flag=True, help="Run at most one job, then exit.")
def worker(once: bool) -> None:
    """Run removal jobs from the store until stopped. Reads the same settings as serve."""
    from propledger.ledger import Ledger
    from propledger.removal import Worker

    settings = load_settings()
    configure_logging()

    async def run() -> None:
        async with await Ledger.open(settings) as ledger:
            runner = Worker(ledger)
            if once:
                job = await runner.run_once()
                click.echo(
                    f"Removal {job.id} ended {job.state.value}." if job else "No job to run."
                )
                return
            await runner.run_forever()

    run_async(run())


@click.command("fake-jira")
@port_option(8080)
@click.option("--app-key", default="com.example.app", show_default=True, help="App key to accept.")
@click.option(
    "--issues", default=10, show_default=True, type=click.IntRange(min=0), help="Issues to create."
)
@click.option(
    "--users",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Users to create, the first of them a Jira admin.",
)
def fake_jira(port: int, app_key: str, issues: int, users: int) -> None:
    """Serve FakeJira, a simulated Jira Cloud site, on 127.0.0.1 for manual runs."""
    from propledger.testing import FakeJira
    from propledger.testing import serve as serve_app

    fake = FakeJira(app_key=app_key)
    bind_socket("127.0.0.1", port).close()

    async def run() -> None:
        async with serve_app(fake.app, port=port) as base_url:
            site = fake.add_site(base_url, name="manual")
            for _ in range(issues):
                site.add_issue(project_key="DEMO")
            admin = site.add_user(is_admin=True, display_name="Site admin")
            for index in range(users - 1):
                site.add_user(display_name=f"User {index + 1}")
            _print_manual_steps(base_url, app_key, admin.account_id)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        run_async(run())


def _print_manual_steps(base_url: str, app_key: str, admin: str) -> None:
    click.echo(f"FakeJira serves a site at {base_url} for the app {app_key}.")
    click.echo(f"Site admin account id: {admin}")
    click.echo("Start the app with:")
    click.echo(f"  PROPLEDGER_APP_KEY={app_key} PROPLEDGER_BASE_URL=http://127.0.0.1:8000 \\")
    click.echo(f"  PROPLEDGER_INSTALL_KEYS_URL={base_url}/_fake/install-keys propledger serve")
    click.echo("Install it into this site (a signed installed callback):")
    click.echo(
        f'  curl -X POST {base_url}/_fake/install -d \'{{"appBaseUrl": "http://127.0.0.1:8000"}}\''
    )
    click.echo(f"Get a site admin's context token: curl -X POST {base_url}/_fake/context-token")
    click.echo(
        f"Get the admin page's URL: curl -X POST {base_url}/_fake/iframe-url "
        '-d \'{"appBaseUrl": "http://127.0.0.1:8000"}\''
    )
    click.echo(f"See the site: curl {base_url}/_fake/site. Press Ctrl+C to stop.")
