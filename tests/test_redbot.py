"""REDbot (HTTP lint, https://redbot.org/) against a real `potluck serve` process: no note
of level BAD on a published recipe or a list page.

REDbot runs in its own Python process (its event loop, thor, is process-global), which
prints the notes as JSON."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_SECRET, free_port, potluck_serving
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

CHEF_PASSWORD = "a chef's long passphrase"

REDBOT = """
import json, sys
from configparser import ConfigParser

import thor
from redbot.resource import HttpResource

settings = ConfigParser()
settings.read_dict({"redbot": {"enable_local_access": "True"}})
resource = HttpResource(settings["redbot"])
resource.set_request(sys.argv[1])


@thor.events.on(resource)
def check_done():
    thor.stop()


resource.check()
thor.run()


def flat(notes, depth=0):
    for note in notes:
        yield {
            "level": note.level.value,
            "category": note.category.value,
            "summary": note.summary,
            "depth": depth,
        }
        yield from flat(note.subnotes, depth + 1)


print(json.dumps({
    "status": resource.response.status_code,
    "error": str(resource.fetch_error) if resource.fetch_error else None,
    "headers": resource.response.headers.text,
    "notes": list(flat(resource.response.notes)),
}))
"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`potluck serve` (granian) on a free port, on its own SQLite file with seeded recipes."""
    root = tmp_path_factory.mktemp("redbot")
    potluck = Path(sys.executable).with_name("potluck")
    environ = {
        **os.environ,
        "POTLUCK_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": f"sqlite:///{root / 'serve.db'}",
        "POTLUCK_INSTANCE_PATH": str(root),
    }
    commands = (
        (["setup"], None),
        (["seed", "--recipes", "30", "--users", "3"], None),
        (["user", "create", "chef", "chef@example.com"], f"{CHEF_PASSWORD}\n{CHEF_PASSWORD}\n"),
    )
    for command, answers in commands:
        done = subprocess.run(
            [potluck, *command],
            env=environ,
            input=answers,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    port = free_port()
    with potluck_serving(environ, port, root / "serve.log"):
        yield f"http://127.0.0.1:{port}"


def _published_recipe(base_url: str) -> str:
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", "/api/v1/recipes?per_page=1")
        answer = connection.getresponse()
        assert answer.status == 200
        page: dict[str, Any] = json.loads(answer.read())
    finally:
        connection.close()
    assert page["total"] == 30
    return f"{base_url}/api/v1/recipes/{page['data'][0]['id']}"


def _call(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        raw = answer.read()
        return answer.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def _cover_url(base_url: str) -> str:
    """A published recipe's cover, uploaded through the API as a real JPEG."""
    json_type = {"Content-Type": "application/json"}
    credentials = json.dumps({"username": "chef", "password": CHEF_PASSWORD}).encode()
    status, tokens = _call(base_url, "POST", "/api/v1/tokens", credentials, json_type)
    assert status == 200, tokens
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    recipe = json.dumps({"name": "Photographed Stew"}).encode()
    status, created = _call(base_url, "POST", "/api/v1/recipes", recipe, {**json_type, **auth})
    assert status == 201, created
    photo = io.BytesIO()
    Image.new("RGB", (900, 600), (180, 70, 30)).save(photo, "JPEG", quality=85)
    boundary, body = encode_multipart(
        {"cover": FileStorage(io.BytesIO(photo.getvalue()), "stew.jpg", "cover")}
    )
    status, cover = _call(
        base_url,
        "PUT",
        f"/api/v1/recipes/{created['id']}/cover",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", **auth},
    )
    assert status in {200, 201}, cover
    status, _ = _call(base_url, "PUT", f"/api/v1/recipes/{created['id']}/publish", None, auth)
    assert status == 204
    return base_url + cover["large"]


def redbot_check(url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", REDBOT, url],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _described(report: dict[str, Any]) -> str:
    lines = [f"{name}: {value}" for name, value in report["headers"]]
    lines += [
        f"{'  ' * note['depth']}[{note['level']}] {note['category']}: {note['summary']}"
        for note in report["notes"]
    ]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "target",
    ["recipe", "cover", "/api/v1/recipes?page=2&per_page=5", "/api/v1/recipes?q=soup&sort=name"],
)
def test_redbot_finds_nothing_bad(base_url: str, target: str) -> None:
    if target == "recipe":
        url = _published_recipe(base_url)
    elif target == "cover":
        url = _cover_url(base_url)
    else:
        url = base_url + target
    report = redbot_check(url)
    assert report["error"] is None, report["error"]
    assert report["status"] == 200, _described(report)
    assert report["notes"], "REDbot reported nothing: the check did not run"
    bad = [note for note in report["notes"] if note["level"] == "bad"]
    assert not bad, _described(report)
    # The validators REDbot probes with its own conditional requests work.
    summaries = " ".join(note["summary"] for note in report["notes"])
    assert "If-None-Match conditional requests are supported" in summaries, _described(report)
