"""login, logout and whoami."""

from __future__ import annotations

import click
from rich.markup import escape

from ..client import Client
from ..config import load_settings, save_settings
from ..errors import PotluckError
from .app import State, json_option, pass_state, print_json, stderr


@click.command()
@click.option("--username", "-u", help="Your username or email address (asked if missing).")
@click.option(
    "--api-key",
    metavar="KEY",
    help="Store this API key instead of logging in with a password (pk_…).",
)
@pass_state
def login(state: State, username: str | None, api_key: str | None) -> None:
    """Log in and remember the credentials for the next commands.

    Asks for your username and password and keeps the token pair (the access token is
    refreshed by itself when it expires), or keeps an API key given with --api-key.
    """
    url = state.settings.url
    stored = load_settings(state.path, environ={})
    stored.url = url
    if api_key:
        with Client(url, api_key=api_key) as client:
            stored.username = client.me().username
        stored.api_key, stored.access_token, stored.refresh_token = api_key, None, None
    else:
        username = username or click.prompt("Username")
        password = click.prompt("Password", hide_input=True)
        with Client(url) as client:
            tokens = client.login(username, password)
            stored.keep_tokens(tokens)
            stored.username = client.me().username
    save_settings(stored, state.path)
    who = escape(stored.username or "")
    stderr.print(f"Logged in to {escape(url)} as [bold]{who}[/bold].", highlight=False)


@click.command()
@pass_state
def logout(state: State) -> None:
    """Forget the stored credentials (and revoke the tokens on the server)."""
    stored = load_settings(state.path, environ={})
    if stored.access_token:
        client = Client(stored.url, token=stored.access_token, refresh_token=stored.refresh_token)
        try:
            with client:
                client.logout()
        except PotluckError as error:  # expired or revoked already: forgetting is enough
            stderr.print(f"The server did not revoke the tokens: {escape(error.detail)}")
    stored.username = stored.api_key = stored.access_token = stored.refresh_token = None
    save_settings(stored, state.path)
    stderr.print("Logged out.")


@click.command()
@json_option
@pass_state
def whoami(state: State, as_json: bool) -> None:
    """Show who you are logged in as."""
    user = state.client(signed_in=True).me()
    if as_json:
        print_json({"id": user.id, "username": user.username, "email": user.email})
    else:
        click.echo(f"{user.username} <{user.email}> on {state.settings.url}")
