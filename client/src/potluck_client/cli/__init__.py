"""`potluck-client`: the Potluck API from a terminal or a script."""

from __future__ import annotations

import click

from .. import __version__
from .accounts import login, logout, whoami
from .app import EXIT_CODES_HELP, PotluckGroup, State
from .recipes import recipes
from .transfer import export, import_

__all__ = ["main"]


@click.group(cls=PotluckGroup, epilog=EXIT_CODES_HELP)
@click.option(
    "--url",
    metavar="URL",
    help="The server, e.g. https://potluck.example (default: $POTLUCK_URL, then the URL "
    "stored by login, then http://127.0.0.1:8000).",
)
@click.version_option(__version__, prog_name="potluck-client")
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """Read, write, export and import Potluck recipes.

    Log in once with `potluck-client login`; the credentials are kept in
    $XDG_CONFIG_HOME/potluck/config.json (readable by you alone). POTLUCK_URL and
    POTLUCK_API_KEY override what is stored.
    """
    state = State.load(url)
    ctx.obj = state
    ctx.call_on_close(state.close)


main.add_command(login)
main.add_command(logout)
main.add_command(whoami)
main.add_command(recipes)
main.add_command(export)
main.add_command(import_)
