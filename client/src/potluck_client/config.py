"""The command line's settings: server URL and credentials, in a file only you can read,
with `POTLUCK_URL` and `POTLUCK_API_KEY` taking precedence."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .models import TokenPair

DEFAULT_URL = "http://127.0.0.1:8000"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/potluck/config.json, or ~/.config/potluck/config.json.

    Example:
        >>> config_path({"XDG_CONFIG_HOME": "/tmp/conf"})
        PosixPath('/tmp/conf/potluck/config.json')
    """
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "potluck" / "config.json"


@dataclass
class Settings:
    """What `login` stores: where the server is, and one kind of credentials."""

    url: str = DEFAULT_URL
    username: str | None = None
    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None

    @property
    def signed_in(self) -> bool:
        """Whether credentials are there. Example: ``Settings(api_key="pk_…").signed_in``"""
        return bool(self.api_key or self.access_token)

    def keep_tokens(self, tokens: TokenPair) -> None:
        """Keep a new token pair in place of other credentials.

        Example:
            >>> settings.keep_tokens(client.login("sam", "a long passphrase"))
        """
        self.api_key = None
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """The stored settings, with the environment's overrides applied.

    Example:
        >>> load_settings(config_path()).url
        'http://127.0.0.1:8000'
    """
    environ = os.environ if environ is None else environ
    stored: dict[str, object] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    known = {field.name for field in fields(Settings)}
    settings = Settings(**{k: v for k, v in stored.items() if k in known})  # type: ignore[arg-type]
    if environ.get("POTLUCK_URL"):
        settings.url = environ["POTLUCK_URL"]
    if environ.get("POTLUCK_API_KEY"):
        settings.api_key = environ["POTLUCK_API_KEY"]
        settings.access_token = settings.refresh_token = None
    return settings


def save_settings(settings: Settings, path: Path) -> None:
    """Write the settings atomically, readable by you alone (0600, in a 0700 folder).

    Example:
        >>> save_settings(Settings(url="https://potluck.example", api_key="pk_…"), config_path())
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created 0600 by mkstemp, so the secrets are never readable by others, not even briefly.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(asdict(settings), out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
