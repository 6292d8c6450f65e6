"""An anonymous recipe page against the API's GET of the same recipe, in alternating pairs on
one server, so that a shared machine's drift falls on both alike (the bench's rows run minutes
apart). Both are replayed before Flask; what differs is the stored answer.

    .venv/bin/python bench/page_vs_api.py          # PAIRS (6) pairs of PAIR_SECONDS (8) each

From the environment also BENCH_PAGE_SIZE (recipes seeded, 10,000) and BENCH_ENCODING (an
Accept-Encoding both send, as browsers and the Python client do; none by default). Prints
each run and the ratio of the means (rows.alternating, which `make bench` uses too)."""

from __future__ import annotations

import os
import shutil

from loads import BROWSER_ACCEPT, log, page_path
from rows import Target, alternating
from servers import seeded_instance, serve_potluck

PAIRS = int(os.environ.get("PAIRS", 6))
PAIR_SECONDS = int(os.environ.get("PAIR_SECONDS", 8))
SIZE = int(os.environ.get("BENCH_PAGE_SIZE", 10_000))
ENCODING = os.environ.get("BENCH_ENCODING", "")


def main() -> None:
    instance, env, _ = seeded_instance(SIZE)
    try:
        server = serve_potluck(env)
        try:
            target = Target(server, env, instance)
            recipe_id = target.published_recipe()
            encoding = {"Accept-Encoding": ENCODING} if ENCODING else {}
            page = f"http://127.0.0.1:{server.port}{page_path(server.port, recipe_id)}"
            kinds = {
                "page": (page, {"Accept": BROWSER_ACCEPT, **encoding}),
                "API": (f"{target.base}/recipes/{recipe_id}", encoding),
            }
            means = alternating(target, kinds, PAIRS, PAIR_SECONDS)
            ratio = means["page"]["requests_per_s"] / means["API"]["requests_per_s"]
            log(f"page / API, over {PAIRS} pairs: {ratio:.3f}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
