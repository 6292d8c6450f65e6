"""`make soak`: a long mixed read/write load through the real deployment, deploy/up.sh on
free loopback ports (nginx with TLS and HTTP/2 in front of two instances, PostgreSQL, Redis,
the mail worker), seeded with `potluck seed`. Visitors browse the home, search and recipe
pages and the API; cooks sign in (API tokens and the web login form, argon2id at the
production cost), read signed in, create, update and publish recipes and upload covers
(bench/soak_traffic.py). The RSS of every app worker is sampled all along; nginx's access log
gives the latency as the edge saw it. Writes bench/results/soak-<date>.json, .md and .png.

From the environment: SOAK_SECONDS (600), SOAK_RATE (actions a second on average, 40),
SOAK_RECIPES (10000) and SOAK_USERS (200) to seed, SOAK_COOKS (signed-in accounts, 8),
SOAK_VISITORS (anonymous HTTP/2 connections, 8), SOAK_INSTANCES (2), SOAK_WEB_WORKERS
(granian workers per instance, 2), SOAK_SAMPLE_SECONDS (RSS sampling, 5), SOAK_NAME (the
results' name: by default soak-<date>, with -smoke when shorter than 600 s)."""

from __future__ import annotations

import asyncio
import io
import os
import random
import resource
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import soak_report
import soak_results
from deployment import Deployment, code_version, cpu_seconds, machine_seconds, rss_mib
from loads import log
from PIL import Image, ImageDraw
from soak_traffic import Catalogue, Traffic

SECONDS = int(os.environ.get("SOAK_SECONDS", 600))
RATE = float(os.environ.get("SOAK_RATE", 40))
RECIPES = int(os.environ.get("SOAK_RECIPES", 10000))
USERS = int(os.environ.get("SOAK_USERS", 200))
COOKS = int(os.environ.get("SOAK_COOKS", 8))
VISITORS = int(os.environ.get("SOAK_VISITORS", 8))
INSTANCES = int(os.environ.get("SOAK_INSTANCES", 2))
WEB_WORKERS = int(os.environ.get("SOAK_WEB_WORKERS", 2))
SAMPLE_SECONDS = float(os.environ.get("SOAK_SAMPLE_SECONDS", 5))
PASSWORD = "a soak cook's long passphrase"  # noqa: S105 - throwaway accounts, throwaway database


def photos(count: int, rng: random.Random) -> list[bytes]:
    """Camera-sized JPEGs (1600 x 1200), each different so each is stored anew."""
    made = []
    for _ in range(count):
        image = Image.new("RGB", (1600, 1200), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(60):
            x, y, size = rng.randrange(1600), rng.randrange(1200), rng.randrange(40, 400)
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x, y, x + size, y + size), fill=colour)
        noise = Image.effect_noise((1600, 1200), 24).convert("RGB")
        image = Image.blend(image, noise, 0.15)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        made.append(buffer.getvalue())
    return made


def catalogue(deployment: Deployment, rng: random.Random) -> Catalogue:
    """Published recipes from the API's lists, and their pages' paths (where a browser
    asking for /recipes/<id>- is sent)."""
    verify = ssl.create_default_context(cafile=deployment.ca)
    with httpx.Client(base_url=deployment.public, verify=verify, timeout=60) as client:
        ids: set[int] = set()
        for sort in ("created_at", "name", "cook_time"):
            for page in (1, rng.randint(2, 40)):
                listing = client.get(f"/api/v1/recipes?per_page=100&page={page}&sort={sort}")
                listing.raise_for_status()
                ids.update(recipe["id"] for recipe in listing.json()["data"])
        recipe_ids = sorted(ids)
        paths = []
        for recipe_id in rng.sample(recipe_ids, min(200, len(recipe_ids))):
            moved = client.get(f"/recipes/{recipe_id}-", headers={"Accept": "text/html"})
            paths.append(httpx.URL(moved.headers["Location"]).path)
    return Catalogue(recipe_ids, paths)


def own_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


class Sampler:
    """Every SAMPLE_SECONDS: the RSS of each app worker (a restarted worker is a new
    series); the cores the deployment, the load generator and everything else on the
    machine (other people's work on a shared box) used since the last sample; how late the
    sampler itself woke (the load generator's event-loop lag)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.groups = deployment.process_groups()
        self.started = time.monotonic()
        self.rss: dict[str, list[tuple[float, float]]] = {}
        self.cores: list[dict[str, float]] = []
        self.wake_lag_ms: list[float] = []
        self.first = self.last = self._meters()

    def _meters(self) -> dict[str, float]:
        return {
            "time": time.monotonic(),
            **{part: cpu_seconds(pids) for part, pids in self.groups.items()},
            "load generator": own_cpu_seconds(),
            **machine_seconds(),
        }

    @staticmethod
    def _cores(since: dict[str, float], now: dict[str, float]) -> dict[str, float]:
        span = now["time"] - since["time"]
        used = {part: (now[part] - since[part]) / span for part in now if part != "time"}
        interrupts = used.pop("interrupts, steal")
        used["other processes"] = used.pop("processes") - sum(used.values())
        used["interrupts, steal"] = interrupts
        return {part: round(value, 3) for part, value in used.items()}

    def sample(self) -> None:
        elapsed = round(time.monotonic() - self.started, 1)
        for instance, pids in self.deployment.workers().items():
            for number, pid in enumerate(sorted(pids), 1):
                rss = rss_mib(pid)
                if rss is not None:
                    key = f"{instance} worker {number} (pid {pid})"
                    self.rss.setdefault(key, []).append((elapsed, rss))
        now = self._meters()
        if now["time"] - self.last["time"] > 1:
            self.cores.append({"t": elapsed, **self._cores(self.last, now)})
        self.last = now

    def total_cores(self) -> dict[str, float]:
        return self._cores(self.first, self.last)

    async def run(self, seconds: float) -> None:
        while time.monotonic() - self.started < seconds:
            self.sample()
            due = time.monotonic() + SAMPLE_SECONDS
            await asyncio.sleep(SAMPLE_SECONDS)
            self.wake_lag_ms.append((time.monotonic() - due) * 1e3)
            elapsed = time.monotonic() - self.started
            if int(elapsed) // 60 != int(elapsed - SAMPLE_SECONDS) // 60:
                log(f"soak: {elapsed:.0f} s of {seconds:.0f}")
        self.sample()


async def drive(deployment: Deployment, traffic: Traffic) -> dict[str, Any]:
    await traffic.sign_in_everyone()
    log(f"soak: {SECONDS} s at {RATE:g} actions/s")
    log_offset = deployment.access_log.stat().st_size
    load_before = os.getloadavg()[0]
    sampler = Sampler(deployment)
    await asyncio.gather(traffic.run(SECONDS, RATE), sampler.run(SECONDS))
    wall = time.monotonic() - sampler.started
    await traffic.close()
    return {
        "wall_seconds": wall,
        "rss": sampler.rss,
        "sampler_wake_lag_ms": sampler.wake_lag_ms,
        "cpu_cores": sampler.total_cores(),
        "cores_timeline": sampler.cores,
        "load_average": {"start": load_before, "end": os.getloadavg()[0]},
        "edge": soak_report.edge_lines(deployment.access_log, log_offset),
    }


def main() -> None:
    now = datetime.now(UTC)
    rng = random.Random(14)
    deployment = Deployment(WEB_WORKERS)
    try:
        deployment.up(INSTANCES)
        started = time.perf_counter()
        deployment.admin("seed", "--recipes", str(RECIPES), "--users", str(USERS))
        log(f"seeded {RECIPES:,} recipes by {USERS} users in {time.perf_counter() - started:.0f} s")
        cooks = [(f"soakcook{n}", PASSWORD) for n in range(1, COOKS + 1)]
        for username, password in cooks:
            deployment.create_account(username, password)
        covers = photos(12, rng)
        traffic = Traffic(
            deployment.public,
            deployment.ca,
            cooks,
            catalogue(deployment, rng),
            covers,
            VISITORS,
            rng,
        )
        measured = asyncio.run(drive(deployment, traffic))
        settings = {
            "seconds": SECONDS,
            "rate": RATE,
            "recipes": RECIPES,
            "users": USERS,
            "cooks": COOKS,
            "visitors": VISITORS,
            "instances": INSTANCES,
            "web_workers": WEB_WORKERS,
            "web_threads": int(os.environ.get("WEB_THREADS", 4)),
            "sample_seconds": SAMPLE_SECONDS,
            "code": code_version(),
            "cover_jpeg_kib": round(sum(map(len, covers)) / len(covers) / 1024),
        }
        results = soak_report.summarize(now, settings, traffic, measured)
    finally:
        deployment.remove()
    stem = soak_report.stem(now, SECONDS)
    print(soak_results.write(results, stem).read_text())


if __name__ == "__main__":
    main()
