"""The rows of the benchmark: each a wrk load against a served, seeded Potluck, by kind.

Reads come first and writes last: a write moves the cache generation, and the create row
adds drafts (never in a public list, so list totals stay those of the seed)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import varied
from loads import (
    BROWSER_ACCEPT,
    LOGIN_CONNECTIONS,
    SECONDS,
    Load,
    answers_quickly,
    api,
    clear_caches,
    log,
    page_path,
    sign_in,
    site_session,
    wrk,
)
from servers import PASSWORD, USERNAME, Server

Rows = dict[str, dict[str, Any]]


@dataclass
class Target:
    """A served database: its server, the server's environment, a folder for path files."""

    server: Server
    env: dict[str, str]
    folder: Path

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def settle(self) -> None:
        """Each row starts on an idle server, not behind the queue the last one left."""
        if not (self.server.wait_idle() and answers_quickly(self.port)):
            log("the server is still busy after a minute; measuring anyway")

    def wrk(self, url: str, **options: Any) -> dict[str, Any]:
        self.settle()
        return wrk(url, **options)

    def published_recipe(self) -> int:
        _, listing = api(self.port, "/recipes?per_page=1")
        recipe_id: int = listing["data"][0]["id"]
        return recipe_id


def _measured(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    log(
        f"{name}: {figures['requests_per_s']:,.1f}/s, p99 {figures['p99_ms']:.1f} ms, "
        f"{figures['errors']} errors"
    )
    return figures


def anonymous_reads(target: Target, revalidation: bool = True) -> Rows:
    """Published recipes and lists, asked again and again: replayed before Flask."""
    one = f"{target.base}/recipes/{target.published_recipe()}"
    rows = {
        "GET one recipe": target.wrk(one),
        "GET first list page": target.wrk(f"{target.base}/recipes"),
        "search": target.wrk(f"{target.base}/recipes?q=chicken"),
    }
    if revalidation:
        etag = api(target.port, one[len(target.base) :])[0]["ETag"]
        rows["304 revalidation"] = target.wrk(one, headers={"If-None-Match": etag})
    return {name: _measured(name, figures) for name, figures in rows.items()}


def signed_in_read(target: Target) -> Rows:
    env = {**target.env, "BENCH_TOKEN": sign_in(target.port)}
    url = f"{target.base}/recipes/{target.published_recipe()}"
    name = "GET one recipe, signed in"
    return {name: _measured(name, target.wrk(url, script="get_signed_in.lua", env=env))}


# The site's page and the API's read of one recipe, measured in alternating runs (see
# `alternating`): the target compares the two, which rows minutes apart cannot.
PAGE_ALTERNATING = "anonymous recipe page, alternating with GET one"
API_ALTERNATING = "GET one recipe, alternating with the page"
PAIRS = 3


def alternating(
    target: Target, kinds: dict[str, tuple[str, dict[str, str]]], pairs: int, seconds: int
) -> Rows:
    """Each kind's figures over `pairs` rounds of one run of each, the order reversed every
    other round, so that a machine whose speed drifts during the run (a shared one) weighs
    on every kind alike: requests/s and latencies are the means of the runs."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for pair in range(pairs):
        for kind in list(kinds) if pair % 2 == 0 else list(reversed(kinds)):
            url, headers = kinds[kind]
            runs[kind].append(figures := target.wrk(url, headers=headers, seconds=seconds))
            log(f"round {pair + 1}, {kind}: {figures['requests_per_s']:,.0f}/s")
    return {
        kind: {
            **{key: round(sum(run[key] for run in each) / len(each), 3) for key in _MEANS},
            "errors": sum(run["errors"] for run in each),
            "requests": sum(run["requests"] for run in each),
            "connections": each[0]["connections"],
        }
        for kind, each in runs.items()
    }


_MEANS = ("requests_per_s", "p50_ms", "p99_ms")


def web_pages(target: Target) -> Rows:
    """The site's pages as a browser asks for them: anonymous ones are replayed before
    Flask like the API's reads; a signed-in visitor's page is replayed to the same session
    once Flask has rendered it, so the varied row (each recipe's page once, signed in) shows
    what Flask's own rendering costs."""
    site = f"http://127.0.0.1:{target.port}"
    recipe = site + page_path(target.port, target.published_recipe())
    browser = {"Accept": BROWSER_ACCEPT, "Accept-Encoding": "gzip"}
    signed_in = {**browser, "Cookie": site_session(target.port)}
    rows = {
        "anonymous recipe page": target.wrk(recipe, headers=browser),
        "search page": target.wrk(f"{site}/search?q=chicken", headers=browser),
        "signed-in recipe page": target.wrk(recipe, headers=signed_in),
    }
    one = f"{target.base}/recipes/{target.published_recipe()}"
    paired = {
        PAGE_ALTERNATING: (recipe, browser),
        API_ALTERNATING: (one, {"Accept-Encoding": browser["Accept-Encoding"]}),
    }
    rows |= alternating(target, paired, PAIRS, max(2, SECONDS // 2))
    measured = {name: _measured(name, figures) for name, figures in rows.items()}
    pages = varied.recipe_pages(target.port)
    name = "signed-in recipe pages, varied"
    measured |= _each_once(target, name, pages, {"pages": len(pages)}, headers=signed_in)
    return measured


def repeated_searches(target: Target) -> Rows:
    """The searches of bench/lua/search_words.lua: a few hundred, asked again and again."""
    rows = {
        "search, 500 varied queries": target.wrk(
            f"{target.base}/recipes", script="search_varied.lua"
        ),
        "search, cache miss, 1 connection": target.wrk(
            f"{target.base}/recipes", script="search_misses.lua", connections=1
        ),
    }
    return {name: _measured(name, figures) for name, figures in rows.items()}


def _each_once(
    target: Target,
    name: str,
    paths: list[str],
    about: dict[str, int],
    headers: dict[str, str] | None = None,
) -> Rows:
    file = varied.write_paths(paths, target.folder, name.split(",")[0].replace(" ", "-"))
    clear_caches(target.port)
    figures = target.wrk(
        target.base,
        script="paths.lua",
        env={**target.env, "BENCH_PATHS": str(file)},
        headers=headers or {},
    )
    # Past the end of the file the paths come round again, and may be replayed.
    figures["varied"] = {**about, "asked_again": max(0, int(figures["requests"]) - len(paths))}
    return {name: _measured(name, figures)}


def varied_reads(target: Target, rng: random.Random) -> Rows:
    """List pages and searches asked once each: every page misses every cache."""
    lists, about_lists = varied.list_paths(target.port, rng)
    searches, about_searches = varied.search_paths(target.port, rng)
    return {
        **_each_once(target, "list pages, varied (cache misses)", lists, about_lists),
        **_each_once(target, "search, varied (cache misses)", searches, about_searches),
    }


def logins(target: Target) -> Rows:
    """Logins alone; then anonymous reads of one recipe alone, and at once while logins run
    beside them (back to back, so the machine's load is alike for both)."""
    env = {**target.env, "BENCH_USERNAME": USERNAME, "BENCH_PASSWORD": PASSWORD}
    tokens = f"{target.base}/tokens"
    alone = target.wrk(tokens, script="post_token.lua", env=env, connections=LOGIN_CONNECTIONS)
    rows: Rows = {"login": _measured("login", alone)}
    # The logins start first and end last, so the reads run beside them the whole time.
    one = f"{target.base}/recipes/{target.published_recipe()}"
    reads_alone = target.wrk(one)
    target.settle()
    beside = Load(
        tokens, "post_token.lua", env=env, connections=LOGIN_CONNECTIONS, seconds=SECONDS + 2
    ).start()
    time.sleep(1)
    reads = wrk(one)  # not target.wrk: the server is busy with the logins on purpose
    reads["logins"] = beside.figures()
    reads["alone"] = reads_alone
    rows["GET one recipe while logins run"] = _measured("reads while logins run", reads)
    return rows


def writes(target: Target) -> Rows:
    token = sign_in(target.port)
    auth = {"Authorization": f"Bearer {token}"}
    mine = [
        api(target.port, "/recipes", {"name": f"Bench target {n}"}, auth)[1]["id"]
        for n in range(500)
    ]
    env = {**target.env, "BENCH_TOKEN": token, "BENCH_RECIPE_IDS": ",".join(map(str, mine))}
    rows = {
        "create": target.wrk(f"{target.base}/recipes", script="post_recipe.lua", env=env),
        "update": target.wrk(f"{target.base}/recipes", script="patch_recipe.lua", env=env),
    }
    return {name: _measured(name, figures) for name, figures in rows.items()}


def sqlite_rows(target: Target, rng: random.Random, every_row: bool) -> Rows:
    """At the first size, every row; at the others, the reads whose cost may grow with size."""
    if not every_row:
        return {
            **anonymous_reads(target, revalidation=False),
            **repeated_searches(target),
            **varied_reads(target, rng),
        }
    rows = {
        **anonymous_reads(target),
        **signed_in_read(target),
        **web_pages(target),
        **repeated_searches(target),
        **varied_reads(target, rng),
    }
    rows.update(logins(target))
    rows.update(writes(target))
    return rows


def postgres_rows(target: Target, rng: random.Random) -> Rows:
    return {
        **anonymous_reads(target, revalidation=False),
        **signed_in_read(target),
        **varied_reads(target, rng),
        **writes(target),
    }
