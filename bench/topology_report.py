"""The topology bench's report: each row's requests/s as a ratio to the hello-world
topology of the same shape, its growth from one instance to two, and the cores each part
used meanwhile; written as bench/results/topology-<date>.json, .md and a .png chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from soak_report import CORES_NOTE, write_results

HELLO = "hello-world (Flask)"
PARTS = (
    "app instances",
    "nginx",
    "postgresql",
    "redis",
    "wrk",
    "other processes",
    "interrupts, steal",
)


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _cores(figures: dict[str, Any]) -> str:
    cores = figures["cores"]
    busy = sum(max(0.0, used) for used in cores.values())
    shown = " / ".join(f"{cores.get(part, 0.0):.2f}" for part in PARTS)
    return f"{busy:.2f}: {shown}"


def _statuses(*rows: dict[str, Any]) -> str:
    counted: dict[str, int] = {}
    for row in rows:
        for status, count in row["statuses"].items():
            counted[status] = counted.get(status, 0) + count
    return ", ".join(f"{status}: {count:,}" for status, count in sorted(counted.items()))


def table(results: dict[str, Any], workers: int) -> list[str]:
    one = results["passes"][f"1 x {workers}"]["rows"]
    two = results["passes"][f"2 x {workers}"]["rows"]
    lines = [
        f"### {workers} granian worker(s) per instance",
        "",
        "| row | 1 instance: req/s | ÷ hello | p99 ms | 2 instances: req/s | ÷ hello | "
        "p99 ms | growth 1 → 2 | statuses (nginx, both) | cores busy at 2 instances: total: "
        + " / ".join(PARTS)
        + " |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, figures in two.items():
        first = one[name]
        lines.append(
            f"| {name} | {first['requests_per_s']:,.0f} | {_ratio(first['ratio_to_hello'])} | "
            f"{first['p99_ms']:.1f} | {figures['requests_per_s']:,.0f} | "
            f"{_ratio(figures['ratio_to_hello'])} | {figures['p99_ms']:.1f} | "
            f"{figures['growth_from_one_instance']:.2f} | "
            f"{_statuses(first, figures)} | {_cores(figures)} |"
        )
    lines += [
        "",
        "Cores at one instance (same order): "
        + "; ".join(f"{name} {_cores(figures)}" for name, figures in one.items())
        + ".",
        "",
    ]
    return lines


def markdown(results: dict[str, Any], chart: str) -> str:
    s = results["settings"]
    lines = [
        f"# Topology bench, {results['date']}",
        "",
        f"nginx (TLS) in front of 1 and then 2 Potluck instances (deploy/up.sh: PostgreSQL "
        f"with fsync on, Redis; {s['recipes']:,} seeded recipes), against the same shape "
        f"serving a Flask hello-world (bench/hello.py behind an nginx from the same templates). "
        f"wrk over TLS and HTTP/1.1 keep-alive, {s['connections']} connections, {s['seconds']} s "
        f"a row, each the mean of {s['repeats']} runs taken in alternating order (1 then 2 "
        f"instances, then 2 then 1, ...), {s['threads']} blocking threads per worker, on "
        f"{results['machine']} (load "
        f"average {results['load_average']['start']:.2f} at the start, "
        f"{results['load_average']['end']:.2f} at the end); Potluck {s['code']}. Cores: the "
        "average number of "
        "cores each part used during the row. " + CORES_NOTE + " Statuses are nginx's: a 499 is "
        "a request in flight when wrk stopped and closed its connections; a 409 on update is "
        "two blind writes racing for one row (the version column refuses the second).",
        "",
        f"![topology]({chart})",
        "",
    ]
    for workers in s["workers"]:
        lines += table(results, workers)
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = results["settings"]["workers"]
    figure, axes = plt.subplots(1, len(workers), figsize=(7 * len(workers), 6), squeeze=False)
    for axis, count in zip(axes[0], workers, strict=True):
        one = results["passes"][f"1 x {count}"]["rows"]
        two = results["passes"][f"2 x {count}"]["rows"]
        names = list(two)
        places = range(len(names))
        axis.bar(
            [p - 0.2 for p in places],
            [one[n]["requests_per_s"] for n in names],
            0.4,
            label="1 instance",
        )
        axis.bar(
            [p + 0.2 for p in places],
            [two[n]["requests_per_s"] for n in names],
            0.4,
            label="2 instances",
        )
        axis.set_yscale("log")
        axis.set_xticks(list(places), names, rotation=30, ha="right", fontsize="small")
        axis.set_ylabel("requests/s (log)")
        axis.set_title(f"{count} worker(s) per instance")
        axis.legend()
    figure.suptitle(f"Potluck behind nginx, 1 and 2 instances, {results['date']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(results: dict[str, Any], stem: Path) -> Path:
    return write_results(results, stem, chart, markdown)
