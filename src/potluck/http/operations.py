"""What operators need from the app: health probes, metrics and the maintenance switch,
and the WSGI front that measures every request, replayed ones included.

The front sits outside the hot-read replay (hot_reads.py) and inside the trusted-proxy
middleware (proxies.py): it sends the operations pages and, while maintenance is on,
every request past the replay to Flask, and times and counts whatever answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from potluck.http import health, maintenance, metrics
from potluck.http.headers import ROUTE_KEY, UNMATCHED_ROUTE
from potluck.http.hot_reads import THROUGH_FLASK
from potluck.http.maintenance import MAINTENANCE_KEY, MaintenanceSwitch

StartResponse = Callable[..., Any]
# Answered while maintenance is on, and never replayed.
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class OperationsFront:
    """WSGI middleware: maintenance routing, and one count and timing per request."""

    def __init__(self, wsgi_app: Any, switch: MaintenanceSwitch) -> None:
        self.wsgi_app = wsgi_app
        self.switch = switch

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        if environ.get("PATH_INFO", "") in OPERATIONS_PATHS:
            environ[THROUGH_FLASK] = True
        elif self.switch.is_on():
            environ[THROUGH_FLASK] = environ[MAINTENANCE_KEY] = True
        answered: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            answered[:] = status, headers
            return start_response(status, headers, *args)

        body = self.wsgi_app(environ, capture)
        if answered:
            status, headers = answered
            cache = ""
            for name, value in headers:
                if name == "Cache-Status":  # as cache.py and hot_reads.py spell it
                    cache = value
                    break
            metrics.record_request(
                environ["REQUEST_METHOD"],
                environ.get(ROUTE_KEY, UNMATCHED_ROUTE),
                int(status[:3]),
                time.perf_counter() - started,
                cache,
            )
        return body  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    """After the request id is set (headers.py) and before the proxies' middleware wraps
    this front (proxies.py), so the client's real address is known here."""
    switch = maintenance.init_app(app)
    app.extensions["potluck.maintenance"] = switch
    health.init_app(app)
    metrics.init_app(app)
    app.wsgi_app = OperationsFront(app.wsgi_app, switch)  # type: ignore[method-assign]
