"""What every answer carries: request ids, security headers, Cache-Control, Vary, gzip,
content negotiation (406, CSV), 405/413/415, OPTIONS, CORS and trusted proxies."""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import conftest
import pytest
from conftest import RECIPE, assert_problem
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from potluck import create_app
from potluck.domain.database import db as _db

LIST = "/api/v1/recipes"
MakeRecipe = Callable[..., dict[str, Any]]
BuildApp = Callable[..., Flask]


def vary(response: TestResponse) -> set[str]:
    return {name.strip().lower() for name in response.headers.get("Vary", "").split(",") if name}


def listed(header: str | None) -> set[str]:
    return {item.strip().lower() for item in (header or "").split(",") if item.strip()}


@pytest.fixture
def build_app(app: Flask, database_url: str, tmp_path: Path) -> Iterator[BuildApp]:
    """Another app on the test database, with extra settings (the `app` fixture emptied it)."""
    built: list[Flask] = []

    def build(**settings: str) -> Flask:
        instance = tmp_path / f"instance-{len(built)}"
        other = create_app(environ={**conftest.test_environ(database_url, instance), **settings})
        built.append(other)
        return other

    yield build
    for other in built:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


# X-Request-ID


def test_a_valid_request_id_is_echoed(client: FlaskClient) -> None:
    for given in ("abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace:1.2_3"):
        response = client.get(LIST, headers={"X-Request-ID": given})
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 129, "semi;colon", "new\\line"])
def test_a_missing_or_invalid_request_id_is_replaced(
    client: FlaskClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    first = client.get(LIST, headers=headers)
    second = client.get(LIST, headers=headers)
    for response in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_errors_carry_the_request_id_too(client: FlaskClient) -> None:
    response = client.get("/api/v1/recipes/999", headers={"X-Request-ID": "err-1"})
    assert_problem(response, 404)
    assert response.headers["X-Request-ID"] == "err-1"


# Security headers


@pytest.mark.parametrize(
    ("path", "status"),
    [(LIST, 200), ("/api/v1/recipes/999", 404), ("/api/v1/me", 401), ("/api/v1/openapi.json", 200)],
)
def test_json_answers_carry_security_headers(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp


def test_html_pages_get_a_page_csp(client: FlaskClient) -> None:
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert docs.mimetype == "text/html"
    docs_csp = docs.headers["Content-Security-Policy"]
    assert "default-src 'self'" in docs_csp
    assert "frame-ancestors 'none'" in docs_csp
    assert "script-src 'self' 'unsafe-inline'" in docs_csp  # Swagger UI starts inline
    assert docs.headers["X-Content-Type-Options"] == "nosniff"
    front = client.get("/")
    assert front.status_code == 200
    assert front.mimetype == "text/html"
    front_csp = front.headers["Content-Security-Policy"]
    assert "default-src 'self'" in front_csp
    assert "'unsafe-inline'" not in front_csp.split("script-src", 1)[1].split(";")[0]


# Cache-Control


def test_cache_control_on_reads(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    published = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    draft = f"/api/v1/recipes/{make_recipe(auth_headers, publish=False)['id']}"
    assert client.get(published).headers["Cache-Control"] == "public, no-cache"
    assert client.get(LIST).headers["Cache-Control"] == "public, no-cache"
    assert client.get("/api/v1/users/alice").headers["Cache-Control"] == "public, no-cache"
    own_draft = client.get(draft, headers=auth_headers)
    assert own_draft.status_code == 200
    assert listed(own_draft.headers["Cache-Control"]) >= {"private"}
    assert "public" not in listed(own_draft.headers["Cache-Control"])
    # Account data is never stored; published content stays public to a signed-in reader
    # too, since its bytes do not depend on who asks.
    me = client.get("/api/v1/me", headers=auth_headers)
    assert me.status_code == 200
    assert me.headers["Cache-Control"] == "no-store"
    assert client.get(LIST, headers=auth_headers).headers["Cache-Control"] == "public, no-cache"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/v1/recipes", RECIPE, 201),
        ("put", "/api/v1/recipes/{id}", RECIPE, 200),
        ("patch", "/api/v1/recipes/{id}", {"cook_time": 12}, 200),
        ("patch", "/api/v1/me", {"bio": "Cooks soup."}, 200),
        ("delete", "/api/v1/recipes/{id}/publish", None, 204),
        ("put", "/api/v1/recipes/{id}/publish", None, 204),
        ("delete", "/api/v1/recipes/{id}", None, 204),
    ],
)
def test_writes_are_never_stored(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    url = path.format(id=make_recipe(auth_headers)["id"])
    response = getattr(client, method)(url, json=body, headers=auth_headers)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/recipes/999"), ("get", "/api/v1/me"), ("get", "/api/v1/nothing")],
)
def test_errors_are_never_stored(client: FlaskClient, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code >= 400
    assert response.headers["Cache-Control"] == "no-store"


# Vary


def test_vary(client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    for path in (url, LIST, "/api/v1/users/alice", "/api/v1/users/alice/recipes"):
        assert "authorization" in vary(client.get(path)), path
    assert "authorization" in vary(client.get("/api/v1/me", headers=auth_headers))
    for path in (LIST, "/api/v1/users/alice/recipes"):
        assert "accept" in vary(client.get(path)), path
        assert "accept" in vary(client.get(path, headers={"Accept": "text/csv"})), path


# gzip


@pytest.fixture
def big_list(client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe) -> None:
    for number in range(4):
        make_recipe(auth_headers, name=f"Soup number {number}")


@pytest.mark.usefixtures("big_list")
def test_large_bodies_are_gzipped_when_accepted(client: FlaskClient) -> None:
    plain = client.get(LIST)
    assert plain.status_code == 200
    assert len(plain.data) > 1024
    assert "Content-Encoding" not in plain.headers
    assert "accept-encoding" in vary(plain)
    zipped = client.get(LIST, headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data)
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.content_type == plain.content_type == "application/json"
    assert "accept-encoding" in vary(zipped)
    etag = zipped.headers["ETag"]
    assert etag.endswith('-gzip"')
    assert etag == plain.headers["ETag"][:-1] + '-gzip"'
    for headers in ({"Accept-Encoding": "gzip"}, {}):
        fresh = client.get(LIST, headers={**headers, "If-None-Match": etag})
        assert fresh.status_code == 304
        assert fresh.data == b""
    for accepted in ("br, gzip;q=0.5", "GZIP", "*"):
        assert (
            client.get(LIST, headers={"Accept-Encoding": accepted}).headers.get("Content-Encoding")
            == "gzip"
        ), accepted
    for refused in ("identity", "gzip;q=0", "br"):
        response = client.get(LIST, headers={"Accept-Encoding": refused})
        assert "Content-Encoding" not in response.headers, refused
        assert response.data == plain.data


@pytest.mark.usefixtures("big_list")
def test_a_304_to_a_gzip_revalidation_carries_the_gzip_validators(client: FlaskClient) -> None:
    zipped = client.get(LIST, headers={"Accept-Encoding": "gzip"})
    etag = zipped.headers["ETag"]
    fresh = client.get(LIST, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert fresh.status_code == 304
    # RFC 9110, 15.4.5: the ETag and Vary a 200 would have carried.
    assert fresh.headers["ETag"] == etag
    assert "accept-encoding" in vary(fresh)


def test_small_bodies_are_not_gzipped(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert len(response.data) < 1024
    assert "Content-Encoding" not in response.headers
    assert response.json["name"] == RECIPE["name"]
    assert not response.headers["ETag"].endswith('-gzip"')


# Content negotiation: 406 and CSV


@pytest.mark.parametrize(
    ("method", "path", "accept"),
    [
        ("get", "/api/v1/recipes/{id}", "application/xml"),
        ("get", "/api/v1/recipes/{id}", "text/csv"),
        ("get", LIST, "application/xml"),
        ("get", LIST, "text/html"),
        ("get", "/api/v1/users/alice/recipes", "application/xml"),
        ("get", "/api/v1/users/alice", "application/xml"),
        ("get", "/api/v1/me", "application/xml"),
        ("post", "/api/v1/recipes", "application/xml"),
        ("head", "/api/v1/recipes/{id}", "image/png"),
    ],
)
def test_nothing_acceptable_is_406(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    method: str,
    path: str,
    accept: str,
) -> None:
    url = path.format(id=make_recipe(auth_headers)["id"])
    response = client.open(
        url,
        method=method.upper(),
        json=RECIPE if method == "post" else None,
        headers={**auth_headers, "Accept": accept},
    )
    if method == "head":
        assert response.status_code == 406
        return
    body = assert_problem(response, 406)
    assert "application/json" in body["detail"]
    assert len(client.get(LIST).json["data"]) == 1  # the refused POST wrote nothing


@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/*", "*/*", "application/xml, application/json;q=0.1"],
)
def test_acceptable_answers_are_json(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe, accept: str
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    for path in (url, LIST):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 200
        assert response.mimetype == "application/json"


def test_lists_answer_csv(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    soup = make_recipe(auth_headers)
    formula = make_recipe(
        auth_headers,
        name='=HYPERLINK("https://evil.example")',
        description="+1 for taste",
        ingredients=["=1+1 eggs", "2 cups flour"],
        tags=["baking"],
    )
    make_recipe(auth_headers, publish=False, name="Secret draft")
    response = client.get(LIST, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "accept" in vary(response)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    header, *records = rows
    assert {"id", "name", "description", "ingredients", "directions", "tags", "author"} <= set(
        header
    )
    assert len(records) == 2
    by_id = {int(row[header.index("id")]): dict(zip(header, row, strict=True)) for row in records}
    assert set(by_id) == {soup["id"], formula["id"]}
    assert by_id[soup["id"]]["name"] == RECIPE["name"]
    assert by_id[soup["id"]]["ingredients"] == "\n".join(RECIPE["ingredients"])
    assert by_id[soup["id"]]["directions"] == "\n".join(RECIPE["directions"])
    assert by_id[soup["id"]]["author"] == "alice"
    assert by_id[formula["id"]]["name"] == '\'=HYPERLINK("https://evil.example")'
    assert by_id[formula["id"]]["description"] == "'+1 for taste"
    assert by_id[formula["id"]]["ingredients"] == "'=1+1 eggs\n2 cups flour"
    # The JSON and CSV answers are different representations, with different validators.
    assert response.headers["ETag"] != client.get(LIST).headers["ETag"]
    user_list = client.get("/api/v1/users/alice/recipes", headers={"Accept": "text/csv"})
    assert user_list.status_code == 200
    assert user_list.mimetype == "text/csv"


def test_head_negotiates_like_get(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers)
    got = client.get(LIST, headers={"Accept": "text/csv"})
    head = client.head(LIST, headers={"Accept": "text/csv"})
    assert got.status_code == head.status_code == 200
    assert head.mimetype == "text/csv"
    assert head.data == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert "accept" in vary(head)


# 405, 413, 415 and OPTIONS


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", LIST, {"GET", "HEAD", "OPTIONS", "POST"}),
        ("patch", "/api/v1/users", {"OPTIONS", "POST"}),
        ("post", "/api/v1/recipes/{id}", {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}),
        ("patch", "/api/v1/recipes/{id}/publish", {"OPTIONS", "PUT", "DELETE"}),
        ("delete", "/api/v1/users/alice/recipes", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/api/v1/tokens/refresh", {"OPTIONS", "POST"}),
    ],
)
def test_wrong_methods_are_405_with_allow(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    url = path.format(id=make_recipe(auth_headers)["id"])
    response = client.open(url, method=method.upper(), json={}, headers=auth_headers)
    assert_problem(response, 405)
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize(
    ("method", "path", "authorized"),
    [
        ("post", LIST, True),
        ("put", "/api/v1/recipes/{id}", True),
        ("patch", "/api/v1/recipes/{id}", True),
        ("patch", "/api/v1/me", True),
        ("post", "/api/v1/users", False),
        ("post", "/api/v1/tokens", False),
    ],
)
def test_bodies_over_the_limit_are_413(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    method: str,
    path: str,
    authorized: bool,
) -> None:
    recipe = make_recipe(auth_headers)
    url = path.format(id=recipe["id"])
    app.config["MAX_CONTENT_LENGTH"] = 512
    body = {"name": "Big", "username": "carol", "email": "c@example.com", "bio": "b" * 900}
    response = client.open(
        url, method=method.upper(), json=body, headers=auth_headers if authorized else {}
    )
    assert_problem(response, 413)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    assert client.get(LIST).json["data"] == [client.get(f"/api/v1/recipes/{recipe['id']}").json]
    assert client.get(f"/api/v1/recipes/{recipe['id']}").json["name"] == RECIPE["name"]
    assert client.get("/api/v1/users/carol").status_code == 404
    assert client.get("/api/v1/me", headers=auth_headers).json["bio"] == ""


@pytest.mark.parametrize(
    ("method", "path", "advertised"),
    [
        ("post", LIST, "Accept-Post"),
        ("post", "/api/v1/users", "Accept-Post"),
        ("put", "/api/v1/recipes/{id}", None),
        ("patch", "/api/v1/recipes/{id}", "Accept-Patch"),
        ("patch", "/api/v1/me", "Accept-Patch"),
    ],
)
@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/x-www-form-urlencoded", "name=Soup"),
        ("text/plain", '{"name": "Soup"}'),
        ("application/xml", "<recipe><name>Soup</name></recipe>"),
    ],
)
def test_bodies_in_other_formats_are_415(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    method: str,
    path: str,
    advertised: str | None,
    content_type: str,
    data: str,
) -> None:
    recipe = make_recipe(auth_headers)
    url = path.format(id=recipe["id"])
    response = client.open(
        url, method=method.upper(), data=data, content_type=content_type, headers=auth_headers
    )
    body = assert_problem(response, 415)
    assert "application/json" in body["detail"]
    if advertised:
        assert listed(response.headers[advertised]) == {"application/json"}
    assert client.get(f"/api/v1/recipes/{recipe['id']}").json["name"] == RECIPE["name"]
    assert client.get(LIST).json["total"] == 1


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (LIST, {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/api/v1/recipes/1", {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}),
        ("/api/v1/recipes/1/publish", {"OPTIONS", "PUT", "DELETE"}),
        ("/api/v1/me", {"GET", "HEAD", "OPTIONS", "PATCH"}),
        ("/api/v1/tokens", {"OPTIONS", "POST", "DELETE"}),
    ],
)
def test_options_lists_the_allowed_methods(
    client: FlaskClient, path: str, allowed: set[str]
) -> None:
    response = client.options(path)
    assert response.status_code == 200
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert response.data == b""
    assert response.headers["Cache-Control"] == "no-store"


# CORS


ORIGIN = "https://cook.example"


def test_cors_preflight_from_an_allowed_origin(build_app: BuildApp) -> None:
    client = build_app(CORS_ORIGINS=ORIGIN).test_client()
    response = client.options(
        "/api/v1/recipes/1",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in {m.upper() for m in listed(response.headers["Access-Control-Allow-Methods"])}
    assert listed(response.headers["Access-Control-Allow-Headers"]) >= {
        "authorization",
        "content-type",
        "if-match",
    }
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    post = client.options(
        LIST,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Idempotency-Key, Content-Type, X-Request-ID",
        },
    )
    assert post.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert listed(post.headers["Access-Control-Allow-Headers"]) >= {
        "idempotency-key",
        "content-type",
        "x-request-id",
    }
    # Only the listed origin gets these headers, so caches must key on Origin (Fetch, 3.2.5).
    assert "origin" in vary(response)


def test_cors_exposes_the_headers_clients_need(build_app: BuildApp) -> None:
    client = build_app(CORS_ORIGINS=ORIGIN).test_client()
    response = client.get(LIST, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert listed(response.headers["Access-Control-Expose-Headers"]) >= {
        "etag",
        "link",
        "location",
        "retry-after",
        "x-request-id",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "idempotent-replayed",
        "cache-status",
    }
    assert "origin" in vary(response)


def test_no_cors_for_other_origins(build_app: BuildApp) -> None:
    client = build_app(CORS_ORIGINS=ORIGIN).test_client()
    for origin in ("https://evil.example", "https://cook.example.evil.example", "null"):
        preflight = client.options(
            LIST,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        simple = client.get(LIST, headers={"Origin": origin})
        for response in (preflight, simple):
            assert not any(
                name.lower().startswith("access-control-") for name, _ in response.headers.items()
            ), (origin, dict(response.headers))


def test_no_cors_without_configured_origins(client: FlaskClient) -> None:
    response = client.get(LIST, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


# Trusted proxies


def with_remote_addr_route(app: Flask) -> FlaskClient:
    app.add_url_rule("/test-remote-addr", "test_remote_addr", lambda: request.remote_addr or "")
    return app.test_client()


def test_forwarded_for_is_used_from_a_trusted_proxy(build_app: BuildApp) -> None:
    client = with_remote_addr_route(build_app(TRUSTED_PROXIES="127.0.0.1"))
    forwarded = client.get(
        "/test-remote-addr", headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}
    )
    assert forwarded.get_data(as_text=True) == "203.0.113.7"
    # A client cannot pick its address by prepending hops: the rightmost untrusted one counts.
    spoofed = client.get(
        "/test-remote-addr", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    )
    assert spoofed.get_data(as_text=True) == "203.0.113.7"
    direct = client.get(
        "/test-remote-addr",
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )
    assert direct.get_data(as_text=True) == "192.0.2.9"  # the peer is no proxy of ours
    assert client.get("/test-remote-addr").get_data(as_text=True) == "127.0.0.1"


def test_forwarded_for_is_ignored_without_trusted_proxies(app: Flask) -> None:
    client = with_remote_addr_route(app)
    response = client.get(
        "/test-remote-addr", headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "127.0.0.1"
