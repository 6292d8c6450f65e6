"""What every command shares: settings, the client, exit codes, and output for people
(rich tables on a terminal) or for scripts (`--json`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ..client import Client
from ..config import Settings, config_path, load_settings, save_settings
from ..errors import Conflict as ConflictError
from ..errors import (
    ConnectionFailed,
    Forbidden,
    NotFound,
    PotluckError,
    PreconditionFailed,
    ServerError,
    Unauthorized,
)
from ..models import TokenPair

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_UNREACHABLE = 6

EXIT_CODES_HELP = """\b
Exit codes:
  0  done
  1  the server refused or failed (or some items of an import failed)
  2  usage error (a wrong option or argument)
  3  authentication needed or refused: log in (401, 403)
  4  not found (404)
  5  conflict: changed by someone else, or taken (409, 412)
  6  the server could not be reached, or stayed unavailable (503)"""

stderr = Console(stderr=True)


def exit_code(error: PotluckError) -> int:
    """The exit code that stands for an API error."""
    if isinstance(error, Unauthorized | Forbidden):
        return EXIT_AUTH
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, ConflictError | PreconditionFailed):
        return EXIT_CONFLICT
    if isinstance(error, ConnectionFailed) or error.status == 503:
        return EXIT_UNREACHABLE
    return EXIT_API_ERROR


def fail(message: str, code: int) -> NoReturn:
    """Print `message` on stderr and exit with `code`."""
    stderr.print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    raise click.exceptions.Exit(code)


def describe(error: PotluckError) -> str:
    """An API error in one or a few lines for a person."""
    text = error.detail if error.status == 0 else f"{error.detail} ({error.status})"
    for name, messages in (error.problem.get("errors") or {}).items():
        text += f"\n  {name}: {' '.join(str(m) for m in messages)}"
    if isinstance(error, Unauthorized):
        text += "\nLog in with: potluck-client login"
    if isinstance(error, ServerError) and error.status >= 500:
        text += "\nThe server failed; try again later."
    return text


class PotluckGroup(click.Group):
    """A click group that turns an API error into a message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PotluckError as error:
            fail(describe(error), exit_code(error))


@dataclass
class State:
    """The settings and the client of one run of the command."""

    path: Path
    settings: Settings
    _client: Client | None = field(default=None, repr=False)
    _username: str | None = None

    @classmethod
    def load(cls, url: str | None) -> State:
        path = config_path()
        try:
            settings = load_settings(path)
        except ValueError as error:  # json.JSONDecodeError included
            fail(f"{path} is not a config file ({error}); delete it and log in again.", 1)
        if url:
            settings.url = url
        return cls(path, settings, _username=settings.username)

    def _store_tokens(self, tokens: TokenPair) -> None:
        # Saved over what the file holds, so a POTLUCK_API_KEY in the environment is not.
        stored = load_settings(self.path, environ={})
        stored.keep_tokens(tokens)
        save_settings(stored, self.path)

    def client(self, *, signed_in: bool = False) -> Client:
        """The client for this run; `signed_in` commands stop with exit code 3 without
        credentials."""
        if signed_in and not self.settings.signed_in:
            fail("Not logged in: run potluck-client login (or set POTLUCK_API_KEY).", EXIT_AUTH)
        if self._client is None:
            self._client = Client(
                self.settings.url,
                api_key=self.settings.api_key,
                token=None if self.settings.api_key else self.settings.access_token,
                refresh_token=None if self.settings.api_key else self.settings.refresh_token,
                on_tokens=self._store_tokens,
            )
        return self._client

    def username(self) -> str:
        """The signed-in user's name (asked of the server when not stored)."""
        if self._username is None:
            self._username = self.client(signed_in=True).me().username
        return self._username

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def json_option(command: F) -> F:
    """`--json`: print JSON on stdout for scripts instead of tables."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table."
    )(command)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def console() -> Console:
    """The console for tables: stdout, plain when it is not a terminal."""
    return Console(soft_wrap=False, width=None if os.isatty(1) else 120)


pass_state = click.make_pass_decorator(State)
