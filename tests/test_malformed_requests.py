"""Regression tests for the classes of malformed request that once reached the database or
the JSON parser (issue 10): each gets a clear 4xx in problem+json and changes nothing.

- ids and page numbers beyond what the database holds (they overflowed: 500);
- JSON nested past any sane depth (RecursionError: 500);
- lone UTF-16 surrogate escapes in JSON strings (accepted, then 500 when stored);
- a chunked body past MAX_CONTENT_LENGTH (it was cut at the limit, and a valid prefix
  stored: 201), which needs a real server (`live_potluck`) for the framing;
- ids spelled in other scripts' digits, or with a leading zero (they reached the recipe);
- OPTIONS on the action paths under /users/ (they listed GET, shadowed by /users/<username>).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from conftest import LIVE_PASSWORD, PROBLEM, RECIPE, LivePotluck, row_counts
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

# Past a 32-bit column, the largest id the URL allows, past a 64-bit one, and far past.
TOO_BIG_IDS = [2**31, 2**63 - 1, 2**63, 2**64, 10**30, int("9" * 40)]
DIGITS = "0123456789"
# The same id in other scripts' digits: Werkzeug's int converter read them all as ASCII.
SPELLINGS = {
    "arabic-indic": str.maketrans(DIGITS, "٠١٢٣٤٥٦٧٨٩"),
    "fullwidth": str.maketrans(DIGITS, "".join(chr(0xFF10 + n) for n in range(10))),
    "devanagari": str.maketrans(DIGITS, "०१२३४५६७८९"),
    "bengali": str.maketrans(DIGITS, "০১২৩৪৫৬৭৮৯"),
}
LONE_SURROGATES = ["\\ud800", "\\udfff", "x\\ud800y", "\\udc00\\ud800", "\\ud83c"]
DEPTH = 100_000


def _png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 120, 40)).save(image, "PNG")
    return image.getvalue()


PNG = _png()


def assert_problem(response: TestResponse, status: int, field: str | None = None) -> Any:
    """`response` is a problem+json of `status` (naming `field` among its errors)."""
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert response.mimetype == PROBLEM, response.headers
    problem = json.loads(body)
    assert problem["status"] == status, problem
    assert problem["title"], problem
    if field is not None:
        assert field in problem.get("errors", {}), problem
    return problem


@pytest.fixture
def owned(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> dict[str, int]:
    """A published recipe with a cover, and an API key, both alice's: the ids a wrongly
    read URL could reach."""
    recipe = make_recipe(auth_headers)
    upload = {"cover": FileStorage(io.BytesIO(PNG), "cover.png", "cover")}
    covered = client.put(f"/api/v1/recipes/{recipe['id']}/cover", data=upload, headers=auth_headers)
    assert covered.status_code in {200, 201}, covered.json
    key = client.post("/api/v1/me/api-keys", json={"name": "ci"}, headers=auth_headers)
    assert key.status_code == 201, key.json
    return {"recipe": recipe["id"], "key": key.json["id"]}


def _id_requests(recipe: str, key: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every operation that takes an id in its path, with a body it would accept."""
    cover = {"cover": FileStorage(io.BytesIO(PNG), "cover.png", "cover")}
    yield "GET", f"/api/v1/recipes/{recipe}", {}
    yield "PUT", f"/api/v1/recipes/{recipe}", {"json": {**RECIPE, "name": "Replaced"}}
    yield "PATCH", f"/api/v1/recipes/{recipe}", {"json": {"name": "Patched"}}
    yield "DELETE", f"/api/v1/recipes/{recipe}", {}
    yield "PUT", f"/api/v1/recipes/{recipe}/publish", {}
    yield "DELETE", f"/api/v1/recipes/{recipe}/publish", {}
    yield "GET", f"/api/v1/recipes/{recipe}/cover", {}
    yield "PUT", f"/api/v1/recipes/{recipe}/cover", {"data": cover}
    yield "DELETE", f"/api/v1/recipes/{recipe}/cover", {}
    yield "GET", f"/api/v1/me/api-keys/{key}", {}
    yield "DELETE", f"/api/v1/me/api-keys/{key}", {}


ID_OPERATIONS = [f"{method} {path}" for method, path, _ in _id_requests("{id}", "{id}")]


def _snapshot(client: FlaskClient, owned: dict[str, int], auth: dict[str, str]) -> list[Any]:
    """What alice can read of her recipe and key: a request that changed nothing leaves it."""
    recipe = client.get(f"/api/v1/recipes/{owned['recipe']}", headers=auth)
    key = client.get(f"/api/v1/me/api-keys/{owned['key']}", headers=auth)
    assert recipe.status_code == 200, recipe.json
    assert key.status_code == 200, key.json
    return [recipe.json, key.json]


@pytest.fixture
def unchanged(
    app: Flask, client: FlaskClient, owned: dict[str, int], auth_headers: dict[str, str]
) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """`with unchanged():` fails unless the block left every row, alice's recipe and key."""

    @contextlib.contextmanager
    def unchanged() -> Iterator[None]:
        before, rows = _snapshot(client, owned, auth_headers), row_counts(app)
        yield
        assert _snapshot(client, owned, auth_headers) == before
        assert row_counts(app) == rows

    return unchanged


Unchanged = Callable[[], contextlib.AbstractContextManager[None]]


@pytest.mark.parametrize("operation", range(len(ID_OPERATIONS)), ids=ID_OPERATIONS.__getitem__)
def test_an_id_past_the_database_range_is_not_found(
    client: FlaskClient,
    auth_headers: dict[str, str],
    unchanged: Unchanged,
    subtests: pytest.Subtests,
    operation: int,
) -> None:
    for number in TOO_BIG_IDS:
        with subtests.test(id=number):
            method, path, body = list(_id_requests(str(number), str(number)))[operation]
            with unchanged():
                response = client.open(path, method=method, headers=auth_headers, **body)
            assert_problem(response, 404)


@pytest.mark.parametrize("operation", range(len(ID_OPERATIONS)), ids=ID_OPERATIONS.__getitem__)
def test_an_id_has_one_spelling(
    client: FlaskClient,
    auth_headers: dict[str, str],
    owned: dict[str, int],
    unchanged: Unchanged,
    subtests: pytest.Subtests,
    operation: int,
) -> None:
    for spelling in [*SPELLINGS, "leading zero"]:

        def spelled(number: int, spelling: str = spelling) -> str:
            if spelling == "leading zero":
                return f"0{number}"
            return quote(str(number).translate(SPELLINGS[spelling]))

        with subtests.test(spelling=spelling):
            requests = _id_requests(spelled(owned["recipe"]), spelled(owned["key"]))
            method, path, body = list(requests)[operation]
            with unchanged():
                response = client.open(path, method=method, headers=auth_headers, **body)
            assert_problem(response, 404)


LISTS = ["/api/v1/recipes", "/api/v1/users/alice/recipes", "/api/v1/tags"]
LIST_NUMBERS = [("page", lists) for lists in LISTS] + [("per_page", lists) for lists in LISTS]
LIST_NUMBERS += [("max_cook_time", lists) for lists in LISTS[:2]]


@pytest.mark.parametrize(("parameter", "path"), LIST_NUMBERS)
def test_a_list_number_past_the_database_range_is_a_400_naming_it(
    client: FlaskClient,
    auth_headers: dict[str, str],
    subtests: pytest.Subtests,
    parameter: str,
    path: str,
) -> None:
    for number in [*TOO_BIG_IDS, -(2**63) - 1]:
        with subtests.test(number=number):
            query = {parameter: str(number)}
            response = client.get(path, query_string=query, headers=auth_headers)
            assert_problem(response, 400, parameter)


def _nested(depth: int, opening: bytes, inner: bytes, closing: bytes) -> bytes:
    return opening * depth + inner + closing * depth


DEEP_BODIES = {
    "arrays": _nested(DEPTH, b"[", b"", b"]"),
    "objects": _nested(DEPTH, b'{"a":', b"1", b"}"),
    "in a field": b'{"name": "Deep", "tags": ' + _nested(DEPTH, b"[", b'"x"', b"]") + b"}",
    "past 1,000 levels": _nested(1_500, b"[", b"", b"]"),
}
JSON_WRITES = [
    ("POST", "/api/v1/recipes"),
    ("PUT", "/api/v1/recipes/{recipe}"),
    ("PATCH", "/api/v1/recipes/{recipe}"),
    ("PATCH", "/api/v1/me"),
    ("POST", "/api/v1/me/api-keys"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/tokens"),
    ("POST", "/api/v1/users/activate"),
    ("POST", "/api/v1/users/password-reset"),
]


@pytest.mark.parametrize(("method", "path"), JSON_WRITES)
def test_deeply_nested_json_is_a_400(
    client: FlaskClient,
    auth_headers: dict[str, str],
    owned: dict[str, int],
    unchanged: Unchanged,
    subtests: pytest.Subtests,
    method: str,
    path: str,
) -> None:
    for shape, body in DEEP_BODIES.items():
        with subtests.test(shape=shape), unchanged():
            response = client.open(
                path.format(recipe=owned["recipe"]),
                method=method,
                data=body,
                content_type="application/json",
                headers=auth_headers,
            )
            assert_problem(response, 400)


SURROGATE_FIELDS = [
    ("POST", "/api/v1/recipes", {"name": "Soup"}, "name"),
    ("POST", "/api/v1/recipes", {"name": "Soup"}, "description"),
    ("POST", "/api/v1/recipes", {"name": "Soup"}, "ingredients"),
    ("POST", "/api/v1/recipes", {"name": "Soup"}, "directions"),
    ("POST", "/api/v1/recipes", {"name": "Soup"}, "tags"),
    ("PUT", "/api/v1/recipes/{recipe}", RECIPE, "name"),
    ("PATCH", "/api/v1/recipes/{recipe}", {}, "description"),
    ("PATCH", "/api/v1/me", {}, "display_name"),
    ("PATCH", "/api/v1/me", {}, "bio"),
    ("POST", "/api/v1/me/api-keys", {}, "name"),
    (
        "POST",
        "/api/v1/users",
        {"username": "newcomer", "email": "new@example.com", "password": "long enough pass"},
        "display_name",
    ),
    ("POST", "/api/v1/users", {"email": "new@example.com", "password": "long enough"}, "username"),
]
LIST_FIELDS = {"ingredients", "directions", "tags"}


def _with_raw_string(fields: dict[str, Any], name: str, escaped: str) -> bytes:
    """`fields` as JSON plus `name` holding the string whose JSON escapes are `escaped`."""
    value = f'"{escaped}"'
    if name in LIST_FIELDS:
        value = f"[{value}]"
    return (
        json.dumps(fields).encode()[:-1]
        + (", " if fields else "").encode()
        + (f'"{name}": {value}}}'.encode())
    )


@pytest.mark.parametrize(
    ("method", "path", "fields", "name"),
    SURROGATE_FIELDS,
    ids=[f"{m} {p} {n}" for m, p, _, n in SURROGATE_FIELDS],
)
def test_a_lone_surrogate_is_a_400_and_stores_nothing(
    client: FlaskClient,
    auth_headers: dict[str, str],
    owned: dict[str, int],
    unchanged: Unchanged,
    subtests: pytest.Subtests,
    method: str,
    path: str,
    fields: dict[str, Any],
    name: str,
) -> None:
    for escaped in LONE_SURROGATES:
        with subtests.test(escaped=escaped), unchanged():
            response = client.open(
                path.format(recipe=owned["recipe"]),
                method=method,
                data=_with_raw_string(fields, name, escaped),
                content_type="application/json",
                headers=auth_headers,
            )
            assert_problem(response, 400)


def test_an_escaped_surrogate_pair_is_text(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    # A correct pair is one character (a tomato), stored and returned as such.
    body = b'{"name": "Soup \\ud83c\\udf45", "ingredients": ["1 \\ud83c\\udf45"]}'
    response = client.post(
        "/api/v1/recipes", data=body, content_type="application/json", headers=auth_headers
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "Soup \N{TOMATO}"
    stored = client.get(response.headers["Location"], headers=auth_headers)
    assert stored.json["name"] == "Soup \N{TOMATO}"
    assert stored.json["ingredients"] == ["1 \N{TOMATO}"]


ACTION_PATHS = {
    "/api/v1/users/activate": {"POST", "OPTIONS"},
    "/api/v1/users/activation-email": {"POST", "OPTIONS"},
    "/api/v1/users/password-reset": {"POST", "OPTIONS"},
    "/api/v1/users/password-reset/complete": {"POST", "OPTIONS"},
}


def _allowed(response: TestResponse) -> set[str]:
    return {method.strip() for method in response.headers.get("Allow", "").split(",")}


@pytest.mark.parametrize("path", ACTION_PATHS)
def test_options_on_an_action_path_lists_its_own_methods(client: FlaskClient, path: str) -> None:
    response = client.options(path)
    assert response.status_code == 200
    assert _allowed(response) == ACTION_PATHS[path]


@pytest.mark.parametrize("path", ACTION_PATHS)
def test_get_on_an_action_path_is_a_405(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert_problem(response, 405)
    assert _allowed(response) == ACTION_PATHS[path]


@pytest.mark.parametrize("username", ["activate", "Activation-Email", "password-reset", "avatar"])
def test_an_action_name_cannot_be_a_username(client: FlaskClient, username: str) -> None:
    body = {"username": username, "email": "taken@example.com", "password": "long enough pass"}
    response = client.post("/api/v1/users", json=body)
    assert_problem(response, 400, "username")


# Through a real server: the Flask test client has no chunked framing.


def _exchange(
    live: LivePotluck,
    method: str,
    path: str,
    headers: dict[str, str],
    pieces: Iterable[bytes],
    chunked: bool = True,
) -> tuple[int, str, bytes]:
    """Send `pieces` as the body (chunked, or with a Content-Length); the server may answer
    and close before it has read everything, as a 413 should."""
    address = urlsplit(live.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
    try:
        connection.putrequest(method, path)
        pieces = list(pieces)
        if chunked:
            headers = {**headers, "Transfer-Encoding": "chunked"}
        else:
            headers = {**headers, "Content-Length": str(sum(map(len, pieces)))}
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for piece in pieces:
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def _padded(prefix: bytes, total: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    """`prefix`, then spaces until `total` bytes, in pieces."""
    yield prefix
    remaining = total - len(prefix)
    while remaining > 0:
        yield b" " * min(piece, remaining)
        remaining -= piece


@pytest.fixture(scope="module")
def chef(live_potluck: LivePotluck) -> dict[str, str]:
    credentials = json.dumps({"username": "chef", "password": LIVE_PASSWORD}).encode()
    status, _, body = _exchange(
        live_potluck,
        "POST",
        "/api/v1/tokens",
        {"Content-Type": "application/json"},
        [credentials],
        chunked=False,
    )
    assert status == 200, body
    return {"Authorization": f"Bearer {json.loads(body)['access_token']}"}


def _assert_too_large(status: int, content_type: str, body: bytes) -> None:
    assert status == 413, body[:500]
    assert content_type == PROBLEM
    assert json.loads(body)["status"] == 413


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_json_body_past_the_limit_is_a_413_and_stores_nothing(
    live_potluck: LivePotluck, chef: dict[str, str], chunked: bool
) -> None:
    # Cut at the limit, the body is still valid JSON: only reading all of it tells.
    prefix = json.dumps({**RECIPE, "name": "Cut at the limit"}).encode()
    before = live_potluck.row_counts()
    answer = _exchange(
        live_potluck,
        "POST",
        "/api/v1/recipes",
        {**chef, "Content-Type": "application/json"},
        _padded(prefix, live_potluck.max_content_length + 1024 * 1024),
        chunked,
    )
    _assert_too_large(*answer)
    assert live_potluck.row_counts() == before


def test_a_chunked_json_body_within_the_limit_is_read(
    live_potluck: LivePotluck, chef: dict[str, str]
) -> None:
    prefix = json.dumps({**RECIPE, "name": "Chunked and whole"}).encode()
    status, _, body = _exchange(
        live_potluck,
        "POST",
        "/api/v1/recipes",
        {**chef, "Content-Type": "application/json"},
        _padded(prefix, 512 * 1024, piece=16 * 1024),
    )
    assert status == 201, body
    assert json.loads(body)["name"] == "Chunked and whole"


@pytest.mark.parametrize("limit", ["max_content_length", "max_image_bytes"])
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_upload_past_the_limit_is_a_413_and_stores_nothing(
    live_potluck: LivePotluck, chef: dict[str, str], chunked: bool, limit: str
) -> None:
    recipe = json.dumps({"name": "Uncovered"}).encode()
    json_type = {**chef, "Content-Type": "application/json"}
    status, _, body = _exchange(live_potluck, "POST", "/api/v1/recipes", json_type, [recipe])
    assert status == 201, body
    location = f"/api/v1/recipes/{json.loads(body)['id']}"
    # A whole form with the image, then an epilogue past the limit: cut at the limit it
    # still parses, with the cover in it.
    boundary, form = encode_multipart(
        {"cover": FileStorage(io.BytesIO(PNG), "cover.png", "cover")}, boundary="potluck-cut"
    )
    before = live_potluck.row_counts()
    answer = _exchange(
        live_potluck,
        "PUT",
        f"{location}/cover",
        {**chef, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        _padded(form, getattr(live_potluck, limit) + 1024 * 1024),
        chunked,
    )
    _assert_too_large(*answer)
    assert live_potluck.row_counts() == before
    status, _, body = _exchange(live_potluck, "GET", location, chef, [], chunked=False)
    assert status == 200, body
    assert json.loads(body)["cover_url"] is None
