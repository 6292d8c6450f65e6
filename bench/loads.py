"""Loads: wrk on loopback with a Lua script from bench/lua (alone, or two at once), and the
plain API calls that prepare them."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import BENCH, PASSWORD, USERNAME

SECONDS = int(os.environ.get("BENCH_SECONDS", 10))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 50))
# Logins are argon2id at production cost: a few at a time already fill the cores.
LOGIN_CONNECTIONS = int(os.environ.get("BENCH_LOGIN_CONNECTIONS", 4))
# Past wrk's 2 s default, so a slow answer is counted in the latency, not as an error.
TIMEOUT = "10s"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_FIGURES = re.compile(r"BENCH (.*)")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Load:
    """One wrk process: start it, then `figures()` waits for it and reads its report line."""

    url: str
    script: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    connections: int = CONNECTIONS
    seconds: float = SECONDS
    process: subprocess.Popen[str] | None = None
    _lua: Path | None = None

    def start(self) -> Load:
        lua = (BENCH / "lua" / "report.lua").read_text()
        if self.script:
            lua = (BENCH / "lua" / self.script).read_text() + "\n" + lua
            if self.script.startswith("search_"):
                lua = (BENCH / "lua" / "search_words.lua").read_text() + "\n" + lua
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
            file.write(lua)
        self._lua = Path(file.name)
        threads = min(2, self.connections)
        command = [
            *("wrk", f"-t{threads}", f"-c{self.connections}", f"-d{self.seconds}s"),
            *("--timeout", TIMEOUT, "-s", file.name),
        ]
        for name, value in self.headers.items():
            command += ["-H", f"{name}: {value}"]
        env = {**self.env, "BENCH_THREADS": str(threads)}
        self.process = subprocess.Popen(
            [*command, self.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return self

    def figures(self) -> dict[str, Any]:
        assert self.process is not None, "start() first"
        output, errors = self.process.communicate()
        if self._lua is not None:
            self._lua.unlink(missing_ok=True)
        match = _FIGURES.search(output)
        if self.process.returncode != 0 or match is None:
            raise RuntimeError(f"wrk gave no figures:\n{output}\n{errors}")
        figures = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
        return {
            "requests_per_s": round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
            "p50_ms": figures["p50_us"] / 1000,
            "p99_ms": figures["p99_us"] / 1000,
            "errors": figures["errors"],
            "requests": figures["requests"],
            "connections": self.connections,
        }


def wrk(url: str, **options: Any) -> dict[str, Any]:
    return Load(url, **options).start().figures()


def api(
    port: int,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        raw = response.read()
        return response.headers, json.loads(raw) if raw else None


def sign_in(port: int) -> str:
    """A fresh access token of the benchmark account (they expire in minutes)."""
    _, tokens = api(port, "/tokens", {"username": USERNAME, "password": PASSWORD})
    token: str = tokens["access_token"]
    return token


def site_session(port: int) -> str:
    """The Cookie header of the benchmark account signed in to the site (its login form,
    with the form's CSRF token and the session cookie it came with)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = f"http://127.0.0.1:{port}/account/login"
    with opener.open(login, timeout=120) as response:
        form = response.read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, "no CSRF token in the login form"
    fields = {"csrf_token": token.group(1), "login": USERNAME, "password": PASSWORD}
    with opener.open(login, data=urllib.parse.urlencode(fields).encode(), timeout=120):
        pass
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def page_path(port: int, recipe_id: int) -> str:
    """A recipe's page on the site, where a browser asking for /recipes/<id> lands."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/recipes/{recipe_id}", headers={"Accept": BROWSER_ACCEPT}
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return urllib.parse.urlsplit(response.url).path


def answers_quickly(port: int) -> bool:
    """Three quick answers in a row, each on a new connection (so to any worker), within a
    minute: the database too is done with what came before."""
    quick, give_up = 0, time.monotonic() + 60
    while quick < 3 and time.monotonic() < give_up:
        started = time.perf_counter()
        api(port, "/recipes?per_page=1")
        quick = quick + 1 if time.perf_counter() - started < 0.05 else 0
    return quick >= 3


def clear_caches(port: int) -> None:
    """Publishing a recipe moves the cache generation (a draft's writes do not), so no answer
    or count kept so far is used again; unpublishing it leaves the public lists as they were."""
    headers = {"Authorization": f"Bearer {sign_in(port)}"}
    recipe = {
        "name": "Bench: every cache cleared",
        "ingredients": ["1 benchmark"],
        "directions": ["Publish, then unpublish."],
    }
    _, created = api(port, "/recipes", recipe, headers)
    for method in ("PUT", "DELETE"):
        api(port, f"/recipes/{created['id']}/publish", headers=headers, method=method)
