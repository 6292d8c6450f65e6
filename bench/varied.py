"""Varied reads that miss the caches: many list pages (filters, sorts, orders, numbered pages,
deep cursors) and many searches, each asked once (bench/lua/paths.lua cycles through them).

Which pages exist is asked beforehand through the API (a page past the end would be an
empty, cheap answer); so is each deep cursor, by walking lists. Those asks fill the caches,
so the row clears them (loads.clear_caches) right before it runs."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from loads import api, log
from servers import BENCH

from potluck.web.links import slugify

SORTS = ("created_at", "updated_at", "name", "cook_time", "num_of_servings")
ORDERS = (None, "asc", "desc")
COOK_TIMES = (10, 15, 20, 30, 45, 60, 90, 120)
PER_PAGES = (10, 20, 20, 20, 50, 100)  # mostly the default
PAGE_DEPTH = 50  # numbered pages asked: 1 to 50, or fewer when the list has fewer
SEARCH_PAGE_DEPTH = 20
CURSOR_WALK = 25  # pages of 100 walked per list for cursors: up to 2,500 rows deep
CURSOR_SHARE = 0.25  # of the list paths, those that start at a deep cursor
PATHS = 40_000  # distinct paths; a row that asks more starts over (the report says so)
SEARCH_WORDS = re.findall(r'"([^"]+)"', (BENCH / "lua" / "search_words.lua").read_text())

Query = dict[str, Any]


def _path(query: Query) -> str:
    return "/api/v1/recipes?" + urlencode({k: v for k, v in query.items() if v is not None}, True)


def _total(port: int, query: Query) -> int:
    _, page = api(port, _path({**query, "per_page": 1})[len("/api/v1") :])
    total: int = page["total"]
    return total


def _vocabulary(port: int) -> tuple[list[str], list[str]]:
    """Tag names, most used first, and authors of recipes seen on a few list pages."""
    _, tags = api(port, "/tags?per_page=100")
    authors: set[str] = set()
    for sort in SORTS:
        _, page = api(port, f"/recipes?per_page=100&sort={sort}")
        authors.update(recipe["author"]["username"] for recipe in page["data"])
    return [tag["name"] for tag in tags["data"]], sorted(authors)[:60]


def _list_filters(tags: list[str], authors: list[str], rng: random.Random) -> list[Query]:
    filters: list[Query] = [{}]
    filters += [{"tag": [tag]} for tag in tags]
    filters += [{"author": author} for author in authors]
    filters += [{"max_cook_time": minutes} for minutes in COOK_TIMES]
    for _ in range(30):
        filters.append({"tag": [rng.choice(tags)], "max_cook_time": rng.choice(COOK_TIMES)})
        filters.append({"tag": [rng.choice(tags)], "author": rng.choice(authors)})
    for _ in range(20):
        filters.append({"tag": rng.sample(tags, 2)})
        filters.append({"author": rng.choice(authors), "max_cook_time": rng.choice(COOK_TIMES)})
    unique = {_path(query): query for query in filters}
    return list(unique.values())


def _walk(port: int, query: Query) -> list[str]:
    """The next_cursor of each page of a list, walked with the API, 100 rows a page."""
    cursors, cursor = [], None
    for _ in range(CURSOR_WALK):
        _, page = api(port, _path({**query, "per_page": 100, "cursor": cursor})[len("/api/v1") :])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    return cursors


def _distinct(draw: Callable[[], str], count: int) -> list[str]:
    paths: dict[str, None] = {}
    for _ in range(count * 20):
        paths[draw()] = None
        if len(paths) == count:
            break
    return list(paths)


def _numbered(
    rng: random.Random, lists: list[tuple[Query, int]], sorts: Iterable[str], depth: int
) -> str:
    query, total = rng.choice(lists)
    per_page = rng.choice(PER_PAGES)
    pages = min(depth, max(1, math.ceil(total / per_page)))
    sort = rng.choice(list(sorts))
    return _path(
        {
            **query,
            "sort": sort,
            "order": rng.choice(ORDERS),
            "per_page": per_page,
            "page": rng.randint(1, pages),
        }
    )


def list_paths(port: int, rng: random.Random) -> tuple[list[str], dict[str, int]]:
    """Paths of list pages, and what went into them (for the report)."""
    tags, authors = _vocabulary(port)
    filters = _list_filters(tags, authors, rng)
    lists = [(query, total) for query in filters if (total := _total(port, query))]
    log(f"varied lists: {len(lists)} filters with recipes of {len(filters)}; walking cursors")
    starts = []
    for query in ({}, {"tag": [tags[0]]}, {"max_cook_time": 30}):
        for sort in SORTS:
            for order in ("asc", "desc"):
                listed = {**query, "sort": sort, "order": order}
                starts += [(listed, cursor) for cursor in _walk(port, listed)]

    def draw() -> str:
        if starts and rng.random() < CURSOR_SHARE:
            listed, cursor = rng.choice(starts)
            return _path({**listed, "per_page": rng.randint(1, 99), "cursor": cursor})
        return _numbered(rng, lists, SORTS, PAGE_DEPTH)

    paths = _distinct(draw, PATHS)
    return paths, {"filters": len(lists), "deep_cursors": len(starts), "paths": len(paths)}


def search_paths(port: int, rng: random.Random) -> tuple[list[str], dict[str, int]]:
    """Paths of searches: 25 words, alone or with a tag or a cook time, in 4 sorts."""
    tags, _ = _vocabulary(port)
    searches: list[Query] = []
    for word in SEARCH_WORDS:
        searches.append({"q": word})
        searches += [{"q": word, "tag": [tag]} for tag in rng.sample(tags[:10], 2)]
        searches.append({"q": word, "max_cook_time": rng.choice(COOK_TIMES)})
    lists = [(query, total) for query in searches if (total := _total(port, query))]
    sorts = ("relevance", "created_at", "name", "cook_time")
    paths = _distinct(lambda: _numbered(rng, lists, sorts, SEARCH_PAGE_DEPTH), PATHS)
    return paths, {"searches": len(lists), "paths": len(paths)}


def recipe_pages(port: int, count: int = 5_000) -> list[str]:
    """The site's pages of `count` published recipes (fewer when there are fewer), newest
    first: /recipes/<id>-<slug>, the canonical URL the site itself links to."""
    pages: list[str] = []
    cursor = None
    while len(pages) < count:
        query = {"per_page": 100, "cursor": cursor}
        _, page = api(port, _path(query)[len("/api/v1") :])
        pages += [f"/recipes/{recipe['id']}-{slugify(recipe['name'])}" for recipe in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return pages[:count]


def write_paths(paths: list[str], folder: Path, name: str) -> Path:
    file = folder / f"{name}.paths"
    file.write_text("\n".join(paths) + "\n")
    return file
