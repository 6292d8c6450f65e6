"""The soak's report: statuses, latency and throughput by kind (as the load generator and as
nginx saw them), RSS per worker over time (first minute against last), where the cores went;
written as bench/results/soak-<date>.json, .md and a .png chart."""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
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
# Slow by design, and under 1 % of the requests: argon2id at the production cost, and an
# image decoded, resized twice and encoded.
# The first minute fills the caches from cold (every recipe, page and search asked for the
# first time since the instances started).
WARM_UP_SECONDS = 60
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


def summarize(
    now: datetime, settings: dict[str, Any], traffic: Traffic, measured: dict[str, Any]
) -> dict[str, Any]:
    wall = measured["wall_seconds"]
    samples = traffic.samples
    statuses = [status for _, _, status, _ in samples]
    every = [ms for _, _, _, ms in samples]
    usual = [ms for _, kind, _, ms in samples if kind not in SLOW_BY_DESIGN]
    warm = [ms for elapsed, _, _, ms in samples if elapsed >= WARM_UP_SECONDS]
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


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def markdown(results: dict[str, Any], chart: str) -> str:
    s, overall, edge = results["settings"], results["overall"], results["overall"]["edge"]
    usual, warm = overall["without_logins_and_uploads"], overall["after_warm_up"]
    memory_ok = all(worker["flat"] for worker in results["memory"].values())
    lines = [
        f"# Soak, {results['date']}",
        "",
        f"{s['seconds']} s through nginx (TLS, HTTP/2) in front of {s['instances']} instances "
        f"x {s['web_workers']} granian workers ({s['web_threads']} blocking threads each), "
        f"PostgreSQL (fsync on) and Redis, all started by deploy/up.sh; {s['recipes']:,} seeded "
        f"recipes by {s['users']} users; {s['cooks']} signed-in cooks and {s['visitors']} "
        f"visitor connections; actions arriving at {s['rate']:g}/s on average (open loop, "
        f"Poisson). Production argon2id cost; rate limits lifted. Load generator: "
        f"bench/soak.py (httpx, HTTP/2) on the same 2 cores. Potluck: {s['code']}.",
        "",
        "| check | target | measured | |",
        "|---|---|---|---|",
        f"| 5xx answers | 0 | {overall['5xx']} (nginx: {edge['5xx']}) | "
        f"{_mark(overall['5xx'] == 0)} |",
        f"| transport errors | 0 | {sum(overall['transport_errors'].values())} | "
        f"{_mark(not overall['transport_errors'])} |",
        f"| p99, every request (client) | < {P99_TARGET_MS} ms | {overall['p99_ms']:.1f} ms "
        f"(p50 {overall['p50_ms']:.1f}) | {_mark(overall['p99_ms'] < P99_TARGET_MS)} |",
        f"| p99, every request (nginx) | < {P99_TARGET_MS} ms | {edge['p99_ms']:.1f} ms "
        f"(p50 {edge['p50_ms']:.1f}) | {_mark(edge['p99_ms'] < P99_TARGET_MS)} |",
        f"| p99 without logins and cover uploads (client) | < {P99_TARGET_MS} ms | "
        f"{usual['p99_ms']:.1f} ms (p50 {usual['p50_ms']:.1f}) | "
        f"{_mark(usual['p99_ms'] < P99_TARGET_MS)} |",
        f"| worker RSS | flat | see below | {_mark(memory_ok)} |",
    ]
    if overall["wall_seconds"] > 2 * WARM_UP_SECONDS:
        lines.insert(
            -2,
            f"| p99 after the first minute (client) | < {P99_TARGET_MS} ms | "
            f"{warm['p99_ms']:.1f} ms (p50 {warm['p50_ms']:.1f}) | "
            f"{_mark(warm['p99_ms'] < P99_TARGET_MS)} |",
        )
    lines += [
        "",
        f"{overall['requests']:,} requests, {overall['per_second']:,.1f}/s; statuses "
        + ", ".join(f"{code}: {count:,}" for code, count in overall["statuses"].items())
        + f". ![soak]({chart})",
        "",
        "| kind | requests | req/s | p50 ms | p99 ms | max ms | nginx p50 | nginx p99 | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, row in results["by_kind"].items():
        at_edge = results["edge_by_kind"].get(kind, {})
        codes = ", ".join(f"{code}: {count:,}" for code, count in row["statuses"].items())
        lines.append(
            f"| {kind} | {row['requests']:,} | {row['per_second']:.1f} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} | {row['max_ms']:.0f} | {at_edge.get('p50_ms', 0):.1f} | "
            f"{at_edge.get('p99_ms', 0):.1f} | {codes} |"
        )
    lines += [
        "",
        f"RSS per app worker, sampled every {s['sample_seconds']:g} s (flat: the last "
        f"minute within {FLAT_MIB:g} MiB or {FLAT_SHARE:.0%} of the first; the trend is a "
        "least-squares fit after the first minute):",
        "",
        "| worker | first minute MiB | last minute MiB | growth MiB | trend MiB/min | peak MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for worker, row in results["memory"].items():
        lines.append(
            f"| {worker} | {row['first_minute_mib']} | {row['last_minute_mib']} | "
            f"{row['growth_mib']:+} | {row['trend_mib_per_minute']:+} | {row['peak_mib']} |"
        )
    cores = ", ".join(f"{part} {used:.2f}" for part, used in results["cpu_cores"].items())
    generator = results["load_generator"]
    lines += [
        "",
        f"Cores used on average (of 2): {cores}; load average "
        f"{results['load_average']['start']} at the start, {results['load_average']['end']} "
        f"at the end. {CORES_NOTE}",
        f"Load generator: sends p99 {generator['send_lag_p99_ms']:.1f} ms late, "
        f"{generator['dropped_actions']} actions dropped, its event loop woke at most "
        f"{generator['sampler_wake_lag_max_ms']:.0f} ms late. The client's latency includes "
        "its own event loop and TLS on the shared cores; nginx's ($request_time) is the edge's.",
        "",
    ]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (throughput, latency, rss, cores) = plt.subplots(
        4, 1, figsize=(10, 12), sharex=True, height_ratios=(2, 2, 3, 2)
    )
    minutes = [row["t"] / 60 for row in results["timeline"]]
    throughput.plot(minutes, [row["requests_per_s"] for row in results["timeline"]])
    throughput.set_ylabel(f"requests/s ({BUCKET_SECONDS} s buckets)")
    throughput.set_ylim(bottom=0)
    latency.plot(minutes, [row["p99_ms"] for row in results["timeline"]], label="p99")
    latency.plot(minutes, [row["p50_ms"] for row in results["timeline"]], label="p50")
    latency.axhline(P99_TARGET_MS, color="red", linestyle="--", label="p99 target")
    latency.set_ylabel("latency ms (client)")
    latency.set_yscale("log")
    latency.legend()
    for worker, row in results["memory"].items():
        rss.plot([t / 60 for t, _ in row["samples"]], [v for _, v in row["samples"]], label=worker)
    rss.set_ylabel("RSS MiB")
    rss.legend(fontsize="small")
    spans = results["cores_timeline"]
    parts = [part for part in spans[0] if part != "t"] if spans else []
    cores.stackplot(
        [row["t"] / 60 for row in spans],
        *[[max(0.0, row[part]) for row in spans] for part in parts],
        labels=parts,
    )
    cores.set_ylabel("cores busy (of 2)")
    cores.set_xlabel("minutes")
    cores.legend(fontsize="x-small", loc="upper left", ncols=3)
    figure.suptitle(f"Potluck soak, {results['date']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(results: dict[str, Any], stem: Path) -> Path:
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_suffix(".png")
    chart(results, png)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    markdown_path = stem.with_suffix(".md")
    markdown_path.write_text(markdown(results, png.name))
    return markdown_path
