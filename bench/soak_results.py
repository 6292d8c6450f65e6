"""The soak's written results: bench/results/soak-<date>.md (the checks against their
targets, every kind of request, RSS per worker, where the cores went), .json and a .png chart
(throughput, latency, RSS per worker and busy cores over time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from soak_report import (
    BUCKET_SECONDS,
    CORES_NOTE,
    FLAT_MIB,
    FLAT_SHARE,
    P99_TARGET_MS,
    QUIET_CORES,
    WARM_UP_SECONDS,
    write_results,
)


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def markdown(results: dict[str, Any], chart: str) -> str:
    s, overall, edge = results["settings"], results["overall"], results["overall"]["edge"]
    usual, warm = overall["without_logins_and_uploads"], overall["after_warm_up"]
    quiet = overall["while_machine_quiet"]
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
        lines[-2:-2] = [
            f"| p99 after the first minute (client) | < {P99_TARGET_MS} ms | "
            f"{warm['p99_ms']:.1f} ms (p50 {warm['p50_ms']:.1f}) | "
            f"{_mark(warm['p99_ms'] < P99_TARGET_MS)} |",
            f"| p99 after the first minute, while the rest of the machine used < "
            f"{QUIET_CORES:g} cores ({quiet['share_of_requests']:.0%} of the requests) | "
            f"< {P99_TARGET_MS} ms | {quiet['p99_ms']:.1f} ms (p50 {quiet['p50_ms']:.1f}) | "
            f"{_mark(quiet['p99_ms'] < P99_TARGET_MS)} |",
        ]
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
        f"{generator['dropped_actions']} actions dropped, "
        f"{generator['reads_asked_again_after_goaway']} reads asked again after nginx's "
        "GOAWAY (it closes an HTTP/2 connection at its 1,000th request), its event loop woke "
        "at most "
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
    return write_results(results, stem, chart, markdown)
