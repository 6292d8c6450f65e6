"""Search latency in SQL alone: the app's own recipe_list + paginate in an app context, no
HTTP and no server cache, so every query reaches the database.

    DATABASE_URL=sqlite:////tmp/scale/potluck.db POTLUCK_INSTANCE_PATH=/tmp/scale \\
    POTLUCK_ENV=development .venv/bin/python bench/search_sql.py [--rounds 20] [--explain]
    ... bench/search_sql.py --counts     # each bench word's total: row by row, and as counted
    ... bench/search_sql.py --prefix tomato   # one word's statements, as a prefix and as terms
    ... bench/search_sql.py --misses 400      # search_misses.lua's searches through the app

Prints each search's median and the p50/p99 over every timed run."""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from flask import Flask
from sqlalchemy import text
from varied import SEARCH_WORDS
from werkzeug.test import EnvironBuilder

from potluck import create_app
from potluck.domain.database import db
from potluck.services.caching import bump_generation, cache
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
    print("  matches  row by row ms  as counted ms  word")
    for word in SEARCH_WORDS:
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


# The index's terms, each a row (SQLite's fts5vocab), for this connection only.
_TERMS_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.terms USING fts5vocab(main, recipe_search, row)"
)


def _best_ms(sql: str, parameters: dict[str, Any], runs: int = 4) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = db.session.execute(text(sql), parameters).all()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), result


def prefix(word: str) -> None:
    """One word's statements on SQLite, best of 4: as the prefix query the app asks, and as
    an OR of the index's terms that the prefix covers (looked up in an fts5vocab table)."""
    db.session.execute(text(_TERMS_TABLE))
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    lookup, rows = _best_ms(
        "SELECT term FROM temp.terms WHERE term >= :word AND term < :upper",
        {"word": word, "upper": upper},
    )
    terms = [row[0] for row in rows]
    print(f"{lookup:8.1f} ms  the terms of {word}*: {', '.join(terms)}")
    statements = {
        "count": "SELECT count(*) FROM recipe_search WHERE recipe_search MATCH :fts",
        "count, drafts skipped": "SELECT count(*) FROM recipe_search WHERE recipe_search"
        " MATCH :fts AND rowid NOT IN (SELECT id FROM recipes WHERE is_publish = 0)",
        "the 2,000 highest rowids": "SELECT count(*) FROM (SELECT rowid FROM recipe_search"
        " WHERE recipe_search MATCH :fts ORDER BY rowid DESC LIMIT 2000)",
        "page 20 of 100, newest first": "SELECT id FROM recipes WHERE is_publish = 1 AND id IN"
        " (SELECT rowid FROM recipe_search WHERE recipe_search MATCH :fts)"
        " ORDER BY created_at DESC, id DESC LIMIT 100 OFFSET 1900",
    }
    as_terms = " OR ".join(f'"{term}"' for term in terms)
    print(f"  {word}* ms  terms ms  statement")
    for label, sql in statements.items():
        (as_prefix, first), (as_or, second) = (
            _best_ms(sql, {"fts": fts}) for fts in (f'"{word}"*', as_terms)
        )
        assert first == second, (label, first[:3], second[:3])
        print(f"{as_prefix:10.1f} {as_or:9.1f}  {label}")


def _status_into(statuses: list[str]) -> Any:
    def start_response(status: str, *_: Any) -> None:
        statuses.append(status)

    return start_response


def misses(app: Flask, count: int) -> None:
    """Searches drawn as bench/lua/search_misses.lua draws them, each through the whole app
    (a WSGI environ, no server, each request in its own app context as under a server),
    after a cache-generation bump."""
    with app.app_context():
        bump_generation(db.session)
        db.session.commit()
    draw = random.Random(1)
    times: list[tuple[float, str]] = []
    for _ in range(count):
        word, per_page, page = draw.choice(SEARCH_WORDS), draw.randint(1, 100), draw.randint(1, 20)
        query = f"q={word}&per_page={per_page}&page={page}"
        environ = EnvironBuilder(
            path="/api/v1/recipes", query_string=query, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        ).get_environ()
        started = time.perf_counter()
        answered: list[str] = []
        for _chunk in app.wsgi_app(environ, _status_into(answered)):
            pass
        times.append(((time.perf_counter() - started) * 1000, query))
        assert answered[0].startswith("200"), (answered, query)
    runs = [elapsed for elapsed, _ in times]
    print(
        f"{count} searches: p50 {percentile(runs, 0.5):.1f} ms  p90 {percentile(runs, 0.9):.1f}"
        f"  p99 {percentile(runs, 0.99):.1f}  max {max(runs):.1f}"
    )
    for elapsed, query in sorted(times, reverse=True)[:5]:
        print(f"{elapsed:8.1f} ms  {query}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--counts", action="store_true", help="how each bench word is counted")
    parser.add_argument(
        "--typical", action="store_true", help='only chicken, choc and "lemon cake"'
    )
    parser.add_argument("--prefix", help="one word's statements, as a prefix and as terms")
    parser.add_argument("--misses", type=int, help="this many searches through the app")
    arguments = parser.parse_args()
    searches = [s for s in SEARCHES if not arguments.typical or s["q"] in _TERMS[:3]]
    app = create_app()
    if arguments.misses:
        misses(app, arguments.misses)
        return
    with app.app_context():
        if arguments.explain:
            for params in searches:
                explain(params)
            return
        if arguments.counts:
            counts()
            return
        if arguments.prefix:
            prefix(arguments.prefix)
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
