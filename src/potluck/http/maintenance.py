"""The maintenance switch: while it is on, every request but the operations pages
(/healthz, /readyz, /metrics) is answered 503 with Retry-After, as problem+json or as an
HTML page for browsers.

On with the MAINTENANCE setting, or while the MAINTENANCE_FILE exists (`potluck maintenance
on|off`), so a running deployment of many instances can be switched without a restart when
they share that file. Each process looks at the file at most once a second.
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask, Response, current_app, request

from potluck.http.errors import error_answer

# Set by the operations front (operations.py) on a request that arrives while the switch is on.
MAINTENANCE_KEY = "potluck.maintenance"
CHECK_INTERVAL_SECONDS = 1.0


class MaintenanceSwitch:
    """On when the setting says so, or while the file exists (looked at once a second)."""

    def __init__(self, forced: bool, path: Path, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self.forced = forced
        self.path = path
        self.interval = interval
        self.state = False
        self.next_check = 0.0

    def is_on(self) -> bool:
        if self.forced:
            return True
        now = time.monotonic()
        if now >= self.next_check:
            self.state = self.path.exists()
            self.next_check = now + self.interval
        return self.state


def flip(path: Path, on: bool) -> None:
    """Turn the file switch on or off, for every instance that shares the file."""
    if on:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    else:
        path.unlink(missing_ok=True)


def _answer_during_maintenance() -> Response | None:
    if not request.environ.get(MAINTENANCE_KEY):
        return None
    seconds = current_app.config["MAINTENANCE_RETRY_SECONDS"]
    response = error_answer(
        503,
        "Potluck is down for maintenance and will be back shortly; "
        "try again after the seconds in Retry-After.",
        headers={"Retry-After": str(seconds)},
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> MaintenanceSwitch:
    # Registered after the request id is set (headers.py), before authentication and limits.
    app.before_request(_answer_during_maintenance)
    return MaintenanceSwitch(app.config["MAINTENANCE"], Path(app.config["MAINTENANCE_FILE"]))
