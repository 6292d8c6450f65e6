"""`make bench`: Potluck against two ceilings on the same server and settings, a Flask
hello-world (bench/hello.py) and a bare WSGI callable (bench/bare.py).

Seeds SQLite data sets, serves them as in production (`potluck serve`, granian), drives each
row with wrk on loopback, then does the same on PostgreSQL: each size under a throwaway
server that scripts/with-postgres.sh starts and stops (it skips the pass when PostgreSQL
cannot be installed). Writes bench/results/<name>.json, .md and .png.

From the environment: BENCH_SIZES (SQLite, default "10000,1000000"), BENCH_PG_SIZES
("10000": seeding a million rows on PostgreSQL is slow), BENCH_POSTGRES ("1"; "0" skips the
PostgreSQL pass), BENCH_SECONDS (10 a row), BENCH_CONNECTIONS (50), BENCH_LOGIN_CONNECTIONS
(4), BENCH_WORKERS (2), BENCH_NAME (the results' name: by default the date, with "-smoke"
when the run is shorter or smaller than the default; an existing result is never replaced)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
import rows
from loads import SECONDS, log, wrk
from servers import BENCH, seeded_instance, serve_ceiling, serve_potluck

RESULTS = BENCH / "results"
WITH_POSTGRES = BENCH.parent / "scripts" / "with-postgres.sh"
DEFAULT_SIZES = "10000,1000000"
SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", DEFAULT_SIZES).split(",")]
PG_SIZES = [int(size) for size in os.environ.get("BENCH_PG_SIZES", "10000").split(",")]


def ceilings() -> dict[str, dict[str, Any]]:
    measured = {}
    for key in report.CEILINGS:
        server = serve_ceiling(key)
        try:
            measured[key] = wrk(f"http://127.0.0.1:{server.port}/")
        finally:
            server.stop()
        log(f"ceiling {key}: {measured[key]['requests_per_s']:,.0f}/s")
    return measured


def measure(
    size: int, database_url: str | None, rows_of: Callable[[rows.Target], rows.Rows]
) -> dict[str, Any]:
    """Seed `size` recipes, serve them, run `rows_of` against the server, stop it."""
    log(f"seeding {size:,} recipes")
    instance, env, seeding = seeded_instance(size, database_url)
    try:
        server = serve_potluck(env)
        try:
            measured = rows_of(rows.Target(server, env, instance))
            peaks = server.worker_peak_rss_mib()
        finally:
            server.stop()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    return {"rows": measured, "seed_seconds": round(seeding, 1), "worker_peak_rss_mib": peaks}


def _section(sizes: list[int]) -> dict[str, Any]:
    return {"sizes": sizes, "by_size": {}, "seed_seconds": {}, "worker_peak_rss_mib": {}}


def _add(section: dict[str, Any], size: int, measured: dict[str, Any]) -> None:
    section["by_size"][str(size)] = measured["rows"]
    section["seed_seconds"][str(size)] = measured["seed_seconds"]
    section["worker_peak_rss_mib"][str(size)] = measured["worker_peak_rss_mib"]


def sqlite_pass() -> dict[str, Any]:
    section = _section(SIZES)
    for index, size in enumerate(SIZES):
        rows_of = functools.partial(rows.sqlite_rows, rng=random.Random(size), every_row=index == 0)
        _add(section, size, measure(size, None, rows_of))
    return section


def postgres_pass() -> dict[str, Any]:
    """Each size in a child run under scripts/with-postgres.sh, which starts a throwaway
    server, exports TEST_DATABASE_URL, and stops the server when the child ends."""
    if os.environ.get("BENCH_POSTGRES", "1") != "1":
        return {"status": "BENCH_POSTGRES is not 1"}
    section = _section(PG_SIZES)
    for size in PG_SIZES:
        with tempfile.TemporaryDirectory(prefix="potluck-bench-pg-") as folder:
            out = Path(folder) / "pass.json"
            command = [str(WITH_POSTGRES), sys.executable, __file__, "--postgres", str(size)]
            done = subprocess.run([*command, "--out", str(out)], check=False)
            if done.returncode != 0:
                section["status"] = f"the pass at {size:,} recipes failed (exit {done.returncode})"
                break
            if not out.exists():
                section["status"] = "scripts/with-postgres.sh could not start PostgreSQL"
                break
            _add(section, size, json.loads(out.read_text()))
    if "status" in section:
        log(f"PostgreSQL: {section['status']}")
    return section


def postgres_child(size: int, out: Path) -> None:
    database_url = os.environ["TEST_DATABASE_URL"]
    rng = random.Random(size)
    measured = measure(size, database_url, lambda t: rows.postgres_rows(t, rng))
    out.write_text(json.dumps(measured))


def main() -> None:
    now = datetime.now(UTC)
    results: dict[str, Any] = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores",
        "settings": report.settings(),
        "load_average": {"start": round(os.getloadavg()[0], 2)},
        "ceilings": ceilings(),
    }
    results["sqlite"] = sqlite_pass()
    results["postgresql"] = postgres_pass()
    # Measured again at the end: how far the machine's speed moved during the run.
    results["ceilings_at_end"] = ceilings()
    results["load_average"]["end"] = round(os.getloadavg()[0], 2)
    for key in report.DATABASES:
        for measured in results[key].get("by_size", {}).values():
            report.add_ratios(measured, results["ceilings"])
    smoke = SECONDS < 10 or SIZES != [10000, 1000000]
    stem = report.results_stem(RESULTS, "BENCH_NAME", now.strftime("%Y-%m-%d"), smoke, now)
    print(report.write(results, stem).read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.postgres is not None:
        postgres_child(arguments.postgres, arguments.out)
    else:
        main()
