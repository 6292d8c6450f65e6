"""The `potluck` admin command: setup, seed, user create, and serve with a real server."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_SECRET, free_port, potluck_serving
from flask import Flask
from sqlalchemy import func, select

from potluck.cli import main
from potluck.domain.models import Recipe, Tag, User
from potluck.services.seed import DEMO_PASSWORD, DEMO_USERNAME


def invoke(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(cli=main, args=list(args), input=input)


def test_seed_adds_published_recipes_with_tags(app: Flask, db: Any) -> None:
    result = invoke(app, "seed", "--recipes", "120", "--users", "7")
    assert result.exit_code == 0, result.output
    assert "Added 7 users and 120 recipes." in result.output
    assert db.session.scalar(select(func.count(User.id))) == 7
    recipes = db.session.scalars(select(Recipe)).all()
    assert len(recipes) == 120
    assert all(recipe.is_publish for recipe in recipes)
    assert all(1 <= len(recipe.tags) <= 5 for recipe in recipes)
    assert db.session.scalar(select(func.count(Tag.id))) > 5
    # Seeding twice adds more, with distinct usernames.
    again = invoke(app, "seed", "--recipes", "10", "--users", "3", "--seed", "2")
    assert again.exit_code == 0, again.output
    assert db.session.scalar(select(func.count(User.id))) == 10


def test_seed_adds_drafts_after_the_published_recipes(app: Flask, db: Any, client: Any) -> None:
    result = invoke(app, "seed", "--recipes", "40", "--users", "3", "--drafts", "8")
    assert result.exit_code == 0, result.output
    assert "Added 3 users and 48 recipes, 8 of them drafts." in result.output
    recipes = db.session.scalars(select(Recipe).order_by(Recipe.id)).all()
    assert [recipe.is_publish for recipe in recipes] == [True] * 40 + [False] * 8
    assert all(recipe.published_at is None for recipe in recipes[40:])
    # Nobody else sees them: not in lists, not in searches, not in the tags' counts.
    assert client.get("/api/v1/recipes").json["total"] == 40
    word = recipes[-1].name.split()[-1]
    searched = client.get("/api/v1/recipes", query_string={"q": word, "per_page": 100}).json
    assert searched["total"] == len(searched["data"])
    assert not {recipe.id for recipe in recipes[40:]} & {item["id"] for item in searched["data"]}
    tags = db.session.scalars(select(Tag)).all()
    published_links = sum(len(recipe.tags) for recipe in recipes[:40])
    assert sum(tag.recipe_count for tag in tags) == published_links


def test_setup_loads_demo_data_once_when_asked(app: Flask, db: Any, client: Any) -> None:
    app.config["SEED_DEMO_DATA"] = True
    first = invoke(app, "setup")
    assert first.exit_code == 0, first.output
    assert "Loaded demo data: 4 users, 50 recipes." in first.output
    second = invoke(app, "setup")
    assert second.exit_code == 0
    assert "Loaded demo data" not in second.output
    assert db.session.scalar(select(func.count(Recipe.id))) == 50
    login = client.post(
        "/api/v1/tokens", json={"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200
    listed = client.get("/api/v1/recipes?per_page=100")
    assert listed.json["total"] == 50


def test_setup_loads_nothing_outside_development(app: Flask, db: Any) -> None:
    app.config["SEED_DEMO_DATA"] = False
    result = invoke(app, "setup")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_user_create(app: Flask, client: Any) -> None:
    result = invoke(
        app,
        "user",
        "create",
        "carol",
        "Carol@Example.com",
        input="a good password\na good password\n",
    )
    assert result.exit_code == 0, result.output
    login = client.post(
        "/api/v1/tokens", json={"email": "carol@example.com", "password": "a good password"}
    )
    assert login.status_code == 200
    taken = invoke(
        app, "user", "create", "CAROL", "c2@example.com", input="a good password\na good password\n"
    )
    assert taken.exit_code == 1
    assert "username is taken" in taken.output
    bad = invoke(app, "user", "create", "x", "not-an-email", input="short\nshort\n")
    assert bad.exit_code == 2
    assert "username" in bad.output


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """`potluck serve` as a real granian process on a free port, on its own SQLite file."""
    potluck = Path(sys.executable).with_name("potluck")
    port = free_port()
    environ = {
        **os.environ,
        "POTLUCK_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "ACCESS_LOG": "1",
        "POTLUCK_INSTANCE_PATH": str(tmp_path),
        "PORT": str(port),
        # As under `make run`: no mail server, each web process sends (to the log).
        "MAIL_DELIVERY": "in-process",
        "MAIL_POLL_SECONDS": "0.2",
    }
    setup = subprocess.run(
        [potluck, "setup"], env=environ, capture_output=True, text=True, check=False, timeout=60
    )
    assert setup.returncode == 0, setup.stderr
    with potluck_serving(environ, port, tmp_path / "serve.log"):
        yield port, tmp_path / "serve.log"


def test_serve_answers_over_keep_alive_connections(server: Any) -> None:
    port, log = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    paths = ("/api/v1/recipes", "/api/v1/openapi.json", "/api/v1/nope", "/api/v1/recipes")
    for number, path in enumerate(paths):
        connection.request("GET", path, headers={"X-Request-ID": f"trace{number}"})
        response = connection.getresponse()
        response.read()
        statuses.append((response.status, response.version, response.getheader("Connection")))
        replayed = response.getheader("Cache-Status") == "Potluck; hit; detail=replay"
        # The same socket carries every request: HTTP/1.1 keep-alive, not one per request.
        assert connection.sock is not None
    connection.close()
    assert [status for status, _, _ in statuses] == [200, 200, 404, 200]
    assert all(version == 11 for _, version, _ in statuses)
    assert all((header or "").lower() != "close" for _, _, header in statuses)
    banner = log.read_text()
    # Each request is logged once, with the request id the client sent.
    assert '[trace0]: 127.0.0.1 "GET /api/v1/recipes" 200' in banner
    assert '[trace2]: 127.0.0.1 "GET /api/v1/nope" 404' in banner
    # The second list is replayed from memory (hot_reads.py), and logged all the same.
    assert replayed
    assert '[trace3]: 127.0.0.1 "GET /api/v1/recipes" 200' in banner
    assert f"Potluck is serving on http://127.0.0.1:{port}/" in banner
    assert f"docs: http://127.0.0.1:{port}/api/v1/docs" in banner


def test_a_newcomer_confirms_from_the_log_and_logs_in(server: Any) -> None:
    port, log = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(method: str, path: str, body: dict[str, str] | None = None) -> int:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    account = {"username": "sam", "email": "sam@example.com", "password": "a long passphrase"}
    assert call("POST", "/api/v1/users", account) == 201
    credentials = {"username": "sam", "password": "a long passphrase"}
    assert call("POST", "/api/v1/tokens", credentials) == 403
    deadline = time.monotonic() + 20
    while "/users/activate/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/users/activate/\S+)", log.read_text())
    assert match, log.read_text()
    assert int(match.group(1)) == port
    assert call("GET", match.group(2)) == 204
    assert call("POST", "/api/v1/tokens", credentials) == 200
    connection.close()


def test_a_served_worker_is_warmed_before_its_first_request(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`potluck serve` loads each worker's app through served_app: every page template is
    compiled and the image codecs are loaded before any request, not during the first."""
    from conftest import test_environ
    from PIL import Image

    from potluck.cli.serving import served_app

    for name, value in test_environ(database_url, tmp_path / "instance").items():
        monkeypatch.setenv(name, value)
    app = served_app()
    pages = app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html"))
    assert len(pages) > 20
    compiled = {template.name for template in app.jinja_env.cache.values()}
    assert set(pages) <= compiled
    assert "WEBP" in Image.SAVE
    assert "JPEG" in Image.OPEN
