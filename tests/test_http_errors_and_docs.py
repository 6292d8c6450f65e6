"""Errors every route shares (404, 405, 500 as problem+json or HTML), the OpenAPI document,
the interactive docs and the book-compatible aliases at the root."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PROBLEM, assert_problem
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError, ProgrammingError

try:
    from openapi_spec_validator import validate as validate_openapi
except ImportError:  # pragma: no cover - the structural checks below still run
    validate_openapi = None

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
MakeRecipe = Callable[..., dict[str, Any]]


# 404, 405, 500


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v1/recipes/not-a-number",
        "/api/v1/recipes/1/nothing",
        "/api/v2/recipes",
        "/nothing-here",
        "/static/missing.css",
    ],
)
def test_unknown_routes_are_problem_json(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    body = assert_problem(response, 404)
    assert body["title"] == "Not Found"
    assert "<html" not in response.get_data(as_text=True).lower()


def test_a_browser_gets_an_html_404_page(client: FlaskClient) -> None:
    response = client.get("/nothing-here", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "Not Found" in page
    assert 'href="/"' in page


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/recipes/999"])
def test_a_browser_still_gets_problem_json_under_the_api(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert_problem(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/v1/recipes", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("post", "/api/v1/recipes/1", {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}),
        ("get", "/api/v1/recipes/1/publish", {"OPTIONS", "PUT", "DELETE"}),
        ("put", "/api/v1/users/alice", {"GET", "HEAD", "OPTIONS"}),
        ("post", "/api/v1/users/alice/recipes", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/api/v1/tokens", {"OPTIONS", "POST", "DELETE"}),
        ("delete", "/api/v1/me", {"GET", "HEAD", "OPTIONS", "PATCH"}),
        ("post", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
        ("patch", "/recipes", {"GET", "HEAD", "OPTIONS", "POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method.upper(), json={})
    body = assert_problem(response, 405)
    assert body["title"] == "Method Not Allowed"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


@pytest.fixture
def crashing_app(app: Flask) -> Flask:
    """The app with routes that fail the way a bug would, and exceptions handled as in
    production rather than re-raised into the test."""

    def crash() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/v1/crash", "api_crash", crash)
    app.add_url_rule("/crash", "web_crash", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_a_crash_is_a_500_without_internals(
    crashing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    response = crashing_app.test_client().get("/api/v1/crash")
    body = assert_problem(response, 500)
    assert body["title"] == "Internal Server Error"
    text = response.get_data(as_text=True)
    for leak in ("secret internals", "Traceback", "RuntimeError", "crash()", ".py"):
        assert leak not in text
    assert response.headers["Cache-Control"] == "no-store"
    assert "secret internals" in caplog.text  # the operator still learns what happened


class _DatabaseError(Exception):
    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("message", "sqlstate", "status"),
    [
        ("deadlock detected", "40P01", 503),
        ("could not serialize access", "40001", 503),
        ("database is locked", None, 503),
        ("disk I/O error", None, 500),
    ],
)
def test_a_transaction_the_database_gave_up_on_is_a_503_to_retry(
    crashing_app: Flask, message: str, sqlstate: str | None, status: int
) -> None:
    def conflict() -> str:
        raise OperationalError("UPDATE tags ...", {}, _DatabaseError(message, sqlstate))

    crashing_app.add_url_rule("/api/v1/conflict", "conflict", conflict)
    response = crashing_app.test_client().get("/api/v1/conflict")
    body = assert_problem(response, status)
    assert message not in body["detail"]
    if status == 503:
        assert response.headers["Retry-After"] == "1"
        assert "retry" in body["detail"]


def test_a_statement_the_database_refused_is_a_500_on_a_migrated_database(
    crashing_app: Flask,
) -> None:
    # Only a database the migrations have not reached makes it a 503 (test_operations).
    def broken() -> str:
        error = _DatabaseError('relation "nowhere" does not exist', "42P01")
        raise ProgrammingError("SELECT * FROM nowhere", {}, error)

    crashing_app.add_url_rule("/api/v1/broken", "broken", broken)
    body = assert_problem(crashing_app.test_client().get("/api/v1/broken"), 500)
    assert "nowhere" not in body["detail"]


def test_a_crash_on_a_page_is_an_html_500_without_internals(crashing_app: Flask) -> None:
    response = crashing_app.test_client().get("/crash", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Internal Server Error" in text
    assert "secret internals" not in text
    assert "Traceback" not in text


# The OpenAPI document


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.json
    return document


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        node: Any = spec
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _served_operations(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path) for every API route the app serves, but the docs themselves."""
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        if not path.startswith("/api/v1/") or path == "/api/v1/openapi.json":
            continue
        if path == "/api/v1/docs" or path.startswith("/api/v1/docs/"):
            continue
        served |= {
            (method, path) for method in rule.methods or () if method not in {"HEAD", "OPTIONS"}
        }
    return served


def test_openapi_document_is_valid(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"]
    assert spec["info"]["version"]
    assert spec["paths"]
    for (method, path), operation in _operations(spec).items():
        assert path.startswith("/api/v1/"), path
        assert operation["responses"], (method, path)
        assert operation.get("summary"), (method, path)
        for parameter in re.findall(r"{([^}]+)}", path):
            declared = spec["paths"][path].get("parameters", []) + operation.get("parameters", [])
            resolved = [_resolve(spec, p) for p in declared]
            assert any(
                p.get("in") == "path" and p["name"] == parameter and p.get("required")
                for p in resolved
            ), (method, path, parameter)
    if validate_openapi is not None:
        validate_openapi(spec)


def test_every_security_requirement_names_a_defined_scheme(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    undefined = {
        (method, path, name)
        for (method, path), operation in _operations(spec).items()
        for requirement in [*operation.get("security", []), *spec.get("security", [])]
        for name in requirement
        if name not in schemes
    }
    assert undefined == set()


def test_openapi_describes_every_api_route(app: Flask, spec: dict[str, Any]) -> None:
    served = _served_operations(app)
    documented = set(_operations(spec))
    assert ("POST", "/api/v1/recipes") in served  # the comparison sees the real routes
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_every_operation_documents_its_errors_as_problem_json(spec: dict[str, Any]) -> None:
    missing: list[str] = []
    for (method, path), operation in _operations(spec).items():
        responses = operation["responses"]
        codes = set(responses)
        if not any(code == "default" or code.startswith(("4", "5")) for code in codes):
            missing.append(f"{method} {path}: no error response")
        for code, response in responses.items():
            if code == "default" or code.startswith(("4", "5")):
                content = _resolve(spec, response).get("content", {})
                if set(content) != {PROBLEM}:
                    missing.append(f"{method} {path} {code}: {sorted(content)}")
                else:
                    schema = _resolve(spec, content[PROBLEM]["schema"])
                    assert {"type", "title", "status", "detail"} <= set(schema["properties"])
        security = operation.get("security", spec.get("security", []))
        if {"bearerAuth": []} in security and "401" not in codes:
            missing.append(f"{method} {path}: takes a token but documents no 401")
        # Header preconditions (If-Match, ...) answer 304/412, not 400; they are not input.
        validated = [
            p for p in operation.get("parameters", []) if p.get("in", "header") != "header"
        ]
        inputs = validated + (["body"] if "requestBody" in operation else [])
        if inputs and "400" not in codes:
            missing.append(f"{method} {path}: takes input but documents no 400")
        if "{" in path and "404" not in codes:
            missing.append(f"{method} {path}: names a resource but documents no 404")
    assert missing == [], "\n".join(missing)


def test_the_drafts_403_of_a_users_list_is_documented(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/api/v1/users/{username}/recipes"]["get"]
    assert "403" in operation["responses"]
    assert "visibility" in {p["name"] for p in operation["parameters"]}


def test_operations_declare_bearer_auth_exactly_when_they_need_a_token(
    client: FlaskClient, spec: dict[str, Any], user: dict[str, Any]
) -> None:
    operations = _operations(spec)
    required = [{"bearerAuth": []}]
    for key in (
        ("POST", "/api/v1/recipes"),
        ("GET", "/api/v1/me"),
        ("PATCH", "/api/v1/me"),
        ("PUT", "/api/v1/recipes/{recipe_id}"),
        ("DELETE", "/api/v1/recipes/{recipe_id}/publish"),
        ("DELETE", "/api/v1/tokens"),
    ):
        assert operations[key]["security"] == required, key
    for key in (("GET", "/api/v1/recipes"), ("POST", "/api/v1/users")):
        assert operations[key].get("security", spec.get("security", [])) in ([], [{}]), key
    wrong = []
    for (method, path), operation in operations.items():
        url = path.replace("{recipe_id}", "1").replace("{username}", user["username"])
        url = url.replace("{key_id}", "1").replace("{token}", "not-a-token")
        response = client.open(url, method=method, json={})
        security = operation.get("security", spec.get("security", []))
        if (response.status_code == 401) != (security == required):
            wrong.append((method, path, response.status_code, security))
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if {} in security and {"bearerAuth": []} in security:
            # Optional: works without a token, but a broken one is still refused.
            assert response.status_code != 401, (method, path)
            forged = client.open(
                url, method=method, json={}, headers={"Authorization": "Bearer forged"}
            )
            assert_problem(forged, 401)
            assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    assert wrong == []


# The interactive documentation


def test_docs_page_uses_the_locally_served_swagger_ui(client: FlaskClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in assets
    assert "/api/v1/docs/assets/swagger-ui.css" in assets
    assert all(url.startswith("/api/v1/docs/assets/") for url in assets), assets
    assert "/api/v1/openapi.json" in page
    assert "//" not in "".join(assets)  # nothing from a CDN: the docs work offline
    for url in assets:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert asset.get_data()


def test_swagger_ui_bundle_is_served_as_javascript(client: FlaskClient) -> None:
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as response:
        assert response.status_code == 200
        assert response.mimetype in {"text/javascript", "application/javascript"}
        assert "public" in response.headers["Cache-Control"]
        assert response.headers["ETag"]
        body = response.get_data()
        assert len(body) > 100_000
        assert b"SwaggerUIBundle" in body


@pytest.mark.parametrize(
    "path",
    ["/api/v1/docs/assets/nothing.js", "/api/v1/docs/assets/../../../../etc/passwd"],
)
def test_missing_docs_assets_are_404(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        assert_problem(response, 404)
        assert b"root:" not in response.get_data()


# The book-compatible aliases at the root


def test_root_aliases_answer_like_the_api(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    recipe = make_recipe(auth_headers, name="Alias Soup")
    draft = make_recipe(auth_headers, publish=False, name="Alias Draft")
    make_recipe(other_headers, name="Bob's Bread")
    for path in (
        "/recipes",
        "/recipes?q=soup&per_page=1",
        f"/recipes/{recipe['id']}",
        "/users/alice/recipes",
        "/users/alice/recipes?sort=name&order=asc",
    ):
        root = client.get(path)
        api = client.get(f"/api/v1{path}")
        assert root.status_code == api.status_code == 200, path
        assert root.content_type == api.content_type == "application/json"
        root_body, api_body = root.json, api.json
        if "links" in api_body:  # page links point back at the form the client used
            root_links = root_body.pop("links")
            api_links = api_body.pop("links")
            assert root_links == {
                rel: url and url.removeprefix("/api/v1") for rel, url in api_links.items()
            }
            assert root.headers["Link"] == api.headers["Link"].replace("</api/v1/", "</")
        assert root_body == api_body, path
    assert client.get(f"/recipes/{recipe['id']}").json["name"] == "Alias Soup"
    assert client.get("/users/alice/recipes").json["total"] == 1

    own_drafts = "/users/alice/recipes?visibility=all"
    assert client.get(own_drafts, headers=auth_headers).json["total"] == 2
    assert (
        client.get(own_drafts, headers=auth_headers).json["data"]
        == client.get(f"/api/v1{own_drafts}", headers=auth_headers).json["data"]
    )
    assert_problem(client.get(f"/recipes/{draft['id']}"), 404)
    assert_problem(client.get(own_drafts, headers=other_headers), 403)
    assert_problem(client.get("/users/nobody/recipes"), 404)
