"""The soak's traffic: anonymous visitors and signed-in cooks reaching nginx over TLS and
HTTP/2 (httpx, one connection per visitor and per cook's browser or script), an open-loop mix
of actions arriving at a fixed mean rate (Poisson), each answer recorded with its kind, status
and time. Open loop: a slow answer does not slow the arrivals, so queueing shows in the
latency instead of hiding in a lower request rate."""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from loads import BROWSER_ACCEPT

SEARCH_WORDS = re.findall(
    r'"(\w+)"', (Path(__file__).parent / "lua" / "search_words.lua").read_text()
)
SORTS = ("created_at", "updated_at", "name", "cook_time")
# Past this many actions in flight the generator stops adding more and counts them as
# dropped: a stalled deployment must not grow the load generator without bound.
MAX_IN_FLIGHT = 2000
# A browser session replaced by a new login is closed this long after (its last answers).
RETIRE_SECONDS = 60


@dataclass
class Catalogue:
    """Published recipes to read: API ids and their pages' canonical paths."""

    recipe_ids: list[int]
    page_paths: list[str]
    cover_paths: list[str] = field(default_factory=list)


@dataclass
class Cook:
    """A confirmed account: a browser (its session cookie) and a script (its bearer token),
    each on its own HTTP/2 connection, and the recipes it wrote with their last ETags."""

    username: str
    password: str
    browser: httpx.AsyncClient
    script: httpx.AsyncClient
    token: str = ""
    drafts: list[int] = field(default_factory=list)
    etags: dict[int, str] = field(default_factory=dict)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def connection(public: str, ca: Path) -> httpx.AsyncClient:
    verify = ssl.create_default_context(cafile=ca)
    return httpx.AsyncClient(
        base_url=public, http2=True, verify=verify, timeout=60, follow_redirects=False
    )


class Traffic:
    """The mix (KINDS: name, weight, action) and what each answer was."""

    def __init__(
        self,
        public: str,
        ca: Path,
        cooks: list[tuple[str, str]],
        catalogue: Catalogue,
        covers: list[bytes],
        visitors: int,
        rng: random.Random,
    ) -> None:
        self.rng = rng
        self.catalogue = catalogue
        self.covers = covers
        self.public, self.ca = public, ca
        self.visitors = [connection(public, ca) for _ in range(visitors)]
        self.signed_out: list[httpx.AsyncClient] = []  # browsers replaced by a new login
        self.retiring: set[asyncio.Task[None]] = set()
        self.cooks = [
            Cook(name, password, connection(public, ca), connection(public, ca))
            for name, password in cooks
        ]
        self.busy: set[int] = set()  # recipes a write is in flight for
        self.started = time.monotonic()
        # (seconds since start, kind, status or 0 for a transport error, milliseconds)
        self.samples: list[tuple[float, str, int, float]] = []
        self.setup_samples: list[tuple[float, str, int, float]] = []
        self.transport_errors: dict[str, int] = {}
        self.dropped = 0
        self.goaway_retries = 0
        self.lag: list[float] = []  # how late each action was sent, seconds

    async def send(
        self, client: httpx.AsyncClient, kind: str, method: str, url: str, **options: Any
    ) -> httpx.Response | None:
        headers = {"User-Agent": f"potluck-soak ({kind})", **options.pop("headers", {})}
        sent = time.monotonic()
        try:
            try:
                response = await client.request(method, url, headers=headers, **options)
            except (httpx.RemoteProtocolError, httpx.LocalProtocolError):
                if method != "GET":
                    raise
                # nginx ends an HTTP/2 connection with a graceful GOAWAY at its 1,000th request
                # (keepalive_requests); httpx fails what was still in flight on it, or what it
                # was sending on it as it closed (a local protocol error), where a browser asks
                # again on a new connection. So does the soak, for reads.
                self.goaway_retries += 1
                response = await client.request(method, url, headers=headers, **options)
        except httpx.HTTPError as error:
            name = type(error).__name__
            self.transport_errors[name] = self.transport_errors.get(name, 0) + 1
            self.samples.append((sent - self.started, kind, 0, (time.monotonic() - sent) * 1e3))
            return None
        elapsed = (time.monotonic() - sent) * 1e3
        self.samples.append((sent - self.started, kind, response.status_code, elapsed))
        return response

    # --- setup ------------------------------------------------------------------------
    async def sign_in_everyone(self) -> None:
        for cook in self.cooks:
            await self.api_login(cook, kind="setup")
            await self.web_login(cook, kind="setup")
            for _ in range(5):
                await self.create(cook, kind="setup")

    async def close(self) -> None:
        for task in self.retiring:
            task.cancel()
        cooks = [client for cook in self.cooks for client in (cook.browser, cook.script)]
        for client in [*self.visitors, *cooks, *self.signed_out]:
            await client.aclose()

    # --- visitors -----------------------------------------------------------------------
    async def visit(self, kind: str, path: str, **options: Any) -> httpx.Response | None:
        client = self.rng.choice(self.visitors)
        response = await self.send(client, kind, "GET", path, **options)
        client.cookies.clear()  # a visitor keeps no session: anonymous every time
        return response

    def _page(self) -> dict[str, Any]:
        return {"headers": {"Accept": BROWSER_ACCEPT}}

    async def home_page(self) -> None:
        await self.visit("home page", "/", **self._page())

    async def search_page(self) -> None:
        await self.visit(
            "search page", f"/search?q={self.rng.choice(SEARCH_WORDS)}", **self._page()
        )

    async def recipe_page(self) -> None:
        await self.visit("recipe page", self.rng.choice(self.catalogue.page_paths), **self._page())

    async def cover_image(self) -> None:
        if not self.catalogue.cover_paths:
            await self.recipe_page()
            return
        await self.visit("cover image (nginx)", self.rng.choice(self.catalogue.cover_paths))

    async def api_recipe(self) -> None:
        await self.visit("API: GET recipe", f"/api/v1/recipes/{self._recipe_id()}")

    async def api_search(self) -> None:
        query = f"q={self.rng.choice(SEARCH_WORDS)}&page={self.rng.randint(1, 3)}"
        await self.visit("API: search", f"/api/v1/recipes?{query}")

    async def api_list(self) -> None:
        query = f"page={self.rng.randint(1, 20)}&sort={self.rng.choice(SORTS)}"
        await self.visit("API: list page", f"/api/v1/recipes?{query}")

    def _recipe_id(self) -> int:
        return self.rng.choice(self.catalogue.recipe_ids)

    # --- signed-in readers --------------------------------------------------------------
    async def api_recipe_signed_in(self) -> None:
        cook = self.rng.choice(self.cooks)
        path = f"/api/v1/recipes/{self._recipe_id()}"
        await self.send(cook.script, "API: GET recipe, signed in", "GET", path, headers=cook.bearer)

    async def recipe_page_signed_in(self) -> None:
        cook, path = self.rng.choice(self.cooks), self.rng.choice(self.catalogue.page_paths)
        await self.send(cook.browser, "recipe page, signed in", "GET", path, **self._page())

    async def my_recipes_page(self) -> None:
        cook = self.rng.choice(self.cooks)
        await self.send(cook.browser, "my recipes page", "GET", "/my/recipes", **self._page())

    # --- logins (argon2id at the production cost) ---------------------------------------
    async def api_login(self, cook: Cook | None = None, kind: str = "login: API token") -> None:
        cook = cook or self.rng.choice(self.cooks)
        body = {"username": cook.username, "password": cook.password}
        response = await self.send(cook.script, kind, "POST", "/api/v1/tokens", json=body)
        if response is not None and response.status_code == 200:
            cook.token = response.json()["access_token"]

    async def web_login(self, cook: Cook | None = None, kind: str = "login: web form") -> None:
        """A new browser session (its own connection) signs in, then takes the cook's place:
        the cook's other requests meanwhile go on in the session it had."""
        cook = cook or self.rng.choice(self.cooks)
        browser = connection(self.public, self.ca)
        form = await self.send(browser, f"{kind} (GET)", "GET", "/account/login", **self._page())
        csrf = (
            re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text)
            if form
            else None
        )
        if csrf is None:
            return
        fields = {"csrf_token": csrf.group(1), "login": cook.username, "password": cook.password}
        # As a browser sends it: over HTTPS, Flask-WTF checks the form came from this site.
        origin = self.public
        site = {"Origin": origin, "Referer": f"{origin}/account/login"}
        answer = await self.send(
            browser, f"{kind} (POST)", "POST", "/account/login", data=fields, headers=site
        )
        if answer is not None and answer.status_code == 303:
            browser, cook.browser = cook.browser, browser
        self.signed_out.append(browser)
        self.retiring.add(asyncio.create_task(self._retire(browser)))

    async def _retire(self, browser: httpx.AsyncClient) -> None:
        await asyncio.sleep(RETIRE_SECONDS)  # what it still had in flight has been answered
        await browser.aclose()

    # --- writes ---------------------------------------------------------------------------
    async def create(self, cook: Cook | None = None, kind: str = "create recipe") -> None:
        cook = cook or self.rng.choice(self.cooks)
        word = self.rng.choice(SEARCH_WORDS)
        recipe = {
            "name": f"Soak {word} {self.rng.randint(1, 10**6)}",
            "description": f"A {word} dish written by the soak.",
            "num_of_servings": self.rng.randint(1, 8),
            "cook_time": self.rng.randint(5, 180),
            "ingredients": [f"{self.rng.randint(1, 5)} cups {word}", "1 pinch salt"],
            "directions": ["Prepare.", "Cook.", "Serve."],
            "tags": [word],
        }
        response = await self.send(
            cook.script, kind, "POST", "/api/v1/recipes", json=recipe, headers=cook.bearer
        )
        if response is not None and response.status_code == 201:
            recipe_id = response.json()["id"]
            cook.drafts.append(recipe_id)
            cook.etags[recipe_id] = response.headers["ETag"]

    def _own(self, cook: Cook, drafts_only: bool = False) -> int | None:
        """One of the cook's recipes that no other write is changing, claimed."""
        choices = [r for r in (cook.drafts if drafts_only else cook.etags) if r not in self.busy]
        if not choices:
            return None
        recipe_id = self.rng.choice(choices[-200:])
        self.busy.add(recipe_id)
        return recipe_id

    async def update(self) -> None:
        cook = self.rng.choice(self.cooks)
        recipe_id = self._own(cook)
        if recipe_id is None:
            return
        try:
            change = {"cook_time": self.rng.randint(5, 180), "description": "Updated by the soak."}
            headers = {**cook.bearer, "If-Match": cook.etags[recipe_id]}
            url = f"/api/v1/recipes/{recipe_id}"
            response = await self.send(
                cook.script, "update recipe", "PATCH", url, json=change, headers=headers
            )
            if response is not None and "ETag" in response.headers:
                cook.etags[recipe_id] = response.headers["ETag"]
        finally:
            self.busy.discard(recipe_id)

    async def publish(self) -> None:
        cook = self.rng.choice(self.cooks)
        recipe_id = self._own(cook, drafts_only=True)
        if recipe_id is None:
            return
        try:
            url = f"/api/v1/recipes/{recipe_id}/publish"
            response = await self.send(
                cook.script, "publish recipe", "PUT", url, headers=cook.bearer
            )
            if response is not None and response.status_code == 204:
                cook.drafts.remove(recipe_id)
                cook.etags[recipe_id] = await self._etag(cook, recipe_id, response)
        finally:
            self.busy.discard(recipe_id)

    async def upload_cover(self) -> None:
        cook = self.rng.choice(self.cooks)
        recipe_id = self._own(cook, drafts_only=True)
        if recipe_id is None:
            return
        try:
            files = {"cover": ("photo.jpg", self.rng.choice(self.covers), "image/jpeg")}
            url = f"/api/v1/recipes/{recipe_id}/cover"
            response = await self.send(
                cook.script, "upload cover", "PUT", url, files=files, headers=cook.bearer
            )
            if response is not None and response.status_code in (200, 201):
                thumbnail = urlsplit(response.json()["thumbnail"]).path
                self.catalogue.cover_paths.append(thumbnail)
                cook.etags[recipe_id] = await self._etag(cook, recipe_id, response)
        finally:
            self.busy.discard(recipe_id)

    async def _etag(self, cook: Cook, recipe_id: int, answer: httpx.Response) -> str:
        """The recipe's ETag after a change: from the answer, or read as an editor would."""
        if "ETag" in answer.headers:
            return answer.headers["ETag"]
        url = f"/api/v1/recipes/{recipe_id}"
        response = await self.send(
            cook.script, "API: GET own recipe", "GET", url, headers=cook.bearer
        )
        return response.headers.get("ETag", "*") if response is not None else "*"

    # --- the run --------------------------------------------------------------------------
    async def run(self, seconds: float, rate: float) -> None:
        """Actions for `seconds` at `rate` a second on average, then their answers."""
        names = list(KINDS)
        weights = [KINDS[name][0] for name in names]
        in_flight: set[asyncio.Task[None]] = set()
        self.setup_samples, self.samples = self.samples, []
        self.started = time.monotonic()
        due = self.started
        while True:
            due += self.rng.expovariate(rate)
            if due - self.started >= seconds:
                break
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            self.lag.append(max(0.0, time.monotonic() - due))
            if len(in_flight) >= MAX_IN_FLIGHT:
                self.dropped += 1
                continue
            action = KINDS[self.rng.choices(names, weights)[0]][1]
            task = asyncio.create_task(action(self))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)


# Name: (weight, action); about 100 in all, so a weight is near a percentage of the actions.
# Reads dominate, as on a recipe site; logins (each an argon2id hash at the production cost)
# and cover uploads (decoded, resized twice, encoded) are under 1 % of the requests.
KINDS: dict[str, tuple[float, Callable[[Traffic], Coroutine[Any, Any, None]]]] = {
    "home page": (8, Traffic.home_page),
    "search page": (8, Traffic.search_page),
    "recipe page": (16, Traffic.recipe_page),
    "cover image (nginx)": (4, Traffic.cover_image),
    "API: GET recipe": (16, Traffic.api_recipe),
    "API: search": (10, Traffic.api_search),
    "API: list page": (5, Traffic.api_list),
    "API: GET recipe, signed in": (10, Traffic.api_recipe_signed_in),
    "recipe page, signed in": (6, Traffic.recipe_page_signed_in),
    "my recipes page": (2, Traffic.my_recipes_page),
    "login: API token": (0.4, Traffic.api_login),
    "login: web form": (0.2, Traffic.web_login),
    "create recipe": (4, Traffic.create),
    "update recipe": (5, Traffic.update),
    "publish recipe": (0.3, Traffic.publish),
    "upload cover": (0.2, Traffic.upload_cover),
}
