"""Browser tests: Debian's chromium driven by Playwright against one `potluck serve` for the
whole session (its own SQLite database, mail delivered to an aiosmtpd server started here).

The server starts with the confirmed accounts `chef` (who has published recipes, one with a
cover, and a draft) and `mallory`; tests that log out or change a profile make their own."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    RECIPE,
    TEST_SECRET,
    SMTPServer,
    free_port,
    potluck_serving,
    row_counts_at,
    test_environ,
)
from flask_migrate import upgrade
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Page, expect

from potluck import create_app
from potluck.domain.database import db
from potluck.domain.models import User, utcnow
from potluck.services.passwords import hash_password

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
expect.set_options(timeout=10_000)
PASSWORD = "a browser test's long passphrase"
USERNAMES = ("chef", "mallory")
# Generous limits: the suite logs in and writes faster than a person, all from 127.0.0.1.
GENEROUS_LIMITS = {
    "READ_RATE_LIMIT": "100000 per minute",
    "WRITE_RATE_LIMIT": "100000 per minute",
    "LOGIN_RATE_LIMIT": "1000 per minute",
    "REGISTRATION_RATE_LIMIT": "1000 per hour",
    "ACCOUNT_MAIL_RATE_LIMIT": "1000 per hour",
    "LOGIN_FAILURES_PER_ACCOUNT": "1000 per minute",
    "MAILS_PER_ADDRESS": "1000 per hour",
}
PANCAKES = {
    "name": "Fluffy pancakes",
    "description": "Thick, soft pancakes for a slow Sunday breakfast.",
    "num_of_servings": 4,
    "prep_time": 10,
    "cook_time": 15,
    "ingredients": ["2 cups flour", "1 1/2 cups milk", "2 eggs", "1 tbsp sugar", "1 pinch salt"],
    "directions": [
        "Whisk the flour, sugar and salt.",
        "Beat in the milk and the eggs until smooth.",
        "Cook ladlefuls in a hot buttered pan, two minutes a side.",
    ],
    "tags": ["breakfast", "sweet"],
    "source_url": "https://example.com/pancakes",
}
MORE_RECIPES = [
    {**RECIPE, "name": "Tomato soup"},
    {
        "name": "Lemon tart",
        "description": "Sharp, silky and worth the wait.",
        "num_of_servings": 8,
        "prep_time": 40,
        "cook_time": 35,
        "ingredients": ["250 g shortcrust pastry", "4 lemons", "4 eggs", "150 g sugar"],
        "directions": ["Blind-bake the pastry.", "Whisk the filling.", "Bake until set."],
        "tags": ["dessert", "sweet"],
    },
]
DRAFT = {**MORE_RECIPES[0], "name": "Secret stew", "tags": ["stew"]}


def jpeg_bytes(size: tuple[int, int] = (320, 240)) -> bytes:
    """A small real JPEG (a warm gradient with a plate), as a camera would give."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        draw.line([(0, y), (size[0], y)], fill=(230, 120 + y * 100 // size[1], 60))
    cx, cy, r = size[0] // 2, size[1] // 2, min(size) // 3
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(250, 248, 240), outline=(90, 60, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class Site:
    """The running server, the SMTP server it delivers to, and what was made at the start."""

    base_url: str
    database_url: str
    log_path: Path
    smtp: SMTPServer
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def row_counts(self) -> dict[str, int]:
        return row_counts_at(self.database_url)

    def token(self, username: str) -> dict[str, str]:
        """An API Authorization header for `username`."""
        answer = httpx.post(
            self.url("/api/v1/tokens"), json={"username": username, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def api(self, method: str, path: str, username: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.token(username), **kwargs.pop("headers", {})}
        return httpx.request(method, self.url("/api/v1" + path), headers=headers, **kwargs)

    def mail_to(self, recipient: str, after: int = 0, timeout: float = 15) -> EmailMessage:
        """The first mail to `recipient` among those received after the first `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.smtp.messages[after:]:
                if recipient in str(message["To"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {recipient}; the server said:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def link_in(message: EmailMessage) -> str:
    """The first link of a mail's text part."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    match = re.search(r"https?://\S+", text)
    assert match, text
    return match.group(0)


def _prepare_database(database_url: str, instance: Path) -> None:
    """Migrate and create the confirmed accounts in this process: each `potluck` command
    costs seconds of start-up on a busy machine."""
    app = create_app(environ=test_environ(database_url, instance))
    with app.app_context():
        upgrade()
        for username in USERNAMES:
            db.session.add(
                User(
                    username=username,
                    email=f"{username}@example.com",
                    password_hash=hash_password(PASSWORD),
                    confirmed_at=utcnow(),
                )
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`potluck serve` in production mode on a throwaway SQLite database, sending its mail
    in process to a local SMTP server, with chef's recipes already there."""
    root = tmp_path_factory.mktemp("browser-site")
    smtp = SMTPServer()
    smtp.start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{root / 'site.db'}"
    environ = {
        **os.environ,
        **GENEROUS_LIMITS,
        "POTLUCK_ENV": "production",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "POTLUCK_INSTANCE_PATH": str(root),
        "PUBLIC_BASE_URL": base_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_DELIVERY": "in-process",
        "MAIL_POLL_SECONDS": "0.2",
        "MAIL_TIMEOUT_SECONDS": "5",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        "FETCH_PUBLIC": "false",
    }
    _prepare_database(database_url, root / "setup")
    try:
        with potluck_serving(environ, port, root / "serve.log"):
            running = Site(base_url, database_url, root / "serve.log", smtp)
            _first_recipes(running)
            yield running
    finally:
        smtp.stop()


def _first_recipes(site: Site) -> None:
    headers = site.token("chef")
    site.api("PATCH", "/me", "chef", json={"display_name": "Chef Ada", "bio": "Cooks for six."})
    for recipe, publish in [(PANCAKES, True), *((r, True) for r in MORE_RECIPES), (DRAFT, False)]:
        made = httpx.post(site.url("/api/v1/recipes"), json=recipe, headers=headers)
        assert made.status_code == 201, made.text
        if publish:
            published = httpx.put(
                site.url(f"/api/v1/recipes/{made.json()['id']}/publish"), headers=headers
            )
            assert published.status_code == 204, published.text
        site.recipes[recipe["name"]] = made.json()
    cover = httpx.put(
        site.url(f"/api/v1/recipes/{site.recipes[PANCAKES['name']]['id']}/cover"),
        files={"cover": ("pancakes.jpg", jpeg_bytes((800, 533)), "image/jpeg")},
        headers=headers,
    )
    assert cover.status_code == 201, cover.text


@pytest.fixture(scope="session")
def base_url(site: Site) -> str:
    """pytest-playwright's contexts resolve `page.goto("/search")` against the server."""
    return site.base_url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium, headless, never Playwright's downloaded browsers; without it the
    tests are skipped, except under CI=true where that fails the run."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; make test does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


def log_in(page: Page, login: str, password: str = PASSWORD) -> None:
    """Log in through the form, as a person does."""
    page.goto("/account/login")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@pytest.fixture
def new_context(new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """pytest-playwright's contexts, failing after 10 s rather than 30 (pages answer in ms)."""

    def make(**context_args: Any) -> BrowserContext:
        context = new_context(**context_args)
        context.set_default_timeout(10_000)
        return context

    return make


@pytest.fixture(scope="session")
def signed_in_state(browser: Browser, site: Site) -> Callable[[str], dict[str, Any]]:
    """The cookies of a session of `username`, logged in once per test session."""
    states: dict[str, dict[str, Any]] = {}

    def state(username: str) -> dict[str, Any]:
        if username not in states:
            context = browser.new_context(base_url=site.base_url)
            log_in(context.new_page(), username)
            states[username] = context.storage_state()  # type: ignore[assignment]
            context.close()
        return states[username]

    return state


@pytest.fixture
def signed_in(
    new_context: Callable[..., BrowserContext], signed_in_state: Callable[[str], dict[str, Any]]
) -> Callable[..., Page]:
    """A page in a new browser context signed in as `username` (chef unless told); such
    tests must not log out, since the session is shared."""

    def open_page(username: str = "chef", **context_args: Any) -> Page:
        context = new_context(storage_state=signed_in_state(username), **context_args)
        return context.new_page()

    return open_page


@pytest.fixture
def chef_page(signed_in: Callable[..., Page]) -> Page:
    return signed_in("chef")


@pytest.fixture
def pancakes(site: Site) -> dict[str, Any]:
    return site.recipes[PANCAKES["name"]]


# Every page type of the site: (who looks, path). Paths with ids or mailed tokens are filled
# in by `site_pages`.
PAGE_TYPES: dict[str, tuple[str | None, str]] = {
    "home": (None, "/"),
    "search": (None, "/search?q=pancakes"),
    "search-empty": (None, "/search?q=zzyzx"),
    "recipe": (None, "{recipe}"),
    "author": (None, "/cooks/chef"),
    "tag": (None, "/tags/breakfast"),
    "login": (None, "/account/login"),
    "register": (None, "/account/register"),
    "confirm": (None, "{confirm}"),
    "forgot": (None, "/account/forgot"),
    "reset": (None, "{reset}"),
    "not-found": (None, "/recipes/999999-no-such-recipe"),
    "profile": ("chef", "/account/profile"),
    "password": ("chef", "/account/password"),
    "api-keys": ("chef", "/account/api-keys"),
    "editor-new": ("chef", "/recipes/new"),
    "editor-edit": ("chef", "/recipes/{pancakes}/edit"),
    "delete": ("chef", "/recipes/{pancakes}/delete"),
    "my-recipes": ("chef", "/my/recipes"),
}


@pytest.fixture(scope="session")
def site_pages(site: Site) -> dict[str, tuple[str | None, str]]:
    """PAGE_TYPES with real paths: chef's pancakes, and the links of a confirmation mail (to
    an account made for it) and of a password reset mail (to chef; never used)."""
    seen = len(site.smtp.messages)
    made = httpx.post(
        site.url("/api/v1/users"),
        json={"username": "waiting", "email": "waiting@example.com", "password": PASSWORD},
    )
    assert made.status_code == 201, made.text
    confirm = link_in(site.mail_to("waiting@example.com", after=seen))
    seen = len(site.smtp.messages)
    asked = httpx.post(site.url("/api/v1/users/password-reset"), json={"email": "chef@example.com"})
    assert asked.status_code == 202, asked.text
    reset = link_in(site.mail_to("chef@example.com", after=seen))
    pancakes = site.recipes[PANCAKES["name"]]
    values = {
        "recipe": f"/recipes/{pancakes['id']}-fluffy-pancakes",
        "pancakes": pancakes["id"],
        "confirm": confirm.removeprefix(site.base_url),
        "reset": reset.removeprefix(site.base_url),
    }
    return {name: (who, path.format(**values)) for name, (who, path) in PAGE_TYPES.items()}


@pytest.fixture
def open_site_page(
    site_pages: dict[str, tuple[str | None, str]],
    new_context: Callable[..., BrowserContext],
    signed_in: Callable[..., Page],
) -> Callable[..., Page]:
    """Open one of PAGE_TYPES in a new context, as its viewer would (anonymous, or chef);
    `context_args` go to the context (a viewport, say)."""

    def open_page(name: str, **context_args: Any) -> Page:
        who, path = site_pages[name]
        shown = signed_in(who, **context_args) if who else new_context(**context_args).new_page()
        shown.goto(path)
        return shown

    return open_page
