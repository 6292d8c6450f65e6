"""The `potluck` admin command: serve, db (Alembic), setup, seed, users, media, the mail
worker, housekeeping and the maintenance switch."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from potluck.app import create_app
from potluck.app.logs import write_granian_json_config
from potluck.domain.database import db
from potluck.domain.models import User, utcnow
from potluck.domain.transactions import commit
from potluck.http import maintenance as maintenance_switch
from potluck.http.metrics import MULTIPROCESS_DIR
from potluck.http.persistence import migrations_behind
from potluck.services.housekeeping import purge as purge_expired
from potluck.services.media import check_media
from potluck.services.outbox import deliver_all_due, run_sender
from potluck.services.passwords import hash_password
from potluck.services.seed import seed_database


def _app(*args: Any, **kwargs: Any) -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_default_commands=False)
def main() -> None:
    """Potluck administration."""


@main.command()
@click.option("--port", type=int, help="Port to listen on (default: $PORT or 8000).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", type=int, help="Worker processes (default: $WEB_WORKERS or cores).")
@with_appcontext
def serve(port: int | None, host: str, workers: int | None) -> None:
    """Serve the app with granian, the production WSGI server."""
    config = current_app.config
    port = port or config["PORT"]
    workers = workers or config["WEB_WORKERS"]
    base = f"http://{host}:{port}"
    click.echo(f"Potluck is serving on {base}/")
    click.echo(f"  API:  {base}/api/v1/recipes")
    click.echo(f"  docs: {base}/api/v1/docs")
    _warn_unless_migrated()
    metrics_directory = _fresh_metrics_directory(config["INSTANCE_PATH"], port)
    os.environ[MULTIPROCESS_DIR] = str(metrics_directory)
    log_config = []
    if config["LOG_FORMAT"] == "json":
        written = write_granian_json_config(metrics_directory / "granian-logging.json")
        log_config = ["--log-config", str(written)]
    # WEB_THREADS blocking threads per worker (default 4): a login waits for its argon2 hash
    # (services.passwords, at a lower priority) while the worker's other threads serve reads.
    # After SIGTERM, workers finish their requests for up to SHUTDOWN_TIMEOUT_SECONDS.
    os.execv(  # noqa: S606 - replaces this process with the server, arguments are ours
        sys.executable,
        [
            sys.executable,
            "-m",
            "potluck.cli.serving",  # granian, with workers that stop at once while starting
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(config["WEB_THREADS"]),
            "--workers-kill-timeout",
            str(config["SHUTDOWN_TIMEOUT_SECONDS"]),
            "--no-ws",
            "--log-level",
            "info",
            *log_config,
            "--factory",
            "potluck.cli.serving:served_app",
        ],
    )


def _warn_unless_migrated() -> None:
    """Serving starts either way (an orchestrator may run the migrations meanwhile; /readyz
    answers 503 until they ran), but whoever started it by hand learns why requests fail."""
    try:
        behind = migrations_behind()
    except SQLAlchemyError as error:
        click.echo(f"Warning: the database does not answer ({type(error).__name__}).", err=True)
        return
    if behind is not None:
        click.echo(f"Warning: migrations {behind}. /readyz answers 503 until then.", err=True)


def _fresh_metrics_directory(instance_path: str, port: int) -> Path:
    """Where this server's workers keep their Prometheus counts (multiprocess mode): one
    directory per host and port, emptied so a restart starts from zero."""
    given = os.environ.get(MULTIPROCESS_DIR)
    directory = Path(given or Path(instance_path) / "metrics" / f"{socket.gethostname()}-{port}")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


@main.command()
@click.argument("state", type=click.Choice(["on", "off", "status"]), default="status")
@with_appcontext
def maintenance(state: str) -> None:
    """Switch maintenance on or off (every instance that shares MAINTENANCE_FILE answers 503
    within a second), or show whether it is on."""
    path = Path(current_app.config["MAINTENANCE_FILE"])
    if state != "status":
        maintenance_switch.flip(path, state == "on")
    on = current_app.config["MAINTENANCE"] or path.exists()
    forced = " (the MAINTENANCE setting is on)" if current_app.config["MAINTENANCE"] else ""
    click.echo(f"Maintenance is {'on' if on else 'off'}{forced}.")


@main.command()
@with_appcontext
def setup() -> None:
    """Bring the database up to date, and load demo data the first time (development)."""
    upgrade(directory=current_app.config["MIGRATIONS_DIR"])
    if current_app.config["SEED_DEMO_DATA"] and not db.session.scalar(select(func.count(User.id))):
        users, recipes = seed_database(users=4, recipes=50, demo=True)
        click.echo(f"Loaded demo data: {users} users, {recipes} recipes.")
        click.echo("Log in as 'demo' with the password 'potluck-demo'.")


@main.command()
@click.option("--recipes", "recipe_count", type=click.IntRange(0), default=50, show_default=True)
@click.option("--users", "user_count", type=click.IntRange(1), default=5, show_default=True)
@click.option(
    "--drafts", "draft_count", type=click.IntRange(0), default=0, help="Drafts besides them."
)
@click.option("--seed", "random_seed", type=int, default=1, show_default=True)
@with_appcontext
def seed(recipe_count: int, user_count: int, draft_count: int, random_seed: int) -> None:
    """Add generated users and published recipes (their passwords are random), and drafts."""
    users, recipes = seed_database(
        users=user_count, recipes=recipe_count, drafts=draft_count, random_seed=random_seed
    )
    drafts = f", {draft_count} of them drafts" if draft_count else ""
    click.echo(f"Added {users} users and {recipes} recipes{drafts}.")


@main.group()
def user() -> None:
    """Manage accounts."""


@user.command("create")
@click.argument("username")
@click.argument("email")
@click.password_option()
@with_appcontext
def create_user(username: str, email: str, password: str) -> None:
    """Create an active, confirmed account."""
    from potluck.schemas.users import UserCreateSchema

    errors = UserCreateSchema().validate(
        {"username": username, "email": email, "password": password}
    )
    if errors:
        raise click.BadParameter("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
    db.session.add(
        User(
            username=username,
            email=email.lower(),
            password_hash=hash_password(password),
            confirmed_at=utcnow(),
        )
    )
    try:
        commit()
    except Exception as error:
        data = getattr(error, "data", {}) or {}
        raise click.ClickException(data.get("message", str(error))) from None
    click.echo(f"Created user {username}.")


@main.group()
def media() -> None:
    """Manage stored images."""


@media.command("check")
@click.option("--repair", is_flag=True, help="Make the database and the files agree.")
@with_appcontext
def media_check(repair: bool) -> None:
    """Report drift between image rows and files (exit status 1 when found and not repaired)."""
    report = check_media(repair=repair)
    for label, items in (
        ("rows whose files are missing", report.missing_files),
        ("images no cover or avatar uses", report.unreferenced),
        ("files with no row", report.orphan_files),
        ("leftovers of interrupted uploads", report.stale_uploads),
    ):
        click.echo(f"{len(items)} {label}" + (": " + ", ".join(items) if items else ""))
    if report.clean:
        click.echo("Media storage and database agree.")
    elif repair:
        click.echo("Repaired.")
    else:
        raise click.ClickException("Drift found; run `potluck media check --repair` to fix it.")


@main.command()
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@with_appcontext
def purge(dry_run: bool) -> None:
    """Delete expired idempotency keys and revoked tokens, and mail delivered long ago."""
    report = purge_expired(dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {report.idempotency_keys} expired idempotency keys.")
    click.echo(f"{verb} {report.revoked_tokens} revoked tokens past their expiry.")
    days = f"{current_app.config['OUTBOX_KEEP_SENT_DAYS']:g}"
    click.echo(f"{verb} {report.sent_mails} mails delivered more than {days} days ago.")


@main.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@with_appcontext
def worker(once: bool) -> None:
    """Deliver the mail outbox (with retries) until stopped; run one or more per deployment."""
    if once:
        report = deliver_all_due()
        click.echo(f"Sent {report.sent} mails, {report.failed} failed (retried later).")
        return
    stop, wake = threading.Event(), threading.Event()

    def finish(*_: object) -> None:
        stop.set()
        wake.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, finish)
    click.echo("Delivering mail from the outbox; stop with Ctrl-C.", err=True)
    run_sender(current_app._get_current_object(), stop, wake)  # type: ignore[attr-defined]
    click.echo("Stopped.", err=True)
