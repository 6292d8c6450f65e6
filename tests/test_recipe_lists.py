"""Recipe lists: the page envelope and Link header, visibility of drafts, filters, text search,
sorting (checked against a brute-force oracle), parameter validation and query counts."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import PROBLEM, sorted_like_the_api
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from potluck.domain.database import db
from potluck.services.search import recipe_list

LIST = "/api/v1/recipes"
SORTS = ("created_at", "updated_at", "name", "cook_time", "num_of_servings")
MakeRecipe = Callable[..., dict[str, Any]]
# What full-text engines, LIKE and SQL treat specially (q takes them literally), and a real word.
SEARCH_OPERATORS = [
    *("&", "|", "!", ":*", "<->", "(", ")", "'", '"', "%", "_", "\\", "*", "-", "^", "~"),
    *("+", "@@", "::", ";", "--", "/*", "OR", "AND", "NOT", "NEAR", "tomato"),
]
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')


def links_of(response: TestResponse) -> dict[str, str]:
    """The RFC 8288 Link header as {rel: url}."""
    header = response.headers.get("Link", "")
    found = {rel: url for url, rel in _LINK.findall(header)}
    assert len(found) == header.count("rel="), header
    return found


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def ids(response: TestResponse) -> list[int]:
    assert response.status_code == 200, response.json
    return [recipe["id"] for recipe in response.json["data"]]


def assert_invalid(response: TestResponse, parameter: str) -> list[str]:
    """A 400 problem whose errors name `parameter` (or one value of it, `tag.0`); its messages."""
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    body: dict[str, Any] = response.json
    assert body["status"] == 400
    assert body["title"]
    assert body["detail"]
    named = [key for key in body["errors"] if key.split(".")[0] == parameter]
    assert named, body
    messages = [message for key in named for message in body["errors"][key]]
    assert messages
    assert all(isinstance(message, str) for message in messages)
    return messages


# The page envelope and the Link header


def test_default_page_size_envelope_and_links(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    created = [make_recipe(auth_headers, name=f"Recipe {n:02}")["id"] for n in range(45)]
    newest_first = created[::-1]

    first = client.get(LIST)
    assert first.status_code == 200
    assert first.content_type == "application/json"
    body = first.json
    assert set(body) == {"data", "page", "per_page", "pages", "total", "next_cursor", "links"}
    assert isinstance(body["next_cursor"], str)  # keyset paging can start from any page
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 20, 3, 45)
    assert ids(first) == newest_first[:20]
    assert set(body["data"][0]) >= {"id", "name", "author", "tags", "created_at", "is_publish"}
    assert body["data"][0]["author"]["username"] == "alice"
    links = body["links"]
    assert set(links) == {"first", "last", "prev", "next"}
    assert links["prev"] is None
    assert query_of(links["first"]) == {"page": ["1"]}
    assert query_of(links["last"]) == {"page": ["3"]}
    assert query_of(links["next"]) == {"page": ["2"]}
    assert all(urlsplit(url).path == LIST for url in links.values() if url)
    assert links_of(first) == {rel: url for rel, url in links.items() if url}

    middle = client.get(f"{LIST}?page=2")
    assert ids(middle) == newest_first[20:40]
    assert set(links_of(middle)) == {"first", "last", "prev", "next"}
    assert query_of(links_of(middle)["prev"]) == {"page": ["1"]}
    assert query_of(links_of(middle)["next"]) == {"page": ["3"]}
    assert links_of(middle) == middle.json["links"]

    last = client.get(f"{LIST}?page=3")
    assert ids(last) == newest_first[40:]
    assert last.json["links"]["next"] is None
    assert set(links_of(last)) == {"first", "last", "prev"}
    assert query_of(links_of(last)["prev"]) == {"page": ["2"]}

    # Following `next` from the first page walks every recipe exactly once.
    seen: list[int] = []
    url: str | None = links["first"]
    while url:
        page = client.get(url)
        seen += ids(page)
        url = page.json["links"]["next"]
    assert seen == newest_first


def test_links_keep_the_other_query_parameters(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    for n in range(5):
        make_recipe(auth_headers, name=f"Soup {n}", tags=["soup", "Quick"], cook_time=10 + n)
    make_recipe(auth_headers, name="Soup without the quick tag", tags=["soup"])
    query = "q=soup&tag=soup&tag=quick&max_cook_time=60&sort=cook_time&order=desc&per_page=2"
    response = client.get(f"{LIST}?{query}&page=2")
    assert response.status_code == 200
    assert (response.json["total"], response.json["pages"], response.json["page"]) == (5, 3, 2)
    links = links_of(response)
    assert set(links) == {"first", "last", "prev", "next"}
    expected = parse_qs(query)
    for rel, page in {"first": 1, "last": 3, "prev": 1, "next": 3}.items():
        assert urlsplit(links[rel]).path == LIST
        assert query_of(links[rel]) == {**expected, "page": [str(page)]}
        assert response.json["links"][rel] == links[rel]
    # The links work: the next page holds the last recipe (the shortest cook time).
    assert [r["cook_time"] for r in client.get(links["next"]).json["data"]] == [10]


def test_empty_list(client: FlaskClient) -> None:
    response = client.get(LIST)
    assert response.status_code == 200
    body = response.json
    assert body["data"] == []
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 20, 1, 0)
    assert body["links"]["prev"] is None
    assert body["links"]["next"] is None
    assert set(links_of(response)) == {"first", "last"}


def test_page_past_the_end_is_empty_not_an_error(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    for _ in range(3):
        make_recipe(auth_headers)
    response = client.get(f"{LIST}?per_page=2&page=9")
    assert response.status_code == 200
    body = response.json
    assert body["data"] == []
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (9, 2, 2, 3)
    links = links_of(response)
    assert set(links) == {"first", "last", "prev"}  # nothing comes next
    assert query_of(links["prev"]) == {"per_page": ["2"], "page": ["2"]}  # back to the last page
    assert query_of(links["last"]) == {"per_page": ["2"], "page": ["2"]}


def test_per_page_is_capped_at_100(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    for _ in range(3):
        make_recipe(auth_headers)
    largest = client.get(f"{LIST}?per_page=100")
    assert largest.status_code == 200
    assert (largest.json["per_page"], largest.json["total"], len(largest.json["data"])) == (
        100,
        3,
        3,
    )
    messages = assert_invalid(client.get(f"{LIST}?per_page=101"), "per_page")
    assert "100" in " ".join(messages)
    one = client.get(f"{LIST}?per_page=1")
    assert (len(one.json["data"]), one.json["pages"]) == (1, 3)


# Drafts and the visibility parameter


def test_drafts_never_appear_in_the_public_list(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    public = make_recipe(auth_headers, name="Public Pie", tags=["pie"])
    draft = make_recipe(auth_headers, publish=False, name="Secret Pie", tags=["pie"])
    for headers in ({}, auth_headers, other_headers):
        for query in ("", "?q=pie", "?q=secret", "?tag=pie", "?author=alice", "?sort=name"):
            response = client.get(f"{LIST}{query}", headers=headers)
            assert draft["id"] not in ids(response), (headers, query)
            assert response.json["total"] == (0 if query == "?q=secret" else 1)
    assert ids(client.get(LIST)) == [public["id"]]


def test_another_users_list_shows_only_published_recipes(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    public = make_recipe(auth_headers, name="Public")
    make_recipe(auth_headers, publish=False, name="Draft")
    make_recipe(other_headers, name="Bob's")
    url = "/api/v1/users/alice/recipes"
    for headers in ({}, other_headers, auth_headers):
        response = client.get(url, headers=headers)
        assert ids(response) == [public["id"]]
        assert response.json["total"] == 1
        explicit = client.get(f"{url}?visibility=public", headers=headers)
        assert explicit.json["data"] == response.json["data"]
    assert urlsplit(links_of(client.get(url))["first"]).path == url


def test_the_author_lists_drafts_with_visibility(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    public = make_recipe(auth_headers, name="Public")
    draft = make_recipe(auth_headers, publish=False, name="Draft")
    url = "/api/v1/users/alice/recipes"
    everything = client.get(f"{url}?visibility=all&sort=name", headers=auth_headers)
    assert ids(everything) == [draft["id"], public["id"]]
    assert [r["is_publish"] for r in everything.json["data"]] == [False, True]
    assert query_of(links_of(everything)["first"])["visibility"] == ["all"]
    drafts = client.get(f"{url}?visibility=private", headers=auth_headers)
    assert ids(drafts) == [draft["id"]]
    assert drafts.json["total"] == 1
    # The username is matched case-insensitively, like everywhere else.
    shouted = client.get("/api/v1/users/ALICE/recipes?visibility=all", headers=auth_headers)
    assert ids(shouted) == [draft["id"], public["id"]]


@pytest.mark.parametrize("visibility", ["all", "private"])
@pytest.mark.parametrize("who", ["anonymous", "someone else"])
def test_only_the_author_may_list_drafts(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
    visibility: str,
    who: str,
) -> None:
    make_recipe(auth_headers, publish=False, name="Secret Draft Name")
    headers = other_headers if who == "someone else" else {}
    response = client.get(f"/api/v1/users/alice/recipes?visibility={visibility}", headers=headers)
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    assert response.json["status"] == 403
    assert "Secret" not in response.get_data(as_text=True)
    assert "visibility=public" in response.json["detail"]


@pytest.mark.parametrize("query", ["", "?visibility=all", "?visibility=private"])
def test_unknown_user_is_404(client: FlaskClient, auth_headers: dict[str, str], query: str) -> None:
    response = client.get(f"/api/v1/users/nobody/recipes{query}", headers=auth_headers)
    assert response.status_code == 404
    assert response.content_type == PROBLEM
    assert response.json["status"] == 404
    assert "nobody" in response.json["detail"]


def test_invalid_visibility_is_400(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    message = " ".join(
        assert_invalid(
            client.get("/api/v1/users/alice/recipes?visibility=drafts", headers=auth_headers),
            "visibility",
        )
    )
    assert all(value in message for value in ("public", "all", "private"))
    # The public list has no visibility at all: asking for drafts there is refused, not ignored.
    assert_invalid(client.get(f"{LIST}?visibility=all", headers=auth_headers), "visibility")


# Filters


def test_tag_filter_is_repeatable_and_case_insensitive(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    both = make_recipe(auth_headers, name="Both", tags=["soup", "vegan"])
    soup = make_recipe(auth_headers, name="Soup", tags=["soup"])
    vegan = make_recipe(auth_headers, name="Vegan", tags=["Vegan", "quick"])
    make_recipe(auth_headers, name="Neither", tags=["cake"])
    make_recipe(auth_headers, name="Souper", tags=["souper"])  # a tag is not a prefix match
    by_name = "&sort=name&order=asc"
    assert ids(client.get(f"{LIST}?tag=soup{by_name}")) == [both["id"], soup["id"]]
    assert ids(client.get(f"{LIST}?tag=SOUP{by_name}")) == [both["id"], soup["id"]]
    assert ids(client.get(f"{LIST}?tag=Vegan{by_name}")) == [both["id"], vegan["id"]]
    assert ids(client.get(f"{LIST}?tag=soup&tag=VEGAN")) == [both["id"]]
    assert ids(client.get(f"{LIST}?tag=soup&tag=vegan&tag=quick")) == []
    assert ids(client.get(f"{LIST}?tag=nothing")) == []


def test_author_filter(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    alices = [make_recipe(auth_headers, name=f"Alice {n}")["id"] for n in range(2)]
    bobs = make_recipe(other_headers, name="Bob")["id"]
    make_recipe(other_headers, publish=False, name="Bob's draft")
    assert ids(client.get(f"{LIST}?author=alice")) == alices[::-1]
    assert ids(client.get(f"{LIST}?author=Alice")) == alices[::-1]
    assert ids(client.get(f"{LIST}?author=bob", headers=other_headers)) == [bobs]
    assert ids(client.get(f"{LIST}?author=carol")) == []
    assert ids(client.get(f"{LIST}?author=ali")) == []  # the whole name, not a prefix


def test_max_cook_time_filter(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    quick = make_recipe(auth_headers, name="Quick", cook_time=15)
    exact = make_recipe(auth_headers, name="Exact", cook_time=30)
    make_recipe(auth_headers, name="Slow", cook_time=31)
    make_recipe(auth_headers, name="Unknown", cook_time=None)
    by_name = "&sort=name&order=asc"
    assert ids(client.get(f"{LIST}?max_cook_time=30{by_name}")) == [exact["id"], quick["id"]]
    assert ids(client.get(f"{LIST}?max_cook_time=15")) == [quick["id"]]
    assert ids(client.get(f"{LIST}?max_cook_time=14")) == []
    assert client.get(f"{LIST}?max_cook_time=1440").json["total"] == 3


# Text search


@pytest.fixture
def menu(auth_headers: dict[str, str], make_recipe: MakeRecipe) -> dict[str, int]:
    """Recipes whose words live in different fields, by a short name."""
    recipes = {
        "soup": make_recipe(
            auth_headers,
            name="Tomato Soup",
            description="Warming.",
            ingredients=["1 kg tomatoes", "1 onion"],
            tags=["winter"],
        ),
        "salad": make_recipe(
            auth_headers,
            name="Green Salad",
            description="Crisp and fresh with TOMATO wedges.",
            ingredients=["1 lettuce"],
            tags=["summer"],
        ),
        "bread": make_recipe(
            auth_headers,
            name="Flatbread",
            description="Fast.",
            ingredients=["500 g flour", "300 ml water", "1 tsp SALT"],
            tags=["baking"],
        ),
        "stew": make_recipe(
            auth_headers,
            name="Bean Stew",
            description="Slow.",
            ingredients=["400 g beans"],
            tags=["Comfort Food", "winter"],
        ),
    }
    return {short: recipe["id"] for short, recipe in recipes.items()}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("tomato", {"soup", "salad"}),  # name, description
        ("TOMATO", {"soup", "salad"}),
        ("Tomatoes", {"soup"}),  # an ingredient
        ("salt", {"bread"}),  # an ingredient, in another case
        ("comfort", {"stew"}),  # a tag
        ("COMFORT FOOD", {"stew"}),
        ("winter", {"soup", "stew"}),
        ("tomato winter", {"soup"}),  # every word must match, each in any field
        ("flour water", {"bread"}),
        ("  flour   water  ", {"bread"}),
        ("tomato baking", set()),
        ("nothing-like-this", set()),
    ],
)
def test_search_words_in_every_field(
    client: FlaskClient, menu: dict[str, int], q: str, expected: set[str]
) -> None:
    response = client.get(LIST, query_string={"q": q})
    assert set(ids(response)) == {menu[short] for short in expected}
    assert response.json["total"] == len(expected)
    assert query_of(response.json["links"]["first"])["q"] == [q]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Words are letters and digits, matched as prefixes; symbols and operators are inert.
        ("100%", {"percent"}),
        ("Grandma's", {"apostrophe"}),
        ('"famous"', {"double quote"}),
        ('"famous chili"', {"double quote"}),  # a phrase, in order
        ('"chili famous"', set()),
        ("chili*", {"double quote"}),
        ("^chili", {"double quote"}),
        ("C:\\tmp", {"backslash"}),
        ("a_b", {"underscore", "plain"}),  # the words "a" and "b"
        ("rye -flour", {"percent"}),
        ("rye OR beef", set()),  # OR is a word to find, not an operator
        ("NEAR(rye flour)", set()),
        ("' OR 1=1 --", set()),
        ('") OR ("1"="1', set()),
        # Nothing to search for at all is a 400 that says so.
        ("%", 400),
        ("_", 400),
        ("'", 400),
        ('"', 400),
        ("\\", 400),
        ("%%", 400),
        ("__", 400),
        ("&|!()", 400),
    ],
)
def test_search_symbols_and_operators_are_safe(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    q: str,
    expected: set[str] | int,
) -> None:
    plain = {"description": "Nothing special.", "tags": ["plain"]}
    recipes = {
        "percent": make_recipe(auth_headers, name="100% Rye", **plain, ingredients=["rye flour"]),
        "underscore": make_recipe(auth_headers, name="Stew a_b", **plain, ingredients=["beef"]),
        "apostrophe": make_recipe(
            auth_headers, name="Grandma's Pie", **plain, ingredients=["apples"]
        ),
        "double quote": make_recipe(
            auth_headers, name='The "famous" chili', **plain, ingredients=["beans"]
        ),
        "backslash": make_recipe(
            auth_headers, name="Path Cake", **plain, ingredients=["C:\\tmp sugar"]
        ),
        "plain": make_recipe(auth_headers, name="Apb Bread", **plain, ingredients=["ab", "water"]),
    }
    response = client.get(LIST, query_string={"q": q})
    if expected == 400:
        assert assert_invalid(response, "q") == ["Needs at least one letter or digit."]
        return
    assert response.status_code == 200
    assert isinstance(expected, set)
    assert set(ids(response)) == {recipes[short]["id"] for short in expected}


def test_search_is_case_insensitive_beyond_ascii(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    eclair = make_recipe(
        auth_headers, name="ÉCLAIR AU CHOCOLAT", ingredients=["200 g CRÈME fraîche"], tags=["été"]
    )
    make_recipe(auth_headers, name="Plain Bread")
    for q in (
        "éclair",
        "Éclair",
        "ÉCLAIR",
        "eclair",
        "crème",
        "CRÈME",
        "creme",
        "FRAÎCHE",
        "ÉTÉ",
        "choc",
    ):
        assert ids(client.get(LIST, query_string={"q": q})) == [eclair["id"]], q


def test_search_relevance_needs_q_and_ranks_names_first(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    in_name = make_recipe(auth_headers, name="Lemon Tart", description="Sweet.")
    make_recipe(auth_headers, name="Fish", description="With a squeeze of lemon.")
    make_recipe(auth_headers, name="Salad", ingredients=["1 lemon"])
    ranked = client.get(f"{LIST}?q=lemon&sort=relevance")
    assert ranked.status_code == 200
    assert ranked.json["total"] == 3
    assert ids(ranked)[0] == in_name["id"]
    messages = assert_invalid(client.get(f"{LIST}?sort=relevance"), "sort")
    assert "q" in " ".join(messages)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    q=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60),
        st.lists(
            st.sampled_from(SEARCH_OPERATORS),
            min_size=1,
            max_size=8,
        ).map(" ".join),
        st.lists(
            st.sampled_from(SEARCH_OPERATORS),
            min_size=1,
            max_size=8,
        ).map("".join),
    ),
    sort=st.sampled_from([None, "relevance", "name"]),
)
def test_any_search_text_is_answered_without_a_server_error(
    client: FlaskClient, menu: dict[str, int], q: str, sort: str | None
) -> None:
    query = {"q": q, **({"sort": sort} if sort else {})}
    response = client.get(LIST, query_string=query)
    assert response.status_code in (200, 400), (response.status_code, response.json)
    if response.status_code == 200:
        assert response.content_type == "application/json"
        assert set(ids(response)) <= set(menu.values())
        assert response.json["total"] == len(response.json["data"])
    else:
        assert response.content_type == PROBLEM
        assert set(response.json["errors"]) <= {"q", "sort"}


# Sorting, against an oracle


@pytest.fixture
def sixty_recipes(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> list[dict[str, Any]]:
    """About sixty recipes with ties, missing cook times, edits out of creation order and a few
    drafts; returns the published ones as the API shows them."""
    rng = random.Random(8288)
    names = [
        "Apple Pie",
        "Apple Pie",
        "Banana Bread",
        "Beef Stew",
        "Carrot Cake",
        "Carrot Cake Deluxe",
        "Dal",
        "Egg Fried Rice",
        "Fish Tacos",
        "Gazpacho",
        "Zucchini Fritters",
        "Pad Thai",
    ]
    created = []
    for n in range(64):
        headers = auth_headers if n % 3 else other_headers
        recipe = make_recipe(
            headers,
            publish=n % 16 != 5,
            name=rng.choice(names),
            cook_time=rng.choice([None, None, 5, 10, 30, 30, 45, 60, 90, 1440]),
            num_of_servings=rng.choice([1, 2, 2, 4, 4, 4, 6, 8, 12, 50]),
        )
        created.append((recipe, headers))
    for recipe, headers in rng.sample(created, 25):  # updated_at in another order than created_at
        patched = client.patch(
            f"/api/v1/recipes/{recipe['id']}", json={"description": "Edited."}, headers=headers
        )
        assert patched.status_code == 200
    published = []
    for recipe, _ in created:
        if recipe["is_publish"]:
            response = client.get(f"/api/v1/recipes/{recipe['id']}")
            assert response.status_code == 200
            published.append(response.json)
    assert len(published) == 60
    assert any(r["cook_time"] is None for r in published)
    return published


def test_sort_and_order_match_the_oracle(
    client: FlaskClient, sixty_recipes: list[dict[str, Any]]
) -> None:
    mismatches = {}
    for sort in SORTS:
        for order in ("asc", "desc"):
            response = client.get(f"{LIST}?sort={sort}&order={order}&per_page=100")
            assert response.json["total"] == 60
            expected = sorted_like_the_api(sixty_recipes, sort, order)
            if ids(response) != expected:
                mismatches[f"{sort} {order}"] = (ids(response), expected)
    assert mismatches == {}


def test_default_order_is_newest_first(
    client: FlaskClient, sixty_recipes: list[dict[str, Any]]
) -> None:
    newest_first = sorted_like_the_api(sixty_recipes, "created_at", "desc")
    assert ids(client.get(f"{LIST}?per_page=100")) == newest_first
    assert ids(client.get(f"{LIST}?sort=created_at&per_page=100")) == newest_first
    assert ids(client.get(f"{LIST}?sort=name&per_page=100")) == sorted_like_the_api(
        sixty_recipes, "name", "asc"
    )


@pytest.mark.parametrize(("sort", "order"), [("cook_time", "desc"), ("name", "asc")])
def test_pages_of_a_sorted_list_add_up_to_the_whole(
    client: FlaskClient, sixty_recipes: list[dict[str, Any]], sort: str, order: str
) -> None:
    expected = sorted_like_the_api(sixty_recipes, sort, order)
    walked: list[int] = []
    for page in range(1, 10):
        response = client.get(f"{LIST}?sort={sort}&order={order}&per_page=7&page={page}")
        assert response.json["pages"] == 9
        walked += ids(response)
    assert walked == expected
    nulls = [r["id"] for r in sixty_recipes if r["cook_time"] is None]
    if sort == "cook_time":
        assert set(walked[-len(nulls) :]) == set(nulls)  # missing cook times last, even desc


def test_user_list_sorts_like_the_public_list(
    client: FlaskClient, sixty_recipes: list[dict[str, Any]], auth_headers: dict[str, str]
) -> None:
    alices = [r for r in sixty_recipes if r["author"]["username"] == "alice"]
    for sort, order in (("cook_time", "asc"), ("num_of_servings", "desc"), ("updated_at", "asc")):
        response = client.get(f"/api/v1/users/alice/recipes?sort={sort}&order={order}&per_page=100")
        assert ids(response) == sorted_like_the_api(alices, sort, order), (sort, order)
    filtered = client.get(
        f"{LIST}?author=alice&max_cook_time=60&sort=cook_time&order=asc&per_page=100"
    )
    short = [r for r in alices if r["cook_time"] is not None and r["cook_time"] <= 60]
    assert ids(filtered) == sorted_like_the_api(short, "cook_time", "asc")


# Invalid parameters


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=many", "per_page"),
        ("sort=bogus", "sort"),
        ("sort=NAME", "sort"),
        ("order=up", "order"),
        ("max_cook_time=-1", "max_cook_time"),
        ("max_cook_time=0", "max_cook_time"),
        ("max_cook_time=soon", "max_cook_time"),
        ("foo=1", "foo"),
        ("q=" + "x" * 201, "q"),
        ("q=%00", "q"),
        ("tag=", "tag"),
    ],
)
@pytest.mark.parametrize("url", [LIST, "/api/v1/users/alice/recipes"])
def test_invalid_parameters_are_400_naming_them(
    client: FlaskClient, user: dict[str, Any], url: str, query: str, parameter: str
) -> None:
    response = client.get(f"{url}?{query}")
    assert_invalid(response, parameter)
    assert response.headers["Cache-Control"] == "no-store"
    assert "data" not in response.json


@pytest.mark.parametrize(
    ("parameter", "allowed"),
    [
        ("sort", ("created_at", "updated_at", "name", "cook_time", "num_of_servings", "relevance")),
        ("order", ("asc", "desc")),
    ],
)
def test_invalid_choice_lists_the_allowed_values(
    client: FlaskClient, parameter: str, allowed: tuple[str, ...]
) -> None:
    message = " ".join(assert_invalid(client.get(f"{LIST}?{parameter}=bogus"), parameter))
    assert all(value in message for value in allowed), message


# Query counts


@pytest.mark.no_replay  # the replay would answer the second GET with no query at all
def test_listing_sends_the_same_queries_for_5_and_50_recipes(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
    count_queries: Callable[[], Any],
) -> None:
    def statements_for_a_listing(expected_total: int) -> list[str]:
        client.get(f"{LIST}?per_page=100")  # warm up connections and caches
        with count_queries() as statements:
            response = client.get(f"{LIST}?per_page=100")
        assert response.json["total"] == expected_total
        assert all(recipe["author"]["username"] for recipe in response.json["data"])
        assert all(len(recipe["tags"]) == 2 for recipe in response.json["data"])
        return list(statements)

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            headers = auth_headers if n % 2 else other_headers
            make_recipe(headers, name=f"Recipe {n}", tags=[f"tag{n}", "shared"])

    add(5, 0)
    few = statements_for_a_listing(5)
    add(45, 5)
    many = statements_for_a_listing(50)
    assert few  # the counter saw the listing
    assert len(many) == len(few), many


def listing_count(sql: str) -> bool:
    return "count(" in sql.lower() and "recipes.id" in sql


def test_every_page_and_order_of_a_search_shares_one_count(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    count_queries: Callable[[], Any],
) -> None:
    for n in range(5):
        make_recipe(auth_headers, name=f"Lemon Cake {n}", tags=["cake"])
    make_recipe(auth_headers, name="Onion Soup")
    assert client.get(f"{LIST}?q=lemon&per_page=2").json["total"] == 5
    for other in ("page=2", "page=3&sort=name", "sort=relevance&order=asc"):
        with count_queries() as statements:
            page = client.get(f"{LIST}?q=lemon&per_page=2&{other}")
        assert page.json["total"] == 5
        assert not [sql for sql in statements if listing_count(sql)], statements
    with count_queries() as statements:
        assert client.get(f"{LIST}?q=lemon&tag=cake&per_page=2").json["total"] == 5
    assert [sql for sql in statements if listing_count(sql)]  # other filters: counted
    make_recipe(auth_headers, name="Lemon Tart")  # a write: every count is counted again
    assert client.get(f"{LIST}?q=lemon&per_page=2&page=2").json["total"] == 6


def test_a_tag_filter_read_either_way_gives_the_same_list(
    app: Flask, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    """A tag filter is read from the tag's recipes first (few carry it, or deep pages) or
    checked on each row in the list's order (many carry it, early pages): the same rows."""
    rng = random.Random(7)
    for n in range(24):
        tags = rng.sample(["soup", "vegan", "quick", "cake"], rng.randint(0, 3))
        make_recipe(auth_headers, name=f"R{n}", tags=tags, cook_time=rng.choice([None, 10, 60]))
    make_recipe(auth_headers, publish=False, name="Draft", tags=["soup", "vegan"])
    with app.test_request_context():
        for tags in (["soup"], ["SOUP", "vegan"], ["cake"], ["none"]):
            for sort in SORTS:
                for extra in ({}, {"max_cook_time": 30}, {"author": "alice"}):
                    listing = recipe_list({"tag": tags, "sort": sort, **extra})
                    assert listing.tagged_first is not listing.statement
                    checked = [row[0].id for row in db.session.execute(listing.ordered())]
                    read_first = replace(listing, statement=listing.tagged_first)
                    assert [row[0].id for row in db.session.execute(read_first.ordered())] == (
                        checked
                    )
                    assert db.session.scalar(listing.counting) == len(checked)
        listing = recipe_list({"tag": ["soup"]})
        few_and_deep = listing.for_page(total=100, depth=2_000, highest_id=1_000_000)
        assert few_and_deep.statement is listing.tagged_first
        many_and_early = listing.for_page(total=500_000, depth=20, highest_id=1_000_000)
        assert many_and_early.statement is listing.statement
        untagged = recipe_list({"sort": "name"})
        assert untagged.tagged_first is untagged.statement
        searched = recipe_list({"tag": ["soup"], "q": "soup"})
        assert searched.tagged_first is searched.statement  # the text index decides there
