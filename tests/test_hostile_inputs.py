"""A hypothesis sweep over every operation of /api/v1/openapi.json with hostile values in
every path parameter, query parameter, header parameter and body field (DESIGN.md: bad input
of any shape gets a clear 4xx and changes nothing).

Each example starts from a request the operation would accept (signed in as the owner of a
recipe and an API key) and replaces one part of it, and maybe more, with something hostile:
huge or non-ASCII numbers, lone surrogates, control characters, path tricks, deep nesting,
NaN, wrong types, raw bytes. The answer must not be a 5xx; an error must be
application/problem+json whose `status` is the HTTP status; and a refused request must leave
every table with as many rows as before.

Requests go through the Flask test client with PATH_INFO set to the bytes a WSGI server
would pass on (latin-1 decoded), so an invalid UTF-8 escape arrives as it would over HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import mkdtemp
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
from conftest import PASSWORD, RECIPE, row_counts
from conftest import test_environ as environ_for
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from potluck import create_app

EXAMPLES_PER_OPERATION = 30
METHODS = ("get", "put", "post", "patch", "delete")


def _document() -> dict[str, Any]:
    """The OpenAPI document, read once at collection to name one test per operation."""
    app = create_app({"HOT_READS": False}, environ=environ_for("sqlite://", Path(mkdtemp())))
    document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").json
    return document


DOCUMENT = _document()


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    body_type: str | None
    body_schema: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _resolved(item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        section, name = item["$ref"].split("/")[-2:]
        item = DOCUMENT["components"][section][name]
    return item


def _operations() -> list[Operation]:
    operations = []
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            spec = item[method]
            parameters = tuple(
                _resolved(p) for p in [*item.get("parameters", []), *spec.get("parameters", [])]
            )
            content = spec.get("requestBody", {}).get("content", {})
            body_type = next(iter(content), None)
            body_schema = _resolved(content[body_type]["schema"]) if body_type else {}
            operations.append(Operation(method, path, parameters, body_type, body_schema))
    return operations


OPERATIONS = _operations()

# Hostile values, as text (each location encodes them as it must travel).
HUGE_NUMBERS = [str(n) for n in (2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30)]
HUGE_NUMBERS += ["9" * 5000, "1e999"]
# Digits of other scripts: Arabic-Indic, fullwidth, Devanagari, a superscript.
ODD_NUMBERS = ["0", "-1", "01", "+1", "1.5", "0x10", " 1", "1 ", "١٢", "\uff11\uff12", "१२", "²"]
TRICKS = ["", " ", "..", "../../etc/passwd", "..\\..\\boot.ini", "%", "%00", "a\x00b"]
ODD_TEXT = [
    "\x1b[31mred",
    "line\r\nInjected: yes",
    "\t\x0b\x0c",
    "\u202eevil",
    "\ufeffbom",
    "\u0000",
    "e\u0301\u0301\u0301",
    "🍅" * 50,
    "x" * 5000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "null",
    "[]",
    "{}",
]
HOSTILE_TEXT = [HUGE_NUMBERS, ODD_NUMBERS, TRICKS, ODD_TEXT]
# Percent-escapes a client may send that are not UTF-8 (or are tricks once decoded).
RAW_ESCAPES = ["%FF", "%ED%A0%80", "%C0%AE%C0%AE", "%2e%2e", "%2F", "%2e%2e%2f%2e%2e", "%E0%A5"]
HEADER_ODDITIES = ["*", 'W/"x", *', '"' * 500, 'W/"', "Mon, 32 Dec 99999 25:61:61 GMT", "\x7f"]


def one_class_of(classes: list[list[Any]]) -> st.SearchStrategy[Any]:
    """A class of hostile value, then a value of it: every class turns up in a few examples."""
    return st.one_of([st.sampled_from(values) for values in classes])


def _as_header(text: str) -> str:
    # As a WSGI server hands a header on: its bytes read as latin-1, never CR, LF or NUL.
    return "".join(c for c in text.encode().decode("latin-1") if c not in "\r\n\x00")[:1000]


SEGMENTS = one_class_of(
    [[quote(t, safe="") for t in kind] for kind in HOSTILE_TEXT] + [RAW_ESCAPES]
)
QUERY_VALUES = SEGMENTS
HEADERS = one_class_of([[_as_header(t) for t in kind] for kind in HOSTILE_TEXT] + [HEADER_ODDITIES])
# JSON values for a body field (json.dumps writes NaN and Infinity as the invalid tokens).
JSON_VALUES = one_class_of(
    [
        [2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -1, 0, 1.5],
        [float("nan"), float("inf"), float("-inf")],
        ["\ud800", "a\udfffb", "\ud83c", "\udc00\ud800", ["\ud800"]],
        [None, True, [], {}, {"$ne": None}, [[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]],
        [["x"] * 5000, "x" * 100_000, {str(n): n for n in range(1000)}],
        *HOSTILE_TEXT,
    ]
)
# Whole bodies no JSON parser should turn into a change.
HOSTILE_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"name": "\\ud800"}',
    b'{"name": "\\udc00\\ud800"}',
    b'{"name": "\xff\xfe"}',
    b'\xef\xbb\xbf{"name": "bom"}',
    b'{"name": NaN}',
    b'{"name": Infinity, "num_of_servings": -Infinity}',
    b'{"num_of_servings": 1e999999}',
    b'{"num_of_servings": ' + b"9" * 5000 + b"}",
    b"9" * 5000,
    b'{"name": "unterminated',
    b'{"name": "a", "name": "b"}',
    b"null",
    b"[]",
    b'"a string"',
    b"",
    b" ",
    b"\x00",
    b"{}" * 1000,
]
BODY_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    None,
]
# Baseline values a field may need to be accepted (or, for a password, to change nothing).
FIELD_BASELINES: dict[str, Any] = {
    "current_password": "not the current password",
    "password": PASSWORD,
    "new_password": "a brand new passphrase",
    "email": "alice@example.com",
    "username": "alice",
    "token": "not-a-token",
    "refresh_token": "not-a-token",
    "url": "https://potluck.invalid/soup",
    "source_url": "https://example.com/soup",
    "expires_at": None,
}


def _png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 60, 20)).save(image, "PNG")
    return image.getvalue()


PNG = _png()
# A PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb's opening).
BOMB = PNG[:16] + (100_000).to_bytes(4, "big") * 2 + PNG[24:]
HOSTILE_FILES = [b"", b"not an image", b"<svg onload=alert(1)/>", PNG[:20], BOMB, b"GIF89a"]
HOSTILE_FILENAMES = ["../../etc/passwd", "a\x00.png", "x" * 1000 + ".png", "", "🍅.png"]


def _baseline_value(name: str, schema: dict[str, Any]) -> Any:
    schema = _resolved(schema)
    if name in FIELD_BASELINES:
        return FIELD_BASELINES[name]
    if name in RECIPE:
        return RECIPE[name]
    if "example" in schema:
        return schema["example"]
    if enum := [value for value in schema.get("enum", []) if value is not None]:
        return enum[0]
    for combined in ("oneOf", "anyOf", "allOf"):
        if schema.get(combined):
            return _baseline_value(name, schema[combined][0])
    kind = schema.get("type")
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "x" * max(schema.get("minLength", 1), 1)


@dataclass
class Request:
    method: str
    raw_path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None

    def __str__(self) -> str:
        body = repr(self.body[:300]) if self.body else "no body"
        return (
            f"{self.method.upper()} {self.raw_path}{'?' + self.query if self.query else ''}\n"
            f"  headers: {self.headers!r}\n  Content-Type: {self.content_type}\n  body: {body}"
        )


@st.composite
def hostile_requests(draw: st.DrawFn, operation: Operation, baselines: dict[str, str]) -> Request:
    """A request the operation would accept, with one part (and maybe more) made hostile."""
    parameters = [p for p in operation.parameters if p["in"] in {"path", "query", "header"}]
    body_fields = list(operation.body_schema.get("properties", {}))
    targets = [f"{p['in']}:{p['name']}" for p in parameters] + [f"body:{f}" for f in body_fields]
    if operation.body_type == "application/json":
        targets += ["raw body", "content type"]
    elif operation.body_type:
        targets += ["file", "filename", "field name", "content type"]
    target = draw(st.sampled_from(targets or ["query:unexpected"]))

    def hostile(where: str) -> bool:
        return where == target or draw(st.integers(0, 3)) == 0

    path = operation.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for parameter in parameters:
        where, name = f"{parameter['in']}:{parameter['name']}", parameter["name"]
        if parameter["in"] == "path":
            value = draw(SEGMENTS) if hostile(where) else baselines[name]
            path = path.replace(f"{{{name}}}", value)
        elif parameter["in"] == "query" and hostile(where):
            query.append((name, draw(QUERY_VALUES)))
        elif parameter["in"] == "header" and hostile(where):
            headers[name] = draw(HEADERS)
    if target == "query:unexpected":
        query.append(("unexpected", draw(QUERY_VALUES)))
    request = Request(operation.method, path, "&".join(f"{k}={v}" for k, v in query), headers)

    if operation.body_type == "application/json":
        properties = operation.body_schema.get("properties", {})
        body = {name: _baseline_value(name, schema) for name, schema in properties.items()}
        for name in body_fields:
            if hostile(f"body:{name}"):
                body[name] = draw(JSON_VALUES)
        request.body = json.dumps(body).encode()
        request.content_type = "application/json"
        if target == "raw body":
            request.body = draw(st.sampled_from(HOSTILE_BODIES))
        if target == "content type":
            request.content_type = draw(st.sampled_from(BODY_TYPES[1:]))
    elif operation.body_type:
        field_name = next(iter(operation.body_schema.get("properties", {"file": None})))
        content, filename = PNG, "photo.png"
        if target == "file":
            content = draw(st.sampled_from(HOSTILE_FILES))
        if target == "filename":
            filename = draw(st.sampled_from(HOSTILE_FILENAMES))
        if target == "field name":
            field_name = draw(st.sampled_from(["", "file", "../cover", "cover[]", "x" * 500]))
        upload = FileStorage(io.BytesIO(content), filename, field_name)
        boundary, request.body = encode_multipart({field_name: upload}, boundary="potluck-sweep")
        request.content_type = f"multipart/form-data; boundary={boundary}"
        if target == "content type":
            request.content_type = draw(st.sampled_from(BODY_TYPES))
    return request


def _send(client: FlaskClient, request: Request, auth: dict[str, str]) -> Any:
    raw = unquote_to_bytes(request.raw_path).decode("latin-1")
    return client.open(
        "/",
        method=request.method.upper(),
        query_string=request.query,
        headers={**auth, **request.headers},
        data=request.body,
        content_type=request.content_type,
        environ_overrides={"PATH_INFO": raw, "REQUEST_URI": request.raw_path},
    )


@pytest.fixture
def baselines(
    client: FlaskClient, user: dict[str, Any], login: Callable[[str], dict[str, str]]
) -> Callable[[], tuple[dict[str, str], dict[str, str]]]:
    """Working credentials and path values naming live objects the user owns (signed in
    again after an example revoked the token, objects made again after one deleted them)."""
    objects: dict[str, str] = {}
    auth = login(user["username"])

    def live(path: str) -> bool:
        nonlocal auth
        answer = client.get(path, headers=auth)
        if answer.status_code == 401:
            auth = login(user["username"])
            answer = client.get(path, headers=auth)
        return answer.status_code == 200

    def refresh() -> tuple[dict[str, str], dict[str, str]]:
        recipe = objects.get("recipe_id")
        if recipe is None or not live(f"/api/v1/recipes/{recipe}"):
            created = client.post("/api/v1/recipes", json=RECIPE, headers=auth)
            assert created.status_code == 201, created.json
            objects["recipe_id"] = str(created.json["id"])
        key = objects.get("key_id")
        if key is None or not live(f"/api/v1/me/api-keys/{key}"):
            created = client.post(
                "/api/v1/me/api-keys", json={"name": "sweep", "scope": "write"}, headers=auth
            )
            assert created.status_code == 201, created.json
            objects["key_id"] = str(created.json["id"])
        values = {**objects, "username": user["username"], "token": "not-a-token"}
        return auth, values

    return refresh


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_hostile_values_are_refused_cleanly(
    operation: Operation,
    app: Flask,
    client: FlaskClient,
    baselines: Callable[[], tuple[dict[str, str], dict[str, str]]],
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def sweep(data: st.DataObject) -> None:
        auth, values = baselines()
        request = data.draw(hostile_requests(operation, values), label="request")
        before = row_counts(app)
        response = _send(client, request, auth)
        after = row_counts(app)
        described = f"{request}\n-> {response.status_code} {response.get_data()[:500]!r}"
        assert response.status_code < 500, described
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json", described
            problem = json.loads(response.get_data())
            assert problem["status"] == response.status_code, described
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            assert not changed, f"{described}\nrows changed: {changed}"

    sweep()
