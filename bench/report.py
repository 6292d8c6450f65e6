"""The report of a run: every row as a ratio to both ceilings, in bench/results/<stem>.json,
a Markdown table per database with the targets, and a chart (.png)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from loads import CONNECTIONS, LOGIN_CONNECTIONS, SECONDS, TIMEOUT
from rows import API_ALTERNATING, PAGE_ALTERNATING
from servers import THREADS, WORKERS

CEILINGS = {"hello": "Flask hello-world", "bare": "bare WSGI callable"}
DATABASES = {"sqlite": "SQLite (WAL)", "postgresql": "PostgreSQL (throwaway server, fsync off)"}
# Rows whose latency should not grow with the data: at the largest size ≤ 2 x the smallest.
SCALING = (
    "GET one recipe",
    "GET first list page",
    "search, 500 varied queries",
    "search, cache miss, 1 connection",
    "list pages, varied (cache misses)",
    "search, varied (cache misses)",
)
VARIED = ("list pages, varied (cache misses)", "search, varied (cache misses)")
VARIED_NOTE = (
    "Each path is asked once (bench/lua/paths.lua), after a write that clears every cache. "
    "List pages: no filter, a tag, an author, a max_cook_time or a pair of them, in 5 sorts "
    "and 3 orders, per_page 10 to 100, numbered pages within the list up to 50; a quarter "
    "start at a deep cursor (from walking lists 25 pages of 100 with the API), per_page 1 to "
    "99. Searches: 25 words, alone or with a tag or a cook time, 4 sorts (relevance too), "
    "pages up to 20. Only a filter's count is shared: each filter counts once, its pages "
    "after the first ask reuse the count, as they do in real traffic."
)


def add_ratios(rows: dict[str, dict[str, Any]], ceilings: dict[str, dict[str, Any]]) -> None:
    for figures in rows.values():
        for key, ceiling in ceilings.items():
            ratio = figures["requests_per_s"] / ceiling["requests_per_s"]
            figures[f"ratio_to_{key}"] = round(ratio, 4)


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _sizes(section: dict[str, Any]) -> list[str]:
    return list(section.get("by_size", {}))


def database_table(section: dict[str, Any]) -> list[str]:
    sizes = _sizes(section)
    head = "| row |" + "".join(
        f" {int(s):,}: req/s | ÷ hello | ÷ bare | p50 ms | p99 ms | errors |" for s in sizes
    )
    lines = [head, "|---|" + "---:|---:|---:|---:|---:|---:|" * len(sizes)]
    names = list(dict.fromkeys(name for s in sizes for name in section["by_size"][s]))
    for name in names:
        cells = []
        for size in sizes:
            row = section["by_size"][size].get(name)
            if row is None:
                cells.append(" - | | | | | |")
                continue
            cells.append(
                f" {row['requests_per_s']:,.0f} | {_ratio(row['ratio_to_hello'])} | "
                f"{_ratio(row['ratio_to_bare'])} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                f"{row['errors']} |"
            )
        lines.append(f"| {name} |" + "".join(cells))
    rss = "; ".join(f"{int(s):,}: {section['worker_peak_rss_mib'][s]}" for s in sizes)
    seeding = ", ".join(f"{int(s):,} recipes in {section['seed_seconds'][s]:.0f} s" for s in sizes)
    return [*lines, "", f"Peak RSS per worker (MiB): {rss}. Seeding: {seeding}."]


def login_lines(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    connections = report["settings"]["connections"]
    for key, section in _ran(report):
        for size, rows in section["by_size"].items():
            reads = rows.get("GET one recipe while logins run")
            if reads is None:
                continue
            if not lines:
                lines = [
                    f"| GET one recipe, anonymous, {connections} connections | requests/s | "
                    "p50 ms | p99 ms | logins/s beside |",
                    "|---|---:|---:|---:|---:|",
                ]
            alone = reads["alone"]
            logins = reads["logins"]
            where = f"{DATABASES[key].split(' ')[0]}, {int(size):,}"
            lines += [
                f"| {where}: alone | {alone['requests_per_s']:,.0f} | {alone['p50_ms']:.2f} | "
                f"{alone['p99_ms']:.2f} | - |",
                f"| {where}: while {logins['connections']} connections log in | "
                f"{reads['requests_per_s']:,.0f} | {reads['p50_ms']:.2f} | "
                f"{reads['p99_ms']:.2f} | {logins['requests_per_s']:,.1f} |",
            ]
    return lines


def varied_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for key, section in _ran(report):
        for size, rows in section["by_size"].items():
            for name in VARIED:
                about = rows.get(name, {}).get("varied")
                if about:
                    told = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in about.items())
                    lines.append(f"- {DATABASES[key].split(' ')[0]}, {int(size):,}, {name}: {told}")
    return lines


def _ran(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(key, report[key]) for key in DATABASES if report.get(key, {}).get("by_size")]


def target_lines(report: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the figure that meets it or misses it."""
    throughput: list[tuple[str, dict[str, Any], float]] = []
    latency: list[tuple[str, float, float]] = []
    compared: list[tuple[str, float]] = []
    for key, section in _ran(report):
        sizes = _sizes(section)
        first, last = section["by_size"][sizes[0]], section["by_size"][sizes[-1]]
        db = DATABASES[key].split(" ")[0]
        page, api = first.get(PAGE_ALTERNATING), first.get(API_ALTERNATING)
        if page and api:
            label = f"{db}, {int(sizes[0]):,}: anonymous recipe page ÷ GET one recipe, alternating"
            compared.append((label, page["requests_per_s"] / api["requests_per_s"]))
        for name, bound in (
            ("GET one recipe", 0.5),
            ("304 revalidation", 0.7),
            ("signed-in recipe page", 0.3),
        ):
            if name in first:
                throughput.append((f"{db}, {int(sizes[0]):,}: {name}", first[name], bound))
        if "GET first list page" in first:
            throughput.append(
                (f"{db}, {int(sizes[0]):,}: first list page", first["GET first list page"], 0.3)
            )
        for size in sizes:
            for name in VARIED:
                if name in section["by_size"][size]:
                    label = f"{db}, {int(size):,}: {name}"
                    throughput.append((label, section["by_size"][size][name], 0.25))
        if key != "sqlite":
            continue
        for name in ("search, 500 varied queries", "search, cache miss, 1 connection"):
            if name in last:
                latency.append(
                    (f"{db}, {int(sizes[-1]):,}: {name}, p99 ≤ 50 ms", last[name]["p99_ms"], 50.0)
                )
        if len(sizes) > 1:
            for name in SCALING:
                for percentile in ("p50_ms", "p99_ms"):
                    if name in first and name in last and first[name][percentile]:
                        growth = last[name][percentile] / first[name][percentile]
                        label = (
                            f"{db}: {name}, {percentile[:3]} at {int(sizes[-1]):,} "
                            f"≤ 2 x at {int(sizes[0]):,}"
                        )
                        latency.append((label, round(growth, 2), 2.0))
    lines = [
        "| throughput target | ≥ | ÷ hello | met | ÷ bare | met |",
        "|---|---:|---:|:---:|---:|:---:|",
    ]
    for label, row, bound in throughput:
        hello, bare = row["ratio_to_hello"], row["ratio_to_bare"]
        lines.append(
            f"| {label} | {bound:g} | {_ratio(hello)} | {_met(hello >= bound)} | "
            f"{_ratio(bare)} | {_met(bare >= bound)} |"
        )
    if compared:
        lines += ["", "| comparison target | ≥ | measured | met |", "|---|---:|---:|:---:|"]
        lines += [f"| {name} | 1 | {ratio:.3f} | {_met(ratio >= 1)} |" for name, ratio in compared]
    lines += ["", "| latency target | measured | met |", "|---|---:|:---:|"]
    lines += [
        f"| {label} | {value:g} | {_met(value <= bound)} |" for label, value, bound in latency
    ]
    return lines


def _met(met: bool) -> str:
    return "yes" if met else "no"


def settings() -> dict[str, Any]:
    return {
        "seconds": SECONDS,
        "connections": CONNECTIONS,
        "login_connections": LOGIN_CONNECTIONS,
        "timeout": TIMEOUT,
        "workers": WORKERS,
        "threads": THREADS,
    }


def markdown(report: dict[str, Any]) -> str:
    ceilings, at_end = report["ceilings"], report["ceilings_at_end"]
    run = report["settings"]
    lines = [
        f"# Potluck benchmark, {report['date']}",
        "",
        f"{report['machine']}; wrk on loopback, {run['connections']} connections (logins "
        f"{run['login_connections']}), {run['seconds']} s a row, {run['timeout']} timeout; "
        f"granian WSGI, {run['workers']} workers, {run.get('threads', 1)} blocking threads each, "
        "for Potluck and both "
        "ceilings alike.",
        "",
        "| ceiling | requests/s | p50 ms | p99 ms | errors | requests/s again at the end |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, name in CEILINGS.items():
        row = ceilings[key]
        lines.append(
            f"| {name} (bench/{key}.py) | {row['requests_per_s']:,.0f} | {row['p50_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {row['errors']} | {at_end[key]['requests_per_s']:,.0f} |"
        )
    lines += ["", "Ratios are a row's requests/s over a ceiling's at the start of the run."]
    if "load_average" in report:
        load = report["load_average"]
        lines[-1] += (
            f" Load average (1 min) {load['start']:g} at the start, {load['end']:g} at the end: "
            "other work on the machine moves every figure."
        )
    for key, title in DATABASES.items():
        section = report.get(key, {})
        lines += ["", f"## {title}", ""]
        if section.get("by_size"):
            lines += database_table(section)
            if "status" in section:
                lines += ["", f"Stopped early: {section['status']}."]
        else:
            lines.append(f"Not run: {section.get('status', 'not asked for')}.")
    lines += ["", "## Logins beside reads", "", *login_lines(report)]
    lines += ["", "## The varied rows", "", VARIED_NOTE, "", *varied_lines(report)]
    lines += ["", "## Targets", "", *target_lines(report)]
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (f"{DATABASES[key].split(' ')[0]}, {int(size):,} recipes", rows)
        for key, section in _ran(report)
        for size, rows in section["by_size"].items()
    ]
    heights = [len(rows) for _, rows in panels]
    ratios = [
        row[f"ratio_to_{key}"] for _, rows in panels for row in rows.values() for key in CEILINGS
    ]
    lowest = max(1e-4, min(ratios))
    figure, axes_list = plt.subplots(
        len(panels), 1, figsize=(9, 1.2 + 0.42 * sum(heights)), height_ratios=heights, squeeze=False
    )
    for axes, (title, rows) in zip(axes_list[:, 0], panels, strict=True):
        names = list(rows)[::-1]
        places = list(range(len(names)))
        for offset, key, color in ((0.2, "hello", "#b4461f"), (-0.2, "bare", "#2b6f8f")):
            values = [rows[name][f"ratio_to_{key}"] for name in names]
            spots = [p + offset for p in places]
            axes.barh(spots, values, height=0.4, color=color, label=f"÷ {CEILINGS[key]}")
            for spot, value in zip(spots, values, strict=True):
                axes.text(value * 1.05, spot, _ratio(value), va="center", fontsize=6)
        axes.set_yticks(places, names, fontsize=8)
        axes.set_xscale("log")
        axes.set_xlim(lowest / 2, 5)
        axes.axvline(1.0, color="#2b2118", linewidth=1)
        axes.axvline(0.25, color="#2b2118", linewidth=0.8, linestyle="--")
        axes.set_title(title, fontsize=10)
    axes_list[0, 0].legend(fontsize=8, loc="lower right")
    axes_list[-1, 0].set_xlabel(
        "requests/s as a fraction of each ceiling (log scale; dashed: 0.25)"
    )
    figure.suptitle(f"Potluck, {report['date']}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write(report: dict[str, Any], stem: Path) -> Path:
    stem.parent.mkdir(exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    chart(report, stem.with_suffix(".png"))
    return stem.with_suffix(".md")


def results_stem(folder: Path, setting: str, default: str, smoke: bool, now: datetime) -> Path:
    """Where a run's results go: the name in the environment variable `setting`, else
    `default` with "-smoke" for a shorter or smaller run; an existing result is never
    replaced (the time of day is added)."""
    name = os.environ.get(setting) or default
    if setting not in os.environ and smoke:
        name += "-smoke"
    stem = folder / name
    if stem.with_suffix(".md").exists():
        stem = folder / f"{name}-{now.strftime('%H%M')}"
    return stem
