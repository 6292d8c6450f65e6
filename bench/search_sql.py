"""Search latency in SQL alone: the app's own recipe_list + paginate in an app context, no
HTTP and no server cache, so every query reaches the database.

    DATABASE_URL=sqlite:////tmp/scale/potluck.db POTLUCK_INSTANCE_PATH=/tmp/scale \\
    POTLUCK_ENV=development .venv/bin/python bench/search_sql.py [--rounds 20] [--explain]
    ... bench/search_sql.py --counts     # each bench word's total: row by row, and as counted

Prints each search's median and the p50/p99 over every timed run."""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

from servers import BENCH

from potluck import create_app
from potluck.domain.database import db
from potluck.services.caching import cache
from potluck.services.keyset import recipe_page
from potluck.services.pagination import count_statement
from potluck.services.search import recipe_list

_TERMS = ("chicken", "choc", '"lemon cake"', "garlic rice", "vegan curry", "pasta")
SEARCHES: list[dict[str, Any]] = [
    *({"q": q} for q in _TERMS),
    *({"q": q, "sort": "relevance"} for q in _TERMS),
    *({"q": q, "tag": ["vegetarian"]} for q in _TERMS),
    *({"q": q, "tag": ["dessert"], "sort": "relevance"} for q in _TERMS[:3]),
    {"q": "chicken", "max_cook_time": 30},
    {"q": "chicken", "sort": "name"},
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(params: dict[str, Any]) -> tuple[float, float, int]:
    """Wall and CPU milliseconds of one search (SQLite runs in this process, so its work is
    in the CPU time too: that figure holds when other processes share the cores)."""
    cache.clear()  # the SQL alone: no count kept from an earlier run
    started, cpu = time.perf_counter(), time.process_time()
    page = recipe_page({"page": 1, "per_page": 20, **params}, {})
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.session.rollback()
    return elapsed * 1000, cpu * 1000, page.total


def _plan(statement: Any) -> list[str]:
    compiled = statement.compile(db.engine)
    values = tuple(compiled.params[name] for name in compiled.positiontup or ())
    connection = db.session.connection()
    return [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)]


def explain(params: dict[str, Any]) -> None:
    listing = recipe_list({"page": 1, "per_page": 20, **params})
    print(params)
    page, count = listing.ordered().limit(20), count_statement(listing.statement)
    for label, query in (("page", page), ("count", count)):
        print(f"  {label}:", *_plan(query), sep="\n    ")


def counts() -> None:
    """Each word the bench searches for: its total counted row by row (every match's recipe
    checked), and as a list counts it (from the index alone, when it can), median of 3."""
    words = re.findall(r'"([^"]+)"', (BENCH / "lua" / "search_words.lua").read_text())
    print("  matches  row by row ms  as counted ms  word")
    for word in words:
        listing = recipe_list({"q": word})
        figures = []
        for statement in (count_statement(listing.tagged_first), listing.counting):
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                total = db.session.scalar(statement)
                runs.append((time.perf_counter() - started) * 1000)
            figures.append((total, statistics.median(runs)))
        (rows, by_row), (counted, as_counted) = figures
        assert rows == counted, (word, rows, counted)
        print(f"{rows:>9} {by_row:13.1f} {as_counted:14.1f}  {word}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--counts", action="store_true", help="how each bench word is counted")
    parser.add_argument(
        "--typical", action="store_true", help='only chicken, choc and "lemon cake"'
    )
    arguments = parser.parse_args()
    searches = [s for s in SEARCHES if not arguments.typical or s["q"] in _TERMS[:3]]
    app = create_app()
    with app.app_context():
        if arguments.explain:
            for params in searches:
                explain(params)
            return
        if arguments.counts:
            counts()
            return
        for params in searches:
            timed(params)  # warm the page cache: measured is the query, not the disk
        walls: list[float] = []
        cpus: list[float] = []
        print("  wall ms   cpu ms     hits  search (medians)")
        for params in searches:
            wall, cpu = [], []
            for _ in range(arguments.rounds):
                elapsed, used, total = timed(params)
                wall.append(elapsed)
                cpu.append(used)
            walls.extend(wall)
            cpus.extend(cpu)
            print(
                f"{statistics.median(wall):9.1f} {statistics.median(cpu):8.1f} {total:>8}  {params}"
            )
        for label, runs in (("wall", walls), ("cpu", cpus)):
            print(
                f"{label}: p50 {percentile(runs, 0.50):.1f} ms  p99 {percentile(runs, 0.99):.1f} ms"
                f"  max {max(runs):.1f} ms  ({len(runs)} runs)"
            )


if __name__ == "__main__":
    main()
