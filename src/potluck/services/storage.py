"""Where image files live: one small interface, and its local-filesystem implementation.

A shared volume is the same class on a mounted directory; an object store implements the
same five methods. Names are content-addressed, so a file is never changed once written.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.[a-z0-9]{2,5}$")
_TEMP_PREFIX = ".upload-"
STALE_TEMP_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class StoredFile:
    name: str
    size: int
    modified: datetime


class MediaStorage(Protocol):
    """What the app needs from a place that keeps image files."""

    def save(self, name: str, data: bytes) -> bool:
        """Store `data` as `name` atomically; False when a file of that name already exists."""

    def open(self, name: str) -> BinaryIO:
        """The file for reading; FileNotFoundError when there is none."""

    def stat(self, name: str) -> StoredFile | None: ...

    def delete(self, name: str) -> None:
        """Remove the file; no error when it is already gone."""

    def names(self) -> Iterator[str]:
        """Every stored file name (never a half-written one)."""

    def stale_uploads(self, *, remove: bool) -> list[str]:
        """Leftovers of uploads interrupted by a crash (deleted with `remove`)."""


def _checked(name: str) -> str:
    # Names come from our own hashes, but a path trick must never reach the filesystem.
    if not _SAFE_NAME.match(name):
        raise ValueError(f"not a media file name: {name!r}")
    return name


class LocalMediaStorage:
    """Files in one directory; writes go to a temporary name first, then are linked in place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return self.root / _checked(name)

    def save(self, name: str, data: bytes) -> bool:
        target = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX)
        try:
            # Images are public, and scaled out nginx's workers read them straight from
            # here: readable by all, where mkstemp makes files only their owner may read.
            os.fchmod(handle, 0o644)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            # link() fails if the name exists, so two uploads of one image never clash.
            os.link(temporary, target)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def stat(self, name: str) -> StoredFile | None:
        try:
            status = self._path(name).stat()
        except FileNotFoundError:
            return None
        modified = datetime.fromtimestamp(int(status.st_mtime), UTC)
        return StoredFile(name, status.st_size, modified)

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for entry in os.scandir(self.root):
            if entry.is_file() and not entry.name.startswith(_TEMP_PREFIX):
                yield entry.name

    def stale_uploads(self, *, remove: bool) -> list[str]:
        if not self.root.is_dir():
            return []
        cutoff = time.time() - STALE_TEMP_SECONDS
        stale = []
        for entry in os.scandir(self.root):
            if entry.name.startswith(_TEMP_PREFIX) and entry.stat().st_mtime < cutoff:
                stale.append(entry.name)
                if remove:
                    os.unlink(entry.path)
        return stale


def media_storage() -> MediaStorage:
    storage: MediaStorage = current_app.extensions["potluck.media"]
    return storage


def init_app(app: Flask) -> None:
    app.extensions["potluck.media"] = LocalMediaStorage(app.config["MEDIA_ROOT"])
