"""`make bench`: Potluck against a hello-world ceiling on the same server and settings.

Seeds SQLite data sets, serves them as in production (`potluck serve`, granian), drives each
scenario with wrk on loopback, and writes bench/results/<date>.json, .md and .png.
Sizes and duration come from the environment: BENCH_SIZES (default "10000,1000000"),
BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_WORKERS (2)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("BENCH_SECONDS", 10))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 50))
WORKERS = int(os.environ.get("BENCH_WORKERS", 2))
SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", "10000,1000000").split(",")]
PASSWORD = "benchmark passphrase"  # noqa: S105 - a throwaway account on a throwaway database
_FIGURES = re.compile(r"BENCH (.*)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(instance: Path) -> dict[str, str]:
    return {
        **os.environ,
        "POTLUCK_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{instance / 'bench.db'}",
        "POTLUCK_INSTANCE_PATH": str(instance),
        "ACCESS_LOG": "0",
        # One load generator on one address is not the crowd the limits are for.
        "READ_RATE_LIMIT": "100000000 per minute",
        "WRITE_RATE_LIMIT": "100000000 per minute",
        # A moving window keeps a timestamp per request: at millions a minute from one client
        # each count would cost O(n). Real clients' 600 a minute cost the same either way.
        "RATELIMIT_STRATEGY": "sliding-window-counter",
    }


def run(command: list[str], env: dict[str, str], answers: str | None = None) -> str:
    done = subprocess.run(
        command, env=env, input=answers, capture_output=True, text=True, check=True
    )
    return done.stdout


class Server:
    """A server process group on a free loopback port, stopped by its PID."""

    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{command[0]} did not start listening on {port}")

    def worker_peak_rss_mib(self) -> list[float]:
        """VmHWM of each worker (the children of the server process)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        peaks = []
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status").read_text()
            kib = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            peaks.append(round(kib / 1024, 1))
        return peaks

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def wrk(
    url: str,
    *,
    script: str | None = None,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
) -> dict[str, float]:
    lua = (BENCH / "lua" / "report.lua").read_text()
    if script:
        lua = (BENCH / "lua" / script).read_text() + "\n" + lua
        if script.startswith("search_"):
            lua = (BENCH / "lua" / "search_words.lua").read_text() + "\n" + lua
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(lua)
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "-s", file.name]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = run([*command, url], env or dict(os.environ))
    os.unlink(file.name)
    match = _FIGURES.search(output)
    if match is None:
        raise RuntimeError(f"wrk gave no figures:\n{output}")
    figures = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    return {
        "requests_per_s": round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": figures["errors"],
    }


def api(
    port: int, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        raw = response.read()
        return response.headers, json.loads(raw) if raw else None


def seeded_instance(size: int) -> tuple[Path, dict[str, str], float]:
    instance = Path(tempfile.mkdtemp(prefix=f"potluck-bench-{size}-"))
    env = environment(instance)
    run([str(BIN / "potluck"), "setup"], env)
    started = time.perf_counter()
    run([str(BIN / "potluck"), "seed", "--recipes", str(size), "--users", "200"], env)
    seeding = time.perf_counter() - started
    # A confirmed account to write with (registration through the API waits for a mail).
    account = [str(BIN / "potluck"), "user", "create", "bencher", "bench@example.com"]
    run(account, env, answers=f"{PASSWORD}\n{PASSWORD}\n")
    return instance, env, seeding


def potluck_scenarios(port: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    base = f"http://127.0.0.1:{port}/api/v1"
    _, tokens = api(port, "/tokens", {"username": "bencher", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    _, listing = api(port, "/recipes?per_page=1")
    one = listing["data"][0]["id"]
    etag_headers, _ = api(port, f"/recipes/{one}")
    mine = [api(port, "/recipes", {"name": f"Bench target {n}"}, auth)[1]["id"] for n in range(500)]
    env = {
        **env,
        "BENCH_TOKEN": tokens["access_token"],
        "BENCH_RECIPE_IDS": ",".join(map(str, mine)),
    }
    return {
        "GET one recipe": wrk(f"{base}/recipes/{one}"),
        "GET first list page": wrk(f"{base}/recipes"),
        "search": wrk(f"{base}/recipes?q=chicken"),
        "304 revalidation": wrk(
            f"{base}/recipes/{one}", headers={"If-None-Match": etag_headers["ETag"]}
        ),
        "create": wrk(f"{base}/recipes", script="post_recipe.lua", env=env),
        "update": wrk(f"{base}/recipes", script="patch_recipe.lua", env=env),
    }


def serve_potluck(env: dict[str, str]) -> Server:
    port = free_port()
    command = [str(BIN / "potluck"), "serve", "--port", str(port), "--workers", str(WORKERS)]
    return Server(command, env, port)


def serve_hello() -> Server:
    port = free_port()
    command = [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--blocking-threads",
        "1",
        "--no-ws",
        "hello:app",
    ]
    return Server(command, {**os.environ, "PYTHONPATH": str(BENCH)}, port)


def ratio(figures: dict[str, float], ceiling: dict[str, float]) -> float:
    return round(figures["requests_per_s"] / ceiling["requests_per_s"], 2)


def write_report(report: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / datetime.now(UTC).strftime("%Y-%m-%d")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    ceiling = report["ceiling"]
    lines = [
        f"# Potluck benchmark, {report['date']}",
        "",
        f"{report['machine']}; wrk, {CONNECTIONS} connections, {SECONDS} s a row; granian WSGI, "
        f"{WORKERS} workers, 1 blocking thread each; SQLite (WAL); "
        f"{report['sizes'][0]:,} recipes.",
        "",
        "| scenario | requests/s | ratio to hello | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
        f"| hello-world ceiling | {ceiling['requests_per_s']:,.0f} | 1.00 | "
        f"{ceiling['p50_ms']:.2f} | {ceiling['p99_ms']:.2f} | {ceiling['errors']} |",
    ]
    for name, row in report["scenarios"].items():
        lines.append(
            f"| {name} | {row['requests_per_s']:,.0f} | {row['ratio']:.2f} | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['errors']} |"
        )
    lines += [
        "",
        f"Peak RSS per worker: {report['worker_peak_rss_mib']} MiB.",
        "",
        "| latency at size | "
        + " | ".join(f"{s:,} recipes p50 / p99 ms" for s in report["sizes"])
        + " |",
        "|---|" + "---:|" * len(report["sizes"]),
    ]
    for name in report["by_size"][str(report["sizes"][0])]:
        cells = [
            f"{report['by_size'][str(s)][name]['p50_ms']:.2f} / "
            f"{report['by_size'][str(s)][name]['p99_ms']:.2f}"
            for s in report["sizes"]
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *target_lines(report)]
    lines += [
        "",
        "Seeding: "
        + ", ".join(
            f"{s:,} recipes in {report['seed_seconds'][str(s)]:.0f} s" for s in report["sizes"]
        ),
    ]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    chart(report, stem.with_suffix(".png"))
    return stem.with_suffix(".md")


def target_lines(report: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the figure that meets it or misses it."""
    scenarios = report["scenarios"]
    small, large = (str(size) for size in (report["sizes"][0], report["sizes"][-1]))
    rows = [
        ("GET one recipe ≥ 0.50 of the ceiling", scenarios["GET one recipe"]["ratio"], 0.5, True),
        ("304 revalidation ≥ 0.70", scenarios["304 revalidation"]["ratio"], 0.7, True),
        ("first list page ≥ 0.30", scenarios["GET first list page"]["ratio"], 0.3, True),
        (
            f"search p99 ≤ 50 ms at {int(large):,} recipes, 50 connections",
            report["by_size"][large]["search, varied"]["p99_ms"],
            50.0,
            False,
        ),
        (
            f"search p99 ≤ 50 ms at {int(large):,} recipes, every cache missed, 1 connection",
            report["by_size"][large]["search, cache miss, 1 connection"]["p99_ms"],
            50.0,
            False,
        ),
    ]
    for name in report["by_size"][small]:
        for percentile in ("p50_ms", "p99_ms"):
            before = report["by_size"][small][name][percentile]
            after = report["by_size"][large][name][percentile]
            rows.append(
                (
                    f"{name} {percentile[:3]} at {int(large):,} ≤ 2 x at {int(small):,}",
                    round(after / before, 2) if before else 0.0,
                    2.0,
                    False,
                )
            )
    lines = ["| target | measured | met |", "|---|---:|:---:|"]
    for target, measured, bound, at_least in rows:
        met = measured >= bound if at_least else measured <= bound
        lines.append(f"| {target} | {measured:g} | {'yes' if met else 'no'} |")
    return lines


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["scenarios"])
    ratios = [report["scenarios"][name]["ratio"] for name in names]
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.barh(names[::-1], ratios[::-1], color="#b4461f")
    axes.axvline(1.0, color="#2b2118", linewidth=1)
    axes.set_xlabel("requests/s as a fraction of the hello-world ceiling")
    axes.set_title(f"Potluck, {report['date']}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    hello = serve_hello()
    try:
        ceiling = wrk(f"http://127.0.0.1:{hello.port}/")
    finally:
        hello.stop()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores",
        "sizes": SIZES,
        "ceiling": ceiling,
        "scenarios": {},
        "by_size": {},
        "seed_seconds": {},
    }
    for index, size in enumerate(SIZES):
        instance, env, seeding = seeded_instance(size)
        report["seed_seconds"][str(size)] = round(seeding, 1)
        server = serve_potluck(env)
        try:
            base = f"http://127.0.0.1:{server.port}/api/v1"
            if index == 0:
                scenarios = potluck_scenarios(server.port, env)
                scenarios["search, 500 varied queries"] = wrk(
                    f"{base}/recipes", script="search_varied.lua"
                )
                for figures in scenarios.values():
                    figures["ratio"] = ratio(figures, ceiling)
                report["scenarios"] = scenarios
                report["worker_peak_rss_mib"] = server.worker_peak_rss_mib()
            _, listing = api(server.port, "/recipes?per_page=1")
            report["by_size"][str(size)] = {
                "detail": wrk(f"{base}/recipes/{listing['data'][0]['id']}"),
                "list": wrk(f"{base}/recipes"),
                "search, varied": wrk(f"{base}/recipes", script="search_varied.lua"),
                "search, cache miss, 1 connection": wrk(
                    f"{base}/recipes", script="search_misses.lua", connections=1
                ),
            }
        finally:
            server.stop()
            shutil.rmtree(instance, ignore_errors=True)
    print(write_report(report).read_text())


if __name__ == "__main__":
    main()
