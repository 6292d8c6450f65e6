"""Cursor (keyset) paging of recipe lists: walks against a brute-force oracle for every sort
and order, walks while recipes change, filters, search relevance, CSV, refused cursors and
the cost of a deep page."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from conftest import PROBLEM, TEST_SECRET, query_plan, sorted_like_the_api
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from sqlalchemy import event
from werkzeug.test import TestResponse

from potluck.domain.database import db
from potluck.services.keyset import CURSOR_SALT, list_fingerprint
from potluck.services.search import DEFAULT_ORDER

LIST = "/api/v1/recipes"
SORTS = ("created_at", "updated_at", "name", "cook_time", "num_of_servings")
MakeRecipe = Callable[..., dict[str, Any]]
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')


def links_of(response: TestResponse) -> dict[str, str]:
    return {rel: url for url, rel in _LINK.findall(response.headers.get("Link", ""))}


def ids(response: TestResponse) -> list[int]:
    assert response.status_code == 200, response.json
    return [recipe["id"] for recipe in response.json["data"]]


def walk(
    client: FlaskClient, url: str, headers: dict[str, str] | None = None, between: Any = None
) -> list[int]:
    """Every id of a list, from its first page on through next_cursor; `between(n)` runs
    after page n. Checks each cursor page's envelope and links on the way."""
    seen: list[int] = []
    response = client.get(url, headers=headers)
    pages = 0
    while True:
        seen += ids(response)
        pages += 1
        body = response.json
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["links"]["next"] is None
            assert "next" not in links_of(response)
            return seen
        assert len(body["data"]) == body["per_page"]
        if between is not None:
            between(pages)
        next_url = body["links"]["next"]
        if body["page"] is None:  # cursor mode: the next link carries the cursor
            assert parse_qs(urlsplit(next_url).query)["cursor"] == [cursor]
            assert links_of(response)["next"] == next_url
        separator = "&" if "?" in url else "?"
        response = client.get(f"{url}{separator}cursor={cursor}", headers=headers)
        assert response.json["page"] is None
        assert response.json["pages"] is None
        assert response.json["links"]["last"] is None
        assert pages < 200, "the walk does not end"


@pytest.fixture
def tied_recipes(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> list[dict[str, Any]]:
    """Three dozen recipes full of ties: same names, cook times (NULL too), servings, and
    batches written at one frozen instant (same created_at and updated_at); a few drafts."""
    rng = random.Random(2024)
    start = datetime.now(UTC).replace(microsecond=0)
    made = []
    for batch in range(6):
        with time_machine.travel(start + timedelta(seconds=batch), tick=False):
            for n in range(6):
                recipe = make_recipe(
                    auth_headers,
                    publish=(batch * 6 + n) % 11 != 4,
                    name=rng.choice(["Dal", "Dal", "Pho", "Apple Pie", "Zucchini Fritters"]),
                    cook_time=rng.choice([None, None, 10, 30, 30, 60]),
                    num_of_servings=rng.choice([2, 4, 4, 6]),
                )
                made.append(recipe)
    published = [client.get(f"{LIST}/{r['id']}").json for r in made if r["is_publish"]]
    assert len(published) == 33
    return published


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", SORTS)
def test_cursor_walk_matches_the_oracle(
    client: FlaskClient, tied_recipes: list[dict[str, Any]], sort: str, order: str
) -> None:
    expected = sorted_like_the_api(tied_recipes, sort, order)
    assert len(set(expected)) == len(tied_recipes)
    walked = walk(client, f"{LIST}?sort={sort}&order={order}&per_page=4")
    assert walked == expected
    # Switching from page mode later on, at page 3, continues where page 3 ends.
    page_3 = client.get(f"{LIST}?sort={sort}&order={order}&per_page=4&page=3")
    assert (page_3.json["page"], page_3.json["pages"]) == (3, 9)
    rest = client.get(
        f"{LIST}?sort={sort}&order={order}&per_page=30&cursor=" + page_3.json["next_cursor"]
    )
    assert ids(page_3) + ids(rest) == expected[8:12] + expected[12:]
    assert rest.json["next_cursor"] is None
    assert rest.json["total"] == 33


def test_cursor_mode_envelope_and_links(
    client: FlaskClient, tied_recipes: list[dict[str, Any]]
) -> None:
    first = client.get(f"{LIST}?sort=name&per_page=10&tag=soup")
    assert first.json["page"] == 1
    cursor = first.json["next_cursor"]
    second = client.get(f"{LIST}?sort=name&per_page=10&tag=soup&cursor={cursor}")
    assert second.status_code == 200
    assert second.content_type == "application/json"
    body = second.json
    assert set(body) == {"data", "page", "per_page", "pages", "total", "next_cursor", "links"}
    assert (body["page"], body["pages"], body["per_page"], body["total"]) == (None, None, 10, 33)
    links = body["links"]
    assert parse_qs(urlsplit(links["first"]).query) == {
        "sort": ["name"],
        "per_page": ["10"],
        "tag": ["soup"],
    }
    assert (links["last"], links["prev"]) == (None, None)
    assert parse_qs(urlsplit(links["next"]).query)["cursor"] == [body["next_cursor"]]
    assert links_of(second) == {"first": links["first"], "next": links["next"]}
    # The root alias pages the same way, with links to itself.
    alias = client.get(f"/recipes?sort=name&per_page=10&tag=soup&cursor={cursor}")
    assert ids(alias) == ids(second)
    assert urlsplit(alias.json["links"]["next"]).path == "/recipes"


def test_the_last_page_has_no_next_cursor(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    made = [make_recipe(auth_headers, name=f"R{n}")["id"] for n in range(4)]
    assert client.get(f"{LIST}?per_page=4").json["next_cursor"] is None
    assert client.get(f"{LIST}?per_page=2&page=2").json["next_cursor"] is None
    assert client.get(f"{LIST}?per_page=2&page=7").json["next_cursor"] is None
    cursor = client.get(f"{LIST}?per_page=2").json["next_cursor"]
    last = client.get(f"{LIST}?per_page=2&cursor={cursor}")
    assert ids(last) == made[1::-1]
    assert last.json["next_cursor"] is None
    assert last.json["links"]["next"] is None
    assert client.get(LIST).json["next_cursor"] is None  # no page after an empty list either


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("created_at", "desc"),
        ("created_at", "asc"),
        ("name", "asc"),
        ("cook_time", "desc"),
        ("num_of_servings", "asc"),
    ],
)
def test_a_walk_sees_every_recipe_once_while_recipes_change(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    tied_recipes: list[dict[str, Any]],
    sort: str,
    order: str,
) -> None:
    before = {r["id"] for r in tied_recipes}
    rng = random.Random(sort + order)
    expected = sorted_like_the_api(tied_recipes, sort, order)
    added: list[int] = []

    def write(page: int) -> None:
        # New recipes land before and after the cursor; an edit keeps this sort key.
        for _ in range(2):
            recipe = make_recipe(
                auth_headers,
                name=rng.choice(["Aioli", "Dal", "Zuppa"]),
                cook_time=rng.choice([None, 5, 30, 1440]),
                num_of_servings=rng.choice([1, 4, 50]),
            )
            added.append(recipe["id"])
        edited = expected[(page * 3 + rng.choice([-1, 1, 4])) % len(expected)]
        patched = client.patch(
            f"{LIST}/{edited}", json={"description": f"Edited {page}."}, headers=auth_headers
        )
        assert patched.status_code == 200

    walked = walk(client, f"{LIST}?sort={sort}&order={order}&per_page=3", between=write)
    assert len(walked) == len(set(walked)), "a recipe came twice"
    assert before <= set(walked), "a recipe was skipped"
    assert [i for i in walked if i in before] == expected
    assert set(walked) - before <= set(added)


@pytest.fixture
def lemons(client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe) -> list[int]:
    """Recipes that match "lemon" more and less well, several equally well."""
    made = []
    for n in range(5):
        made.append(make_recipe(auth_headers, name=f"Lemon Tart {n}", description="Sweet."))
        made.append(make_recipe(auth_headers, name=f"Fish {n}", description="With lemon."))
        made.append(make_recipe(auth_headers, name=f"Salad {n}", ingredients=["1 lemon"]))
        made.append(make_recipe(auth_headers, name=f"Bread {n}", ingredients=["flour"]))
    make_recipe(auth_headers, publish=False, name="Lemon draft")
    return [r["id"] for r in made]


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_relevance_walk_follows_the_ranked_list(
    client: FlaskClient, lemons: list[int], order: str
) -> None:
    query = f"q=lemon&sort=relevance&order={order}"
    ranked = ids(client.get(f"{LIST}?{query}&per_page=100"))
    assert len(ranked) == 15
    assert walk(client, f"{LIST}?{query}&per_page=2") == ranked
    by_name = ids(client.get(f"{LIST}?q=lemon&sort=name&per_page=100"))
    assert walk(client, f"{LIST}?q=lemon&sort=name&per_page=4") == by_name


@pytest.mark.parametrize(
    "query",
    [
        "tag=soup&sort=cook_time",
        "tag=SOUP&tag=vegetarian&sort=num_of_servings&order=desc",
        "author=ALICE&sort=updated_at",
        "max_cook_time=30&sort=cook_time&order=desc",
        "q=dal&sort=created_at",
        "q=pie&tag=soup&max_cook_time=60&author=alice&sort=name&order=desc",
    ],
)
def test_filters_hold_across_cursor_pages(
    client: FlaskClient, tied_recipes: list[dict[str, Any]], query: str
) -> None:
    whole = ids(client.get(f"{LIST}?{query}&per_page=100"))
    assert whole
    assert walk(client, f"{LIST}?{query}&per_page=3") == whole


@pytest.mark.parametrize("visibility", ["all", "private", "public"])
def test_user_list_with_drafts_pages_by_cursor(
    client: FlaskClient,
    auth_headers: dict[str, str],
    tied_recipes: list[dict[str, Any]],
    visibility: str,
) -> None:
    url = f"/api/v1/users/alice/recipes?visibility={visibility}&sort=cook_time"
    whole = ids(client.get(f"{url}&per_page=100", headers=auth_headers))
    assert len(whole) == {"all": 36, "private": 3, "public": 33}[visibility]
    assert walk(client, f"{url}&per_page=2", headers=auth_headers) == whole


def test_csv_pages_by_cursor(client: FlaskClient, tied_recipes: list[dict[str, Any]]) -> None:
    expected = sorted_like_the_api(tied_recipes, "name", "asc")
    as_csv = {"Accept": "text/csv"}
    first = client.get(f"{LIST}?sort=name&per_page=20", headers=as_csv)
    assert first.content_type.startswith("text/csv")
    cursor = parse_qs(urlsplit(links_of(first)["next"]).query)["page"]
    assert cursor == ["2"]
    json_first = client.get(f"{LIST}?sort=name&per_page=20")
    second = client.get(
        f"{LIST}?sort=name&per_page=20&cursor={json_first.json['next_cursor']}", headers=as_csv
    )
    assert second.status_code == 200
    assert second.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(second.get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == expected[20:]
    assert "next" not in links_of(second)


# Refused cursors


def assert_cursor_refused(response: TestResponse) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == 400
    assert list(body["errors"]) == ["cursor"]
    assert all(isinstance(m, str) and m for m in body["errors"]["cursor"])
    return " ".join([body["detail"], *body["errors"]["cursor"]])


@pytest.fixture
def a_cursor(client: FlaskClient, tied_recipes: list[dict[str, Any]]) -> str:
    cursor: str = client.get(f"{LIST}?sort=name&tag=soup&per_page=5").json["next_cursor"]
    return cursor


def _tampered(cursor: str) -> list[str]:
    payload, signature = cursor.rsplit(".", 1)
    flipped = "A" if signature[0] != "A" else "B"
    return [
        f"{payload}.{flipped}{signature[1:]}",
        f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}",
        payload,
        cursor + "x",
        cursor[1:],
    ]


@pytest.mark.parametrize("which", range(5))
def test_a_tampered_cursor_is_400(client: FlaskClient, a_cursor: str, which: int) -> None:
    message = assert_cursor_refused(
        client.get(f"{LIST}?sort=name&tag=soup&cursor={_tampered(a_cursor)[which]}")
    )
    assert "first page" in message


@pytest.mark.parametrize(
    "cursor", ["x", "abc.def", "....", "e30", "W10.abc", "%00", "null", "[]", "0" * 4001, ""]
)
def test_a_malformed_cursor_is_400(client: FlaskClient, cursor: str) -> None:
    assert_cursor_refused(client.get(f"{LIST}?cursor={cursor}"))


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("sort=cook_time&tag=soup", "sort"),
        ("sort=name&order=desc&tag=soup", "order"),
        ("sort=name&tag=soup&tag=quick", "filters"),
        ("sort=name", "filters"),
        ("sort=name&tag=soup&q=dal", "filters"),
        ("sort=name&tag=soup&max_cook_time=30", "filters"),
        ("sort=name&tag=soup&author=alice", "filters"),
    ],
)
def test_a_cursor_of_another_list_is_400(
    client: FlaskClient, a_cursor: str, query: str, named: str
) -> None:
    message = assert_cursor_refused(client.get(f"{LIST}?{query}&cursor={a_cursor}"))
    assert named in message
    assert "first page" in message
    # The same filters in another spelling are the same list.
    assert client.get(f"{LIST}?sort=name&order=asc&tag=SOUP&cursor={a_cursor}").status_code == 200


def test_a_cursor_of_another_users_list_is_400(
    client: FlaskClient, auth_headers: dict[str, str], a_cursor: str
) -> None:
    user_list = "/api/v1/users/alice/recipes?sort=name&tag=soup"
    assert_cursor_refused(client.get(f"{user_list}&cursor={a_cursor}"))
    own = client.get(f"{user_list}&per_page=5").json["next_cursor"]
    assert client.get(f"{user_list}&cursor={own}").status_code == 200
    drafts_too = f"{user_list}&visibility=all&cursor={own}"
    assert_cursor_refused(client.get(drafts_too, headers=auth_headers))
    assert_cursor_refused(client.get(f"{LIST}?sort=name&tag=soup&cursor={own}"))


@pytest.mark.parametrize("page", ["1", "2", "0"])
def test_page_and_cursor_together_is_400(client: FlaskClient, a_cursor: str, page: str) -> None:
    response = client.get(f"{LIST}?sort=name&tag=soup&page={page}&cursor={a_cursor}")
    assert response.status_code == 400
    assert "cursor" in response.json["errors"]
    assert "page" in " ".join(response.json["errors"]["cursor"])


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cursor=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1),
    )
)
def test_any_cursor_string_is_answered_without_a_server_error(
    client: FlaskClient, cursor: str
) -> None:
    response = client.get(LIST, query_string={"cursor": cursor, "sort": "name"})
    assert_cursor_refused(response)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_OFFSETS = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
_KEYS = st.one_of(
    _JSON,
    st.datetimes(timezones=st.builds(timezone, _OFFSETS)).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.integers(-5, 1500),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),  # a cursor is UTF-8 text
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sort=st.sampled_from([*SORTS, "relevance"]),
    payload=st.one_of(_JSON, st.lists(_JSON, min_size=6, max_size=6)),
    key=_KEYS,
    recipe_id=st.one_of(st.integers(), _JSON),
)
def test_any_signed_payload_is_answered_without_a_server_error(
    client: FlaskClient, sort: str, payload: Any, key: Any, recipe_id: Any
) -> None:
    """Even a cursor signed with the server's key (an old format, say) reaches the database
    only once checked: 200 or 400, never a 500."""
    sign = URLSafeSerializer(TEST_SECRET, salt=CURSOR_SALT).dumps
    fingerprint = list_fingerprint({"q": "dal"}, {})
    well_formed = [1, sort, DEFAULT_ORDER[sort], fingerprint, key, recipe_id]
    for cursor in (sign(payload), sign(well_formed)):
        response = client.get(LIST, query_string={"q": "dal", "sort": sort, "cursor": cursor})
        assert response.status_code in (200, 400), response.get_data(as_text=True)
        if response.status_code == 400:
            assert list(response.json["errors"]) == ["cursor"]


@pytest.mark.parametrize(
    ("rank", "status"), [(3.4028235677973366e38, 400), (-1e39, 400), (0.25, 200)]
)
def test_a_signed_relevance_beyond_a_real_is_400(
    client: FlaskClient, rank: float, status: int
) -> None:
    # Found by hypothesis: PostgreSQL cannot cast it to the REAL that ranks are.
    sign = URLSafeSerializer(TEST_SECRET, salt=CURSOR_SALT).dumps
    fingerprint = list_fingerprint({"q": "dal"}, {})
    cursor = sign([1, "relevance", "desc", fingerprint, rank, 1])
    response = client.get(LIST, query_string={"q": "dal", "sort": "relevance", "cursor": cursor})
    assert response.status_code == status, response.get_data(as_text=True)


# The cost of a deep page


def test_a_deep_cursor_page_sends_the_queries_of_the_first(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    count_queries: Callable[[], Any],
) -> None:
    for n in range(30):
        make_recipe(auth_headers, name=f"Recipe {n}", cook_time=None if n % 4 else 20)
    url = f"{LIST}?sort=cook_time&order=desc&per_page=3"
    # Every recipe's document serialized once, as a busy site keeps them (shared by all lists).
    assert len(ids(client.get(f"{LIST}?per_page=100"))) == 30
    cursor = None
    for _ in range(8):  # to the ninth page
        cursor = client.get(url if cursor is None else f"{url}&cursor={cursor}").json["next_cursor"]
    # Another list (not replayed), its count already kept, as the deep page's is.
    client.get(f"{url}&tag=soup&page=2")
    with count_queries() as first:
        assert client.get(f"{url}&tag=soup").status_code == 200
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with count_queries() as deep:
            response = client.get(f"{url}&cursor={cursor}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(ids(response)) == 3
    assert len(deep) == len(first)
    # The deep page seeks past the cursor's row, rather than counting rows off from the start
    # (SQLite's dialect always writes OFFSET: there it must be 0).
    page_query, parameters = next((sql, p) for sql, p in sent if "LIMIT" in sql)
    assert re.search(r"\(coalesce\(recipes\.cook_time, 0\), recipes\.id\) <", page_query)
    if "OFFSET" in page_query:
        assert page_query.rstrip().endswith("OFFSET ?")
        assert parameters[-1] == 0


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(
    ("url", "sort", "index"),
    [
        (LIST, "created_at", "created"),
        (LIST, "updated_at", "updated"),
        (LIST, "name", "name"),
        (LIST, "num_of_servings", "servings"),
        (LIST, "cook_time", "cook_time_"),
        ("/api/v1/users/alice/recipes", "created_at", "author_created"),
    ],
)
def test_an_index_serves_each_cursor_page(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    url: str,
    sort: str,
    order: str,
    index: str,
) -> None:
    for n in range(3):
        make_recipe(auth_headers, name=f"R{n}", cook_time=None if n else 5)
    listing = f"{url}?sort={sort}&order={order}&per_page=1"
    cursor = client.get(listing).json["next_cursor"]
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert client.get(f"{listing}&cursor={cursor}").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        page_query, parameters = next((sql, p) for sql, p in sent if "LIMIT" in sql)
        plan = query_plan(page_query, parameters)
    if url == LIST:
        assert re.search(rf"ix_recipes_public_{index}\w* \(is_publish=\? AND \S+[<>]", plan) or (
            "Index Cond: ((is_publish = true) AND" in plan and f"ix_recipes_public_{index}" in plan
        ), plan
    else:
        # Without statistics either index of an author's list may win; both keep the order.
        assert "ix_recipes_author_created" in plan or "ix_recipes_public_created" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan
