"""The soak's figures: statuses, latency and throughput by kind (as the load generator and
as nginx saw them), over time and while the machine was quiet, RSS per worker over time (first
minute against last), where the cores went. bench/soak_results.py writes them out."""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from soak_traffic import Traffic

CORES_NOTE = (
    "Other processes: anyone else's work on this shared machine; interrupts, steal: the "
    "kernel's interrupt handling (loopback networking among it) and time the hypervisor "
    "gave to other machines."
)
RESULTS = Path(__file__).resolve().parent / "results"
P99_TARGET_MS = 100
BUCKET_SECONDS = 10
# A worker's RSS is flat when its last minute is within this much of its first.
FLAT_MIB, FLAT_SHARE = 8.0, 0.05
# The first minute fills the caches from cold (every recipe, page and search asked for the
# first time since the instances started).
WARM_UP_SECONDS = 60
# Other people's work on a shared machine moves the tail: the soak also reports the latency
# of the intervals in which everything else used less than this.
QUIET_CORES = 0.25
# Slow by design, and under 1 % of the requests: argon2id at the production cost, and an
# image decoded, resized twice and encoded.
SLOW_BY_DESIGN = ("login: API token", "login: web form (POST)", "upload cover")
# The access-log format of deploy/nginx/nginx.conf.template, with the soak's User-Agent.
_EDGE_LINE = re.compile(
    r'"[^"]*" (?P<status>\d{3}) \d+ (?P<seconds>[\d.]+) \S+ \S+ id=\S+ '
    r'"potluck-soak \((?P<kind>.*)\)"$'
)


def edge_lines(access_log: Path, offset: int) -> list[tuple[str, int, float]]:
    """(kind, status, milliseconds) of each soak request in nginx's log since `offset`."""
    found = []
    with access_log.open("rb") as log:
        log.seek(offset)
        for raw in log:
            match = _EDGE_LINE.search(raw.decode(errors="replace").rstrip())
            if match:
                found.append((match["kind"], int(match["status"]), float(match["seconds"]) * 1e3))
    return found


def percentile(values: list[float], share: float) -> float:
    """Nearest rank."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))], 2)


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(values, 0.5),
        "p99_ms": percentile(values, 0.99),
        "max_ms": round(max(values, default=0.0), 2),
    }


def _statuses(codes: list[int]) -> dict[str, int]:
    return {str(code): count for code, count in sorted(Counter(codes).items())}


def by_kind(samples: list[tuple[float, str, int, float]], wall: float) -> dict[str, Any]:
    grouped: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for _, kind, status, ms in samples:
        grouped[kind].append((status, ms))
    return {
        kind: {
            "requests": len(answers),
            "per_second": round(len(answers) / wall, 2),
            **_latency([ms for _, ms in answers]),
            "statuses": _statuses([status for status, _ in answers]),
        }
        for kind, answers in sorted(grouped.items(), key=lambda item: -len(item[1]))
    }


def edge_by_kind(lines: list[tuple[str, int, float]]) -> dict[str, Any]:
    grouped: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for kind, status, ms in lines:
        grouped[kind].append((status, ms))
    return {
        kind: {
            "requests": len(answers),
            **_latency([ms for _, ms in answers]),
            "statuses": _statuses([status for status, _ in answers]),
        }
        for kind, answers in grouped.items()
    }


def timeline(samples: list[tuple[float, str, int, float]], wall: float) -> list[dict[str, Any]]:
    buckets: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for elapsed, _, status, ms in samples:
        buckets[int(elapsed // BUCKET_SECONDS)].append((status, ms))
    rows = []
    for index in range(int(wall // BUCKET_SECONDS) + 1):
        answers = buckets.get(index, [])
        span = min(BUCKET_SECONDS, wall - index * BUCKET_SECONDS)
        if span < 1:
            continue
        rows.append(
            {
                "t": index * BUCKET_SECONDS,
                "requests_per_s": round(len(answers) / span, 1),
                "p50_ms": percentile([ms for _, ms in answers], 0.5),
                "p99_ms": percentile([ms for _, ms in answers], 0.99),
                "5xx": sum(1 for status, _ in answers if status >= 500),
            }
        )
    return rows


def _slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return round(60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread, 2)


def memory(rss: dict[str, list[tuple[float, float]]], wall: float) -> dict[str, Any]:
    """Per worker: the mean of its first and of its last minute, and the trend (least
    squares) after the first minute, which is warm-up."""
    summary = {}
    for worker, points in rss.items():
        first = [v for t, v in points if t < 60] or [points[0][1]]
        last = [v for t, v in points if t >= wall - 60] or [points[-1][1]]
        first_mib, last_mib = sum(first) / len(first), sum(last) / len(last)
        growth = last_mib - first_mib
        summary[worker] = {
            "first_minute_mib": round(first_mib, 1),
            "last_minute_mib": round(last_mib, 1),
            "growth_mib": round(growth, 1),
            "trend_mib_per_minute": _slope_per_minute([(t, v) for t, v in points if t >= 60]),
            "peak_mib": max(v for _, v in points),
            "flat": growth <= max(FLAT_MIB, FLAT_SHARE * first_mib),
            "samples": points,
        }
    return summary


def _quiet_spans(cores: list[dict[str, float]]) -> list[tuple[float, float]]:
    """The sampling intervals in which the rest of the machine used under QUIET_CORES."""
    spans, start = [], 0.0
    for row in cores:
        if row["other processes"] < QUIET_CORES:
            spans.append((start, row["t"]))
        start = row["t"]
    return spans


def _within(elapsed: float, spans: list[tuple[float, float]]) -> bool:
    return any(start <= elapsed < end for start, end in spans)


def summarize(
    now: datetime, settings: dict[str, Any], traffic: Traffic, measured: dict[str, Any]
) -> dict[str, Any]:
    wall = measured["wall_seconds"]
    samples = traffic.samples
    statuses = [status for _, _, status, _ in samples]
    every = [ms for _, _, _, ms in samples]
    usual = [ms for _, kind, _, ms in samples if kind not in SLOW_BY_DESIGN]
    warm = [ms for elapsed, _, _, ms in samples if elapsed >= WARM_UP_SECONDS]
    quiet_spans = _quiet_spans(measured["cores_timeline"])
    quiet = [
        ms
        for elapsed, _, _, ms in samples
        if elapsed >= WARM_UP_SECONDS and _within(elapsed, quiet_spans)
    ]
    edge = measured["edge"]
    setup_failures = [s for s in traffic.setup_samples if not 200 <= s[2] < 400]
    return {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "settings": settings,
        "overall": {
            "requests": len(samples),
            "per_second": round(len(samples) / wall, 1),
            "wall_seconds": round(wall, 1),
            "5xx": sum(1 for status in statuses if status >= 500),
            "4xx": sum(1 for status in statuses if 400 <= status < 500),
            "transport_errors": dict(traffic.transport_errors),
            "statuses": _statuses(statuses),
            **_latency(every),
            "p99_target_ms": P99_TARGET_MS,
            "without_logins_and_uploads": _latency(usual),
            "after_warm_up": _latency(warm),
            "while_machine_quiet": {
                **_latency(quiet),
                "share_of_requests": round(len(quiet) / max(1, len(samples)), 3),
            },
            "edge": {
                "requests": len(edge),
                "5xx": sum(1 for _, status, _ in edge if status >= 500),
                **_latency([ms for _, _, ms in edge]),
            },
        },
        "by_kind": by_kind(samples, wall),
        "edge_by_kind": edge_by_kind(edge),
        "timeline": timeline(samples, wall),
        "memory": memory(measured["rss"], wall),
        "cpu_cores": measured["cpu_cores"],
        "cores_timeline": measured["cores_timeline"],
        "load_average": {k: round(v, 2) for k, v in measured["load_average"].items()},
        "load_generator": {
            "send_lag_p99_ms": percentile([lag * 1e3 for lag in traffic.lag], 0.99),
            "sampler_wake_lag_max_ms": round(max(measured["sampler_wake_lag_ms"], default=0), 1),
            "dropped_actions": traffic.dropped,
            "reads_asked_again_after_goaway": traffic.goaway_retries,
            "setup_failures": len(setup_failures),
        },
    }


def stem(now: datetime, seconds: int) -> Path:
    name = os.environ.get("SOAK_NAME") or "soak-" + now.strftime("%Y-%m-%d")
    if "SOAK_NAME" not in os.environ and seconds < 600:
        name += "-smoke"
    path = RESULTS / name
    if path.with_suffix(".md").exists():
        path = RESULTS / f"{name}-{now.strftime('%H%M')}"
    return path


def write_results(
    results: dict[str, Any],
    stem: Path,
    chart: Callable[[dict[str, Any], Path], None],
    markdown: Callable[[dict[str, Any], str], str],
) -> Path:
    """The results as <stem>.json, a chart <stem>.png and <stem>.md (which names the chart)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_suffix(".png")
    chart(results, png)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    markdown_path = stem.with_suffix(".md")
    markdown_path.write_text(markdown(results, png.name))
    return markdown_path
