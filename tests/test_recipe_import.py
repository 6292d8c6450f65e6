"""Recipe import from a URL (POST /api/v1/recipes/import) and the one outbound fetcher.

Pages come from a small HTTP server on 127.0.0.1, the only network these tests reach:
the app allows 127.0.0.0/8 (FETCH_ALLOWED_NETWORKS) and nothing else private. Every
connection the process attempts to any other address is stopped before it leaves and
recorded (`outside`), and names resolve only through a fake resolver (`dns`), so no
test sends a packet, or a DNS query, off this machine."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import PROBLEM, assert_problem
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from potluck.app.config import load_settings
from potluck.domain.database import db as _db
from potluck.domain.models import Recipe, StoredImage
from potluck.schemas.recipes import RecipeInputSchema
from potluck.services.addresses import refusal
from potluck.services.fetcher import Fetched, FetchRefused, checked_url
from potluck.services.recipe_import import ImportedRecipe, NoRecipeFound, recipe_from_page

IMPORT = "/api/v1/recipes/import"
TIMEOUT = 0.5  # FETCH_TIMEOUT_SECONDS here: the slow pages take longer, and fail
MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


def _json_ld(document: dict[str, Any]) -> str:
    return (
        '<!doctype html><html lang="en"><head><title>Recipe</title>'
        f'<script type="application/ld+json">{json.dumps(document)}</script></head>'
        "<body><h1>A recipe</h1></body></html>"
    )


# Served pages: path -> (status, headers, body). {site} becomes the server's http://host:port.
PAGES: dict[str, tuple[int, dict[str, str], str | bytes]] = {
    "/soup": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        _json_ld(
            {
                "@context": "https://schema.org",
                "@type": "Recipe",
                "name": "Roast Tomato Soup",
                "description": "Smoky, sweet and ready in an hour.",
                "image": ["{site}/cover.png"],
                "prepTime": "PT15M",
                "cookTime": "PT45M",
                "recipeYield": "6 servings",
                "recipeCategory": "Dinner",
                "recipeCuisine": "Italian",
                "keywords": "Soup, Winter, Comfort Food",
                "recipeIngredient": ["1 kg tomatoes", "2 red onions", "4 cloves garlic"],
                "recipeInstructions": [
                    {"@type": "HowToStep", "text": "Roast the vegetables for 40 minutes."},
                    {"@type": "HowToStep", "text": "Blend with stock until smooth."},
                ],
            }
        ),
    ),
    "/graph": (
        200,
        {"Content-Type": "text/html"},
        _json_ld(
            {
                "@context": "https://schema.org",
                "@graph": [
                    {"@type": "WebSite", "name": "A Baking Site"},
                    {"@type": "BreadcrumbList", "itemListElement": []},
                    {
                        "@type": "Recipe",
                        "name": "Country Loaf",
                        "recipeIngredient": ["500 g flour", "350 g water", "10 g salt"],
                        "recipeInstructions": [
                            {"@type": "HowToStep", "text": "Mix and rest."},
                            {"@type": "HowToStep", "text": "Shape and bake."},
                        ],
                        "recipeYield": ["1 loaf", "8"],
                        "totalTime": "PT3H",
                        "recipeCategory": ["Bread"],
                    },
                ],
            }
        ),
    ),
    "/pancakes": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        """<!doctype html><html><body>
        <div itemscope itemtype="https://schema.org/Recipe">
          <h1 itemprop="name">Buttermilk Pancakes</h1>
          <p itemprop="description">Fluffy &amp; quick.</p>
          <meta itemprop="prepTime" content="PT10M"><meta itemprop="cookTime" content="PT20M">
          <span itemprop="recipeYield">Serves 4</span>
          <ul><li itemprop="recipeIngredient">2 eggs</li>
              <li itemprop="recipeIngredient">300 ml buttermilk</li></ul>
          <div itemprop="recipeInstructions">Whisk everything, then fry in butter.</div>
        </div></body></html>""",
    ),
    "/latin1": (
        200,
        {"Content-Type": "text/html; charset=iso-8859-1"},
        _json_ld(
            {"@context": "https://schema.org", "@type": "Recipe", "name": "Crème brûlée"}
        ).encode("iso-8859-1"),
    ),
    "/overflowing": (
        200,
        {"Content-Type": "text/html"},
        _json_ld(
            {
                "@context": "https://schema.org",
                "@type": "Recipe",
                "name": "Slow " * 30 + "Bread",
                "description": "Patience. " * 150,
                "recipeIngredient": [f"{n} g of something" for n in range(1, 121)]
                + ["salt " * 120],
                "prepTime": "PT0M",
                "cookTime": "P3D",
                "recipeYield": "120",
                "keywords": ["Dinner/Lunch", "!!!", "a tag far too long to be one at all"]
                + [f"word{n}" for n in range(30)],
            }
        ),
    ),
    "/no-cover": (
        200,
        {"Content-Type": "text/html"},
        _json_ld(
            {
                "@context": "https://schema.org",
                "@type": "Recipe",
                "name": "Lost Picture Pie",
                "image": "{site}/missing.png",
            }
        ),
    ),
    "/private-cover": (
        200,
        {"Content-Type": "text/html"},
        _json_ld(
            {
                "@context": "https://schema.org",
                "@type": "Recipe",
                "name": "Inside Job Pie",
                "image": "http://10.0.0.1/cover.png",
            }
        ),
    ),
    "/html-cover": (
        200,
        {"Content-Type": "text/html"},
        _json_ld(
            {
                "@context": "https://schema.org",
                "@type": "Recipe",
                "name": "Not A Picture Pie",
                "image": "{site}/article",
            }
        ),
    ),
    "/cover.png": (200, {"Content-Type": "image/png"}, PNG),
    "/article": (
        200,
        {"Content-Type": "text/html"},
        "<!doctype html><html><body><h1>Ten tips for tidy kitchens</h1><p>No recipe here.</p>"
        "</body></html>",
    ),
    "/login": (
        200,
        {"Content-Type": "text/html"},
        '<!doctype html><html><body><form method="post" action="/login">'
        '<input name="user"><input type="password" name="password"><button>Log in</button>'
        "</form></body></html>",
    ),
    "/forbidden": (403, {"Content-Type": "text/html"}, "<h1>Forbidden</h1>"),
    "/gone": (404, {"Content-Type": "text/html"}, "<h1>Not found</h1>"),
    "/data.json": (200, {"Content-Type": "application/json"}, '{"name": "Soup"}'),
    "/big": (200, {"Content-Type": "text/html"}, "<p>" + "x" * (MAX_BYTES * 2)),
    "/to-soup": (302, {"Location": "/soup"}, ""),
    "/to-private": (302, {"Location": "http://10.0.0.1/recipe"}, ""),
    "/to-metadata": (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, ""),
    "/to-ftp": (302, {"Location": "ftp://127.0.0.1/recipe"}, ""),
}


@dataclass
class Site:
    """The test web site: its address, and the requests it received (path, Host header)."""

    base: str = ""
    received: list[tuple[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [path for path, _ in self.received]


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.site.received.append((self.path, self.headers.get("Host", "")))
        # The fetcher hangs up on slow and oversized pages: that is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        if self.path.startswith("/loop/"):
            self._send(302, {"Location": f"/loop/{int(self.path[6:]) + 1}"}, b"")
        elif self.path == "/slow":
            time.sleep(TIMEOUT * 4)
            self._send(*self._page("/soup"))
        elif self.path == "/drip-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Drip: ")
            self._drip()
        elif self.path == "/drip-body":
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>")
            self._drip()
        elif self.path == "/big-stream":  # no Content-Length: only the stream shows the size
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
            for _ in range(MAX_BYTES // 1024 * 4):
                self.wfile.write(b"x" * 1024)
        elif self.path in PAGES:
            self._send(*self._page(self.path))
        else:
            self._send(404, {"Content-Type": "text/plain"}, b"no such page")

    def _page(self, path: str) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = PAGES[path]
        data = body.replace("{site}", self.site.base).encode() if isinstance(body, str) else body
        return status, headers, data

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drip(self) -> None:
        for _ in range(int(TIMEOUT * 6 / 0.05)):  # each byte well within the read timeout
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    web = Site()
    handler = type("Handler", (_Handler,), {"site": web})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    web.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield web
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Connections attempted to anything but loopback: stopped before they leave, recorded."""
    attempts: list[Any] = []
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        if sock.family in {socket.AF_INET, socket.AF_INET6}:
            target = ipaddress.ip_address(address[0])
            mapped = getattr(target, "ipv4_mapped", None) or target
            if not mapped.is_loopback:
                attempts.append(address)
                raise ConnectionRefusedError(f"test guard: no traffic to {address[0]}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert attempts == [], "a connection off this machine was attempted"


@dataclass
class FakeDNS:
    names: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """Names resolve only from `names`; numeric hosts as the system reads them, no query sent."""
    fake = FakeDNS()
    getaddrinfo = socket.getaddrinfo

    def resolve(host: Any, port: Any, family: int = 0, type: int = 0, *args: Any) -> Any:
        try:
            return getaddrinfo(host, port, family, type, 0, socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        fake.lookups.append(host)
        if host not in fake.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            answer
            for address in fake.names[host]
            for answer in getaddrinfo(address, port, family, type, 0, socket.AI_NUMERICHOST)
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return fake


@pytest.fixture
def importing(app: Flask, site: Site) -> Site:
    """The app set to fetch from the test site, with small limits; the site's log cleared.
    Public addresses are on, as in production: `outside` and `dns` keep them off the wire."""
    app.config.update(
        FETCH_PUBLIC=True,
        FETCH_ALLOWED_NETWORKS=["127.0.0.0/8"],
        FETCH_TIMEOUT_SECONDS=TIMEOUT,
        FETCH_MAX_BYTES=MAX_BYTES,
        FETCH_MAX_REDIRECTS=MAX_REDIRECTS,
    )
    site.received.clear()
    return site


def stored(app: Flask) -> tuple[int, int, int]:
    """Recipes, image rows and media files: what an import can leave behind."""
    with app.app_context():
        recipes = _db.session.scalar(select(func.count()).select_from(Recipe))
        images = _db.session.scalar(select(func.count()).select_from(StoredImage))
        _db.session.remove()
    media = Path(app.config["MEDIA_ROOT"])
    files = len(list(media.iterdir())) if media.is_dir() else 0
    return recipes or 0, images or 0, files


def post_import(client: FlaskClient, url: str, headers: dict[str, str], **extra: Any) -> Any:
    return client.post(IMPORT, json={"url": url}, headers={**headers, **extra})


# Imports that work


def test_a_json_ld_page_becomes_a_draft_with_its_cover(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    response = post_import(client, importing.url("/soup"), auth_headers)
    assert response.status_code == 201, response.json
    recipe = response.json
    assert response.headers["Location"] == f"/api/v1/recipes/{recipe['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    # The draft's ETag, as a read of it gives and If-Match compares.
    assert (
        response.headers["ETag"]
        == client.get(response.headers["Location"], headers=auth_headers).headers["ETag"]
    )
    assert {k: recipe[k] for k in recipe if k not in {"id", "created_at", "updated_at"}} == {
        "name": "Roast Tomato Soup",
        "description": "Smoky, sweet and ready in an hour.",
        "num_of_servings": 6,
        "prep_time": 15,
        "cook_time": 45,
        "ingredients": ["1 kg tomatoes", "2 red onions", "4 cloves garlic"],
        "directions": ["Roast the vegetables for 40 minutes.", "Blend with stock until smooth."],
        "tags": ["comfort food", "dinner", "italian", "soup", "winter"],
        "is_publish": False,
        "source_url": importing.url("/soup"),
        "cover_url": recipe["cover"]["large"],
        "cover": recipe["cover"],
        "author": recipe["author"],
    }
    assert recipe["author"]["username"] == "alice"
    assert importing.paths() == ["/soup", "/cover.png"]
    assert stored(app) == (1, 1, 2)  # the recipe, its cover, the cover's two sizes
    image = client.get(recipe["cover"]["thumbnail"])
    assert image.status_code == 200
    assert image.mimetype == "image/webp"
    # The same representation as a GET of the recipe; a draft, so nobody else sees it.
    shown = client.get(response.headers["Location"], headers=auth_headers)
    assert shown.status_code == 200
    assert shown.json == recipe
    assert client.get(response.headers["Location"]).status_code == 404


def test_a_recipe_in_a_json_ld_graph(
    client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    response = post_import(client, importing.url("/graph"), auth_headers)
    assert response.status_code == 201, response.json
    recipe = response.json
    assert recipe["name"] == "Country Loaf"
    assert recipe["ingredients"] == ["500 g flour", "350 g water", "10 g salt"]
    assert recipe["directions"] == ["Mix and rest.", "Shape and bake."]
    assert recipe["num_of_servings"] == 8  # the servings, not the "1 loaf" beside them
    assert (recipe["prep_time"], recipe["cook_time"]) == (None, 180)  # only a total given
    assert recipe["tags"] == ["bread"]
    assert recipe["cover"] is None


def test_a_microdata_page(
    client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    response = post_import(client, importing.url("/pancakes"), auth_headers)
    assert response.status_code == 201, response.json
    recipe = response.json
    assert recipe["name"] == "Buttermilk Pancakes"
    assert recipe["description"] == "Fluffy & quick."
    assert recipe["ingredients"] == ["2 eggs", "300 ml buttermilk"]
    assert recipe["directions"] == ["Whisk everything, then fry in butter."]
    assert (recipe["prep_time"], recipe["cook_time"], recipe["num_of_servings"]) == (10, 20, 4)


def test_a_page_in_its_declared_charset(
    client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    response = post_import(client, importing.url("/latin1"), auth_headers)
    assert response.status_code == 201, response.json
    assert response.json["name"] == "Crème brûlée"


def test_what_is_too_long_is_shortened_and_clamped_not_refused(
    client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    response = post_import(client, importing.url("/overflowing"), auth_headers)
    assert response.status_code == 201, response.json
    recipe = response.json
    assert len(recipe["name"]) <= 100
    assert recipe["name"].startswith("Slow Slow")
    assert recipe["name"].endswith("…")
    assert len(recipe["description"]) <= 1000
    assert recipe["description"].endswith("…")
    assert len(recipe["ingredients"]) == 100
    assert recipe["ingredients"][0] == "1 g of something"
    assert recipe["num_of_servings"] == 50
    assert (recipe["prep_time"], recipe["cook_time"]) == (None, 1440)
    # "Dinner/Lunch" is two tags; symbols and a sentence are no tags; at most 20 in all.
    assert recipe["tags"][:3] == ["dinner", "lunch", "word0"]
    assert len(recipe["tags"]) == 20


def test_a_redirect_within_the_allowed_network_is_followed(
    client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    response = post_import(client, importing.url("/to-soup"), auth_headers)
    assert response.status_code == 201, response.json
    assert response.json["source_url"] == importing.url("/soup")  # where the recipe lives
    assert importing.paths() == ["/to-soup", "/soup", "/cover.png"]


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    client: FlaskClient, auth_headers: dict[str, str], importing: Site, dns: FakeDNS
) -> None:
    dns.names["recipes.test"] = ["127.0.0.1"]
    port = importing.base.rsplit(":", 1)[1]
    response = post_import(client, f"http://recipes.test:{port}/pancakes", auth_headers)
    assert response.status_code == 201, response.json
    assert response.json["source_url"] == f"http://recipes.test:{port}/pancakes"
    # One lookup (the check); the connection went to that address, with the name as Host.
    assert dns.lookups == ["recipes.test"]
    assert importing.received == [("/pancakes", f"recipes.test:{port}")]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/no-cover", "the image is a 404"),
        ("/html-cover", "the image URL is a web page"),
        ("/private-cover", "the image is on a private network"),
    ],
)
def test_a_cover_that_cannot_be_had_leaves_the_recipe_without_one(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    outside: list[Any],
    path: str,
    why: str,
) -> None:
    response = post_import(client, importing.url(path), auth_headers)
    assert response.status_code == 201, (why, response.json)
    assert response.json["cover"] is None
    assert response.json["cover_url"] is None
    assert stored(app) == (1, 0, 0)
    assert outside == []


# Imports that fail, and leave nothing behind


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/article", 422, "No recipe found at that address: "),
        ("/login", 422, "No recipe found at that address: "),
        ("/forbidden", 502, "/forbidden answered 403 Forbidden"),
        ("/gone", 502, "/gone answered 404 Not Found"),
        ("/data.json", 502, "is application/json, not a web page (HTML)"),
        ("/big", 502, f"is larger than {MAX_BYTES:,} bytes"),
        ("/big-stream", 502, f"is larger than {MAX_BYTES:,} bytes"),
        ("/loop/0", 502, f"redirected more than {MAX_REDIRECTS} times"),
        ("/slow", 502, f"did not answer within {TIMEOUT:g} seconds"),
        ("/drip-headers", 502, f"did not answer within {TIMEOUT:g} seconds"),
        ("/drip-body", 502, f"did not answer within {TIMEOUT:g} seconds"),
    ],
)
def test_a_page_without_a_usable_recipe_is_an_error_naming_why(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    path: str,
    status: int,
    detail: str,
) -> None:
    started = time.monotonic()
    response = post_import(client, importing.url(path), auth_headers)
    elapsed = time.monotonic() - started
    body = assert_problem(response, status, detail)
    assert "errors" not in body
    assert stored(app) == (0, 0, 0)
    # The time cap is for the whole fetch: a page that drips a byte at a time is cut off too.
    assert elapsed < TIMEOUT + 1.0
    if path == "/loop/0":
        assert importing.paths() == [f"/loop/{n}" for n in range(MAX_REDIRECTS + 1)]


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("ftp://127.0.0.1/recipe", "is a ftp: address; only http and https"),
        ("file:///etc/passwd", "is a file: address; only http and https"),
        ("javascript:alert(1)", "is a javascript: address; only http and https"),
        ("/recipes/1", "is a relative address; only http and https"),
        ("http://", "has no host name"),
        ("http://user:secret@127.0.0.1/soup", "contains a user name or password"),
        ("http://10.0.0.1/recipe", "leads to 10.0.0.1, a private network address"),
        ("http://192.168.1.1/", "leads to 192.168.1.1, a private network address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://[::1]/recipe", "leads to ::1, a loopback address"),  # only 127.0.0.0/8 allowed
        ("http://[::ffff:10.0.0.1]/", "a private network address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://[fd00::1]/", "a private network address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://167772161/", "leads to 10.0.0.1, a private network address"),  # 10.0.0.1
        ("http://0x0a000001/", "leads to 10.0.0.1, a private network address"),
        ("http://no-such-site.test/recipe", "There is no site at no-such-site.test"),
    ],
)
def test_an_address_the_server_does_not_fetch_from_is_refused_before_any_connection(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    outside: list[Any],
    url: str,
    detail: str,
) -> None:
    response = post_import(client, url, auth_headers)
    body = assert_problem(response, 400, detail)
    assert body["errors"] == {"url": [body["detail"]]}
    assert outside == []
    assert importing.received == []
    assert stored(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/to-private", "redirected to http://10.0.0.1/recipe, which leads to 10.0.0.1, a private"),
        ("/to-metadata", "which leads to 169.254.169.254, a link-local address"),
        ("/to-ftp", "redirected to an address that is a ftp: address"),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused_before_connecting_there(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    outside: list[Any],
    path: str,
    detail: str,
) -> None:
    response = post_import(client, importing.url(path), auth_headers)
    assert_problem(response, 400, detail)
    assert importing.paths() == [path]  # the first hop only
    assert outside == []
    assert stored(app) == (0, 0, 0)


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1", "10.0.0.1"], ["169.254.169.254"], ["::ffff:192.168.0.1"]]
)
def test_a_name_that_resolves_inside_is_refused_whatever_else_it_resolves_to(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    dns: FakeDNS,
    outside: list[Any],
    addresses: list[str],
) -> None:
    dns.names["rebinding.test"] = addresses
    port = importing.base.rsplit(":", 1)[1]
    response = post_import(client, f"http://rebinding.test:{port}/soup", auth_headers)
    body = assert_problem(response, 400, f"http://rebinding.test:{port}/soup leads to ")
    assert "only public web sites can be fetched" in body["detail"]
    assert dns.lookups == ["rebinding.test"]
    assert importing.received == []
    assert outside == []
    assert stored(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://8.8.8.8/recipe", "leads to 8.8.8.8, outside the networks this server fetches"),
        ("http://recipes.test/soup", "recipes.test was not looked up"),
    ],
)
def test_with_public_fetches_off_only_the_allowed_networks_are_fetched_from(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    dns: FakeDNS,
    outside: list[Any],
    url: str,
    detail: str,
) -> None:
    app.config["FETCH_PUBLIC"] = False  # the default under POTLUCK_ENV=testing
    dns.names["recipes.test"] = ["8.8.8.8"]
    assert_problem(post_import(client, url, auth_headers), 400, detail)
    assert dns.lookups == []
    assert outside == []
    assert post_import(client, importing.url("/pancakes"), auth_headers).status_code == 201
    assert stored(app)[0] == 1


def test_public_fetches_are_off_in_tests_and_on_elsewhere() -> None:
    testing = load_settings({"POTLUCK_ENV": "testing", "SECRET_KEY": "k" * 40})
    assert testing["FETCH_PUBLIC"] is False
    production = load_settings({"POTLUCK_ENV": "production", "SECRET_KEY": "k" * 40})
    assert production["FETCH_PUBLIC"] is True
    assert production["FETCH_ALLOWED_NETWORKS"] == []


# The endpoint: who may import, how often, and retries


def test_importing_needs_a_login(app: Flask, client: FlaskClient, importing: Site) -> None:
    response = post_import(client, importing.url("/soup"), {})
    assert_problem(response, 401, "")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert importing.received == []
    assert stored(app) == (0, 0, 0)


def test_an_api_key_imports_with_the_write_scope_only(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    keys = {
        scope: client.post(
            "/api/v1/me/api-keys", json={"name": scope, "scope": scope}, headers=auth_headers
        ).json["key"]
        for scope in ("read", "write")
    }
    bearer = {scope: {"Authorization": f"Bearer {key}"} for scope, key in keys.items()}
    refused = post_import(client, importing.url("/soup"), bearer["read"])
    assert_problem(refused, 403, "This API key may only read")
    assert importing.received == []
    made = post_import(client, importing.url("/soup"), bearer["write"])
    assert made.status_code == 201, made.json
    assert made.json["author"]["username"] == "alice"
    assert stored(app)[0] == 1


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"url": ["Missing data for required field."]}),
        ({"url": 42}, {"url": ["Not a valid string."]}),
        ({"url": ""}, {"url": ["Length must be between 1 and 2048."]}),
        ({"url": "http://a.test/" + "a" * 2048}, {"url": ["Length must be between 1 and 2048."]}),
        ({"url": "http://a.test/", "author_id": 2}, {"author_id": ["Unknown field."]}),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    importing: Site,
    body: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    response = client.post(IMPORT, json=body, headers=auth_headers)
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert response.json["errors"] == errors
    assert importing.received == []
    assert stored(app) == (0, 0, 0)


def test_a_retry_with_the_same_idempotency_key_gets_the_first_recipe(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "import-soup-1"}
    first = post_import(client, importing.url("/soup"), headers)
    again = post_import(client, importing.url("/soup"), headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json == first.json
    assert importing.paths() == ["/soup", "/cover.png"]  # fetched once
    assert stored(app) == (1, 1, 2)
    other = post_import(client, importing.url("/pancakes"), headers)
    assert_problem(other, 422, "different request")


def test_a_failed_import_leaves_its_idempotency_key_free_for_a_retry(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], importing: Site
) -> None:
    headers = {**auth_headers, "Idempotency-Key": "import-2"}
    assert post_import(client, importing.url("/forbidden"), headers).status_code == 502
    assert post_import(client, importing.url("/forbidden"), headers).status_code == 502
    assert importing.paths() == ["/forbidden", "/forbidden"]  # tried again, not replayed
    assert stored(app) == (0, 0, 0)


@pytest.mark.rate_limits
def test_imports_are_limited_per_user(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    importing: Site,
) -> None:
    app.config["IMPORT_RATE_LIMIT"] = "2 per minute"
    for remaining in ("1", "0"):
        response = post_import(client, importing.url("/pancakes"), auth_headers)
        assert response.status_code == 201
        assert response.headers["RateLimit-Limit"] == "2"
        assert response.headers["RateLimit-Remaining"] == remaining
    refused = post_import(client, importing.url("/pancakes"), auth_headers)
    assert_problem(refused, 429, "Too many recipe imports")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert importing.paths() == ["/pancakes", "/pancakes"]  # the third was never fetched
    assert post_import(client, importing.url("/pancakes"), other_headers).status_code == 201
    assert stored(app)[0] == 3


def test_the_import_is_documented(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"][IMPORT]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.rsplit("/", 1)[1] == "RecipeImport"
    schema = spec["components"]["schemas"]["RecipeImport"]
    assert schema["required"] == ["url"]
    assert schema["properties"]["url"]["format"] == "uri"
    created = operation["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/RecipeOutput")
    assert "Location" in created["headers"]
    for status in ("400", "401", "422", "429", "502"):
        assert status in operation["responses"], status
    assert "Idempotency-Key" in {p.get("name") for p in operation["parameters"]}
    assert operation["security"] == [{"bearerAuth": []}]


# What a page says, fitted to the recipe schema whatever it says

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_RECIPE_FIELDS = (
    "name",
    "description",
    "recipeIngredient",
    "recipeInstructions",
    "prepTime",
    "cookTime",
    "totalTime",
    "recipeYield",
    "keywords",
    "recipeCategory",
    "recipeCuisine",
    "image",
)


@settings(max_examples=60, deadline=None)
@given(st.text(), st.dictionaries(st.sampled_from(_RECIPE_FIELDS), _JSON, max_size=8))
def test_whatever_a_page_says_only_a_valid_recipe_comes_out(
    name: str, fields: dict[str, Any]
) -> None:
    document = {"@context": "https://schema.org", "@type": "Recipe", "name": name, **fields}
    page = Fetched("http://recipes.test/r", "text/html", _json_ld(document).encode())
    outcome: ImportedRecipe | NoRecipeFound
    try:
        outcome = recipe_from_page(page)
    except NoRecipeFound as error:
        outcome = error
    if isinstance(outcome, NoRecipeFound):  # none at all, never one the schema refuses
        assert outcome.detail.startswith("No recipe found at that address: "), outcome.detail
    else:
        assert outcome.fields["name"]
        assert RecipeInputSchema().validate(outcome.fields) == {}


# The address check and the URL check, on their own


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),  # IPv4-mapped: judged as 8.8.8.8
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", None),  # 6to4 of 8.8.8.8
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - an address to refuse
        ("::", "an unspecified address"),
        ("10.0.0.1", "a private network address"),
        ("172.16.5.4", "a private network address"),
        ("192.168.1.1", "a private network address"),
        ("fc00::1", "a private network address"),
        ("fd12:3456::1", "a private network address"),
        ("::ffff:192.168.0.1", "a private network address"),
        ("64:ff9b::a00:1", "a private network address"),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", "a private network address"),  # 6to4 of 10.0.0.1
        ("169.254.169.254", "a link-local address (such as a cloud metadata service)"),
        ("fe80::1", "a link-local address (such as a cloud metadata service)"),
        ("::ffff:169.254.169.254", "a link-local address (such as a cloud metadata service)"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("::10.0.0.1", "a reserved address"),  # IPv4-compatible, deprecated
        ("fec0::1", "a site-local address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
    ],
)
def test_which_addresses_are_refused(address: str, reason: str | None) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("address", "refused"),
    [("127.0.0.1", False), ("::ffff:127.0.0.1", False), ("::1", True), ("10.0.0.1", True)],
)
def test_allowed_networks_allow_only_themselves(address: str, refused: bool) -> None:
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    assert (refusal(ipaddress.ip_address(address), allowed) is not None) is refused


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_is_judged_the_same_however_ipv6_carries_it(
    address: ipaddress.IPv4Address,
) -> None:
    reason = refusal(address)
    for carried in (f"::ffff:{address}", f"64:ff9b::{address}"):
        assert refusal(ipaddress.ip_address(carried)) == reason
    if reason is None:
        assert address.is_global  # fetched from: only ever a public address


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("https://user@example.com/", "contains a user name or password"),
        ("gopher://example.com/", "is a gopher: address"),
        ("http://[::1/", "is not a valid web address"),
        ("http://example.com/" + "a" * 2048, "is longer than 2048 characters"),
    ],
)
def test_urls_are_checked_before_anything_is_resolved(url: str, detail: str, dns: FakeDNS) -> None:
    with pytest.raises(FetchRefused) as refused:
        checked_url(url)
    assert detail in refused.value.detail
    assert dns.lookups == []


def test_an_http_url_with_a_public_name_passes_the_url_check() -> None:
    assert str(checked_url("HTTPS://Example.com/a b?q=1")) == "https://example.com/a%20b?q=1"
