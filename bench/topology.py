"""`make bench-topology`: the bench's PostgreSQL rows through the scaled-out topology, each
as a ratio to the same topology serving a Flask hello-world, at one instance and at two.

The topology is deploy/up.sh's (bench/deployment.py: nginx with TLS in front of the
instances, PostgreSQL with fsync on, Redis), seeded with `potluck seed`. The hello-world
topology is bench/hello.py on granian with the same workers and blocking threads per
instance, behind an nginx rendered from the same templates (deploy/nginx) with the same
certificate. wrk drives each row over TLS (HTTP/1.1 keep-alive; wrk speaks no HTTP/2) on
loopback, and the CPU each part used is counted, so the report says what limits a row.
For each WEB_WORKERS value of TOPOLOGY_WORKERS, each row is measured with nginx sending to
one instance and to two, TOPOLOGY_REPEATS times in alternating order (deploy/up.sh again with
INSTANCE_PORTS listing one or both: it starts what is missing and reloads nginx).

From the environment: TOPOLOGY_WORKERS (granian workers per instance, "2,1"),
TOPOLOGY_RECIPES (10000), TOPOLOGY_REPEATS (2), BENCH_SECONDS (10 a row), BENCH_CONNECTIONS
(50), WEB_THREADS (4),
TOPOLOGY_NAME (the results' name: by default topology-<date>, with -smoke when a row is
shorter than 10 s). Writes bench/results/<name>.json, .md and .png."""

from __future__ import annotations

import os
import re
import resource
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
import topology_report
from deployment import Deployment, code_version, cpu_seconds, machine_seconds
from hello_topology import HelloTopology
from loads import CONNECTIONS, SECONDS, Load, api, log, sign_in
from servers import BENCH, PASSWORD, THREADS, USERNAME

RESULTS = BENCH / "results"
WORKERS = [int(n) for n in os.environ.get("TOPOLOGY_WORKERS", "2,1").split(",")]
RECIPES = int(os.environ.get("TOPOLOGY_RECIPES", 10000))
REPEATS = int(os.environ.get("TOPOLOGY_REPEATS", 2))
HELLO = "hello-world (Flask)"
_AVERAGED = ("requests_per_s", "p50_ms", "p99_ms")  # over the repeats of a row
_STATUS = re.compile(rb'" (\d{3}) ')


def statuses_since(access_log: Path, offset: int) -> dict[str, int]:
    """The statuses nginx logged since `offset` (its log format: `... "request" status ...`)."""
    with access_log.open("rb") as lines:
        lines.seek(offset)
        found = Counter(match.group(1).decode() for match in map(_STATUS.search, lines) if match)
    return dict(sorted(found.items()))


def measured(load: Load, groups: dict[str, list[int]], access_log: Path) -> dict[str, Any]:
    """wrk's figures, the statuses nginx answered, and the cores each part of the topology
    used meanwhile."""
    offset = access_log.stat().st_size
    started = time.monotonic()
    before = {part: cpu_seconds(pids) for part, pids in groups.items()}
    machine = machine_seconds()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = load.start().figures()
    span = time.monotonic() - started
    cores = {part: (cpu_seconds(pids) - before[part]) / span for part, pids in groups.items()}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cores["wrk"] = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime) / span
    machine = {
        part: (seconds - machine[part]) / span for part, seconds in machine_seconds().items()
    }
    cores["other processes"] = machine["processes"] - sum(cores.values())
    cores["interrupts, steal"] = machine["interrupts, steal"]
    figures["cores"] = {part: round(value, 2) for part, value in cores.items()}
    figures["statuses"] = statuses_since(access_log, offset)
    log(
        f"  {figures['requests_per_s']:,.0f}/s, p99 {figures['p99_ms']:.1f} ms, "
        f"{figures['errors']} errors; cores: "
        + ", ".join(f"{part} {value:.2f}" for part, value in figures["cores"].items())
    )
    return figures


def _loads(deployment: Deployment, recipe_id: int, writable: list[int]) -> dict[str, Any]:
    """The rows: wrk loads of the bench's PostgreSQL pass, through nginx."""
    base = f"{deployment.public}/api/v1"
    signed_in = {**os.environ, "BENCH_TOKEN": sign_in(deployment.instance_ports[0])}
    writes = {**signed_in, "BENCH_RECIPE_IDS": ",".join(map(str, writable))}
    return {
        "GET one recipe": lambda: Load(f"{base}/recipes/{recipe_id}"),
        "GET one recipe, signed in": lambda: Load(
            f"{base}/recipes/{recipe_id}", "get_signed_in.lua", env=signed_in
        ),
        "search (one query)": lambda: Load(f"{base}/recipes?q=chicken"),
        "search, 500 varied queries": lambda: Load(f"{base}/recipes", "search_varied.lua"),
        "create": lambda: Load(f"{base}/recipes", "post_recipe.lua", env=writes),
        "update": lambda: Load(f"{base}/recipes", "patch_recipe.lua", env=writes),
    }


def _combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of the repeats (each kept under "runs")."""
    mean = {key: round(sum(run[key] for run in runs) / len(runs), 2) for key in _AVERAGED}
    cores = {
        part: round(sum(run["cores"].get(part, 0.0) for run in runs) / len(runs), 2)
        for part in runs[0]["cores"]
    }
    errors, requests = sum(run["errors"] for run in runs), sum(run["requests"] for run in runs)
    statuses: Counter[str] = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    return {
        **mean,
        "errors": errors,
        "requests": requests,
        "statuses": dict(sorted(statuses.items())),
        "cores": cores,
        "runs": runs,
    }


def one_and_two(measure_at: Callable[[int], dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """A row at one instance and at two, REPEATS times, in alternating order (1 2, 2 1, ...),
    so a drift in what else the machine runs weighs on both alike."""
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for repeat in range(REPEATS):
        for instances in (1, 2) if repeat % 2 == 0 else (2, 1):
            runs[instances].append(measure_at(instances))
    return {instances: _combined(found) for instances, found in runs.items()}


def measure_workers(
    deployment: Deployment, workers: int, recipe_id: int, writable: list[int]
) -> dict[str, dict[str, Any]]:
    """Every row at one and two instances of `workers` workers: {"1 x 2": rows, ...}."""
    rows: dict[int, dict[str, Any]] = {1: {}, 2: {}}
    hello = HelloTopology(deployment, workers)
    try:
        log(f"== {workers} worker(s) per instance: {HELLO}")

        idle = [pid for pids in deployment.process_groups().values() for pid in pids]

        def hello_at(instances: int) -> dict[str, Any]:
            front = hello.fronts[instances]
            groups = {**front.process_groups(), "Potluck, idle": idle}
            return measured(Load(front.url), groups, front.folder / "nginx-access.log")

        for instances, figures in one_and_two(hello_at).items():
            rows[instances][HELLO] = figures
    finally:
        hello.stop()
    for name, load in _loads(deployment, recipe_id, writable).items():
        log(f"== {workers} worker(s) per instance: {name}")

        def potluck_at(instances: int, load: Callable[[], Load] = load) -> dict[str, Any]:
            deployment.up(instances)
            if not deployment.wait_idle():
                log("the deployment is still busy after a minute; measuring anyway")
            groups = deployment.process_groups()
            groups.pop("mail worker")
            return measured(load(), groups, deployment.access_log)

        for instances, figures in one_and_two(potluck_at).items():
            rows[instances][name] = figures
    for found in rows.values():
        for figures in found.values():
            ratio = figures["requests_per_s"] / found[HELLO]["requests_per_s"]
            figures["ratio_to_hello"] = round(ratio, 4)
    for name, figures in rows[2].items():
        growth = figures["requests_per_s"] / rows[1][name]["requests_per_s"]
        figures["growth_from_one_instance"] = round(growth, 3)
    return {f"{n} x {workers}": {"instances": n, "workers": workers, "rows": rows[n]} for n in rows}


def prepare(deployment: Deployment) -> tuple[int, list[int]]:
    """Seed, make the bench account and 500 recipes of its own to update; the recipe the
    reads ask for."""
    started = time.perf_counter()
    deployment.admin("seed", "--recipes", str(RECIPES), "--users", "200")
    log(f"seeded {RECIPES:,} recipes in {time.perf_counter() - started:.0f} s")
    deployment.create_account(USERNAME, PASSWORD)
    port = deployment.instance_ports[0]
    auth = {"Authorization": f"Bearer {sign_in(port)}"}
    mine = [api(port, "/recipes", {"name": f"Bench target {n}"}, auth)[1]["id"] for n in range(500)]
    _, listing = api(port, "/recipes?per_page=1")
    return listing["data"][0]["id"], mine


def measure() -> dict[str, Any]:
    passes: dict[str, Any] = {}
    deployment = Deployment(WORKERS[0], {"ACCESS_LOG": "0"})  # as the bench's servers run
    try:
        deployment.up(1)
        recipe_id, writable = prepare(deployment)
        for workers in WORKERS:
            if workers != deployment.web_workers:
                deployment.down()  # the data stays
                deployment.web_workers = workers
                deployment.up(1)
            passes.update(measure_workers(deployment, workers, recipe_id, writable))
    finally:
        deployment.remove()
    return passes


def stem(now: datetime) -> Path:
    default = "topology-" + now.strftime("%Y-%m-%d")
    return report.results_stem(RESULTS, "TOPOLOGY_NAME", default, SECONDS < 10, now)


def main() -> None:
    now = datetime.now(UTC)
    load_start = os.getloadavg()[0]
    results = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores",
        "settings": {
            "seconds": SECONDS,
            "connections": CONNECTIONS,
            "threads": THREADS,
            "workers": WORKERS,
            "recipes": RECIPES,
            "repeats": REPEATS,
            "code": code_version(),
        },
        "passes": measure(),
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
    }
    print(topology_report.write(results, stem(now)).read_text())


if __name__ == "__main__":
    main()
