"""Prometheus metrics: what the app counts, and the /metrics page (text exposition).

Under `potluck serve` every worker process writes its counts to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode, chosen when the library
is imported), so a scrape answered by any worker sums them all. Requests are labelled by
their URL rule, never the raw path, so the number of series stays bounded.

/metrics answers loopback, the networks of TRUSTED_PROXIES and METRICS_ALLOWED_NETWORKS
(the client's address as proxies.py resolves it), and a bearer of METRICS_TOKEN.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError

from potluck.domain.database import db
from potluck.domain.models import OutboxMail
from potluck.http.errors import problem
from potluck.http.limits import limiter
from potluck.http.maintenance import MaintenanceSwitch

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The instruments, registered once per process (tests create many apps).
registry = CollectorRegistry(auto_describe=True)
# One counter for requests, replays and the server-side cache: every replayed read writes
# to a worker's metrics file, and each write there costs about as much as a count.
REQUESTS = Counter(
    "potluck_http_requests",
    "HTTP requests answered, by method, URL rule, status and how the cache took part: "
    "replay (answered from memory before Flask, hot_reads.py), hit or miss (the server-side "
    "cache, as Cache-Status says) or none.",
    ["method", "route", "status", "cache"],
    registry=registry,
)
LATENCY = Histogram(
    "potluck_http_request_duration_seconds",
    "Time from receiving a request to handing its answer to the server, in seconds.",
    ["method", "route", "status"],
    registry=registry,
)
POOL_CHECKED_OUT = Gauge(
    "potluck_db_pool_checked_out",
    "Database connections in use, summed over the live workers.",
    multiprocess_mode="livesum",
    registry=registry,
)
POOL_SIZE = Gauge(
    "potluck_db_pool_size",
    "Database connections the pools keep, summed over the live workers.",
    multiprocess_mode="livesum",
    registry=registry,
)


def method_label(method: str) -> str:
    return method if method in _METHODS else "other"  # a client can send any word


def cache_label(cache_status: str) -> str:
    if not cache_status:
        return "none"
    if cache_status.endswith("detail=replay"):
        return "replay"
    return "miss" if "fwd=miss" in cache_status else "hit"


# Each series' children, looked up once: labels() costs more than the count itself, on
# replayed reads that take some tens of microseconds in all.
_series: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}


def record_request(method: str, route: str, status: int, seconds: float, cache: str) -> None:
    """Count one answered request; `cache` is its Cache-Status header, or empty."""
    key = (method_label(method), route, status, cache_label(cache))
    series = _series.get(key)
    if series is None:
        series = _series[key] = (
            REQUESTS.labels(key[0], route, str(status), key[3]),
            LATENCY.labels(key[0], route, str(status)),
        )
    series[0].inc()
    series[1].observe(seconds)


def _watch_pool(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    pool: Any = engine.pool

    def measure(*_: Any) -> None:
        if hasattr(pool, "checkedout"):  # a QueuePool; SQLite in memory has none to count
            POOL_CHECKED_OUT.set(pool.checkedout())
            POOL_SIZE.set(pool.size())

    event.listen(engine, "checkout", measure)
    event.listen(engine, "checkin", measure)


class _ScrapeTime(Collector):
    """What is read when scraped: the outbox's unsent mail and the maintenance switch."""

    def __init__(self, switch: MaintenanceSwitch) -> None:
        self.switch = switch

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "potluck_maintenance",
            "1 while the maintenance switch is on.",
            value=self.switch.is_on(),
        )
        try:
            # Cheap: the outbox's index starts with sent_at.
            unsent = db.session.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.sent_at.is_(None))
            )
        except SQLAlchemyError:
            db.session.rollback()
            return  # no figure rather than a wrong one; /readyz says what is wrong
        yield GaugeMetricFamily(
            "potluck_outbox_unsent", "Mails in the outbox not yet delivered.", value=unsent or 0
        )


class _InProcess(Collector):
    def collect(self) -> Iterable[Metric]:
        return registry.collect()


def _forget_dead_workers(directory: str) -> None:
    """Live gauges of workers that died (granian replaces them) no longer count."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's


def _allowed() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and given[:7].lower() == "bearer ":
        return hmac.compare_digest(given[7:].strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    networks: list[Network] = current_app.extensions["potluck.metrics_networks"]
    return address.is_loopback or any(address in network for network in networks)


def metrics() -> Response:
    if not _allowed():
        if current_app.config["METRICS_TOKEN"]:
            return problem(
                401,
                "Metrics need the bearer token set in METRICS_TOKEN.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return problem(
            403,
            "Metrics are shown to loopback and configured networks only "
            "(METRICS_ALLOWED_NETWORKS, TRUSTED_PROXIES), or to a bearer of METRICS_TOKEN.",
        )
    scrape = CollectorRegistry(auto_describe=False)
    if directory := os.environ.get(MULTIPROCESS_DIR):
        _forget_dead_workers(directory)
        multiprocess.MultiProcessCollector(scrape, path=directory)  # type: ignore[no-untyped-call]
    else:
        scrape.register(_InProcess())
    scrape.register(_ScrapeTime(current_app.extensions["potluck.maintenance"]))
    response = Response(generate_latest(scrape), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.extensions["potluck.metrics_networks"] = [
        ipaddress.ip_network(network, strict=False)
        for network in (*app.config["TRUSTED_PROXIES"], *app.config["METRICS_ALLOWED_NETWORKS"])
    ]
    app.add_url_rule("/metrics", "metrics", limiter.exempt(metrics), methods=["GET"])
    _watch_pool(app)
