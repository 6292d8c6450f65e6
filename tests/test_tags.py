"""The tag list: counts of published recipes kept by database triggers through every kind of
write (checked against a brute-force count), ordering, paging, the name prefix, validation,
CSV, and the server cache with its ETags."""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update
from test_recipe_lists import SEARCH_OPERATORS, assert_invalid, links_of, query_of

from potluck.domain.models import Recipe, Tag, User
from potluck.domain.recipes import tags_named
from potluck.services.seed import seed_database

TAGS = "/api/v1/tags"
MakeRecipe = Callable[..., dict[str, Any]]


def counts(client: FlaskClient, path: str = TAGS, **params: Any) -> dict[str, int]:
    """{name: recipes} of one page, in the order the API gives."""
    response = client.get(path, query_string={"per_page": 100, **params})
    assert response.status_code == 200, response.json
    return {tag["name"]: tag["recipes"] for tag in response.json["data"]}


def names(client: FlaskClient, **params: Any) -> list[str]:
    return list(counts(client, **params))


def brute_force(db: Any) -> dict[str, int]:
    """Published recipes per tag, counted in Python from the recipes themselves."""
    db.session.expire_all()
    recipes = db.session.scalars(select(Recipe)).all()
    counted = Counter(tag for recipe in recipes if recipe.is_publish for tag in recipe.tags)
    return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))


# Counts through every kind of write


def test_counts_published_recipes_by_count_then_name(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    make_recipe(auth_headers, tags=["soup", "quick"])
    make_recipe(auth_headers, tags=["soup", "vegan"])
    make_recipe(other_headers, tags=["Soup", "bread"])
    make_recipe(other_headers, publish=False, tags=["soup", "secret"])  # a draft

    response = client.get(TAGS)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "public, no-cache"
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Status"] == "Potluck; fwd=miss; stored"
    body = response.json
    assert set(body) == {"data", "page", "per_page", "pages", "total", "links"}
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 50, 1, 4)
    assert body["data"] == [
        {"name": "soup", "recipes": 3, "url": "/api/v1/recipes?tag=soup"},
        {"name": "bread", "recipes": 1, "url": "/api/v1/recipes?tag=bread"},
        {"name": "quick", "recipes": 1, "url": "/api/v1/recipes?tag=quick"},
        {"name": "vegan", "recipes": 1, "url": "/api/v1/recipes?tag=vegan"},
    ]
    # Each url lists exactly the recipes counted.
    for tag in body["data"]:
        listed = client.get(tag["url"])
        assert listed.status_code == 200
        assert listed.json["total"] == tag["recipes"]


def test_an_authors_own_drafts_do_not_count_for_them_either(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers, tags=["soup"])
    make_recipe(auth_headers, publish=False, tags=["soup", "secret"])
    signed_in = client.get(TAGS, headers=auth_headers)
    assert signed_in.status_code == 200
    assert signed_in.json["data"] == client.get(TAGS).json["data"]
    assert [(tag["name"], tag["recipes"]) for tag in signed_in.json["data"]] == [("soup", 1)]


def test_the_root_alias_answers_the_same(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers, tags=["soup"])
    response = client.get("/tags")
    assert response.status_code == 200
    assert response.json["data"] == [
        {"name": "soup", "recipes": 1, "url": "/api/v1/recipes?tag=soup"}
    ]
    assert links_of(response)["first"] == "/tags?page=1"


def test_counts_follow_each_write_of_a_recipe(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    make_recipe(other_headers, tags=["soup"])
    recipe = make_recipe(auth_headers, tags=["soup", "quick"])
    path = f"/api/v1/recipes/{recipe['id']}"
    assert counts(client) == {"soup": 2, "quick": 1}

    changed = client.patch(path, json={"tags": ["quick", "vegan"]}, headers=auth_headers)
    assert changed.status_code == 200
    assert counts(client) == {"quick": 1, "soup": 1, "vegan": 1}

    assert client.delete(f"{path}/publish", headers=auth_headers).status_code == 204
    assert counts(client) == {"soup": 1}
    # A draft's tags change without being counted.
    changed = client.patch(path, json={"tags": ["soup", "secret"]}, headers=auth_headers)
    assert changed.status_code == 200
    assert counts(client) == {"soup": 1}

    assert client.put(f"{path}/publish", headers=auth_headers).status_code == 204
    assert counts(client) == {"soup": 2, "secret": 1}
    replaced = client.put(path, json={"name": "Plain"}, headers=auth_headers)  # tags reset
    assert replaced.status_code == 200
    assert counts(client) == {"soup": 1}

    client.patch(path, json={"tags": ["soup"]}, headers=auth_headers)
    assert counts(client) == {"soup": 2}
    assert client.delete(path, headers=auth_headers).status_code == 204
    assert counts(client) == {"soup": 1}


def test_a_deleted_draft_changes_no_count(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers, tags=["soup"])
    draft = make_recipe(auth_headers, publish=False, tags=["soup"])
    assert client.delete(f"/api/v1/recipes/{draft['id']}", headers=auth_headers).status_code == 204
    assert counts(client) == {"soup": 1}


def test_deleting_an_author_cascades_to_the_counts(
    client: FlaskClient,
    db: Any,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    make_recipe(auth_headers, tags=["soup", "quick"])
    make_recipe(auth_headers, tags=["soup"])
    make_recipe(auth_headers, publish=False, tags=["soup"])
    make_recipe(other_headers, tags=["soup"])
    # No endpoint deletes accounts; an administrator's DELETE cascades in the database.
    db.session.execute(delete(User).where(User.username == "alice"))
    db.session.commit()
    assert counts(client) == {"soup": 1}
    assert brute_force(db) == {"soup": 1}


def test_core_writes_keep_the_counts_too(db: Any, user: dict[str, Any]) -> None:
    author_id = db.session.scalar(select(User.id))
    quick, soup = tags_named(["soup", "quick"])  # by name
    recipes = [Recipe(author_id=author_id, name=f"R{n}", is_publish=n % 2 == 0) for n in range(4)]
    for recipe in recipes:
        recipe.tag_objects = [soup, quick]
    db.session.add_all(recipes)
    db.session.commit()
    assert brute_force(db) == {"quick": 2, "soup": 2}

    def stored() -> dict[str, int]:
        rows = db.session.execute(select(Tag.name, Tag.recipe_count).where(Tag.recipe_count > 0))
        return dict(sorted(rows, key=lambda row: (-row[1], row[0])))

    assert stored() == {"quick": 2, "soup": 2}
    db.session.execute(update(Recipe).values(is_publish=True))
    assert stored() == {"quick": 4, "soup": 4}
    db.session.execute(delete(Recipe).where(Recipe.id == recipes[0].id))
    assert stored() == {"quick": 3, "soup": 3}
    db.session.execute(text("DELETE FROM recipe_tags WHERE tag_id = :id"), {"id": quick.id})
    assert stored() == {"soup": 3}
    db.session.execute(update(Recipe).values(is_publish=False))
    assert stored() == {}
    db.session.rollback()


def test_counts_equal_a_brute_force_count_after_random_writes(
    client: FlaskClient, db: Any, user: dict[str, Any]
) -> None:
    rng = random.Random(20261130)
    vocabulary = [f"tag {n}" for n in range(12)]
    tags = {tag.name: tag for tag in tags_named(vocabulary)}
    author_id = db.session.scalar(select(User.id))
    recipes = [
        Recipe(
            author_id=author_id,
            name=f"Recipe {n}",
            is_publish=rng.random() < 0.7,
            tag_objects=[tags[name] for name in rng.sample(vocabulary, rng.randrange(6))],
        )
        for n in range(300)
    ]
    db.session.add_all(recipes)
    db.session.commit()
    assert counts(client) == brute_force(db)

    for recipe in rng.sample(recipes, 120):
        action = rng.choice(("publish", "retag", "delete", "both"))
        if action in {"publish", "both"}:
            recipe.is_publish = not recipe.is_publish
        if action in {"retag", "both"}:
            recipe.tag_objects = [tags[name] for name in rng.sample(vocabulary, rng.randrange(6))]
        if action == "delete":
            db.session.delete(recipe)
    db.session.commit()
    expected = brute_force(db)
    assert expected
    assert counts(client) == expected


def test_bulk_seeding_leaves_the_counts_right(
    client: FlaskClient, db: Any, count_queries: Callable[..., Any]
) -> None:
    with count_queries() as statements:
        seed_database(users=3, recipes=300, random_seed=7)
    # One multi-row INSERT of links, so PostgreSQL's statement triggers run once, not per link.
    links = [sql for sql in statements if sql.startswith("INSERT INTO recipe_tags")]
    assert len(links) == 1
    assert links[0].count("), (") > 300
    seed_database(users=2, recipes=200, random_seed=8)  # again, onto existing tags
    expected = brute_force(db)
    assert sum(expected.values()) > 500
    listed: dict[str, int] = {}
    for page in (1, 2, 3):
        listed |= counts(client, page=page)
    assert listed == expected


def test_the_migration_counts_existing_recipes(db: Any, user: dict[str, Any]) -> None:
    author_id = db.session.scalar(select(User.id))
    quick, soup = tags_named(["soup", "quick"])  # by name
    db.session.add_all(
        [
            Recipe(author_id=author_id, name="A", is_publish=True, tag_objects=[soup, quick]),
            Recipe(author_id=author_id, name="B", is_publish=True, tag_objects=[soup]),
            Recipe(author_id=author_id, name="C", is_publish=False, tag_objects=[soup]),
        ]
    )
    db.session.commit()
    db.session.remove()
    downgrade(revision="0005_search")
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE recipes SET is_publish = NOT is_publish WHERE name = 'C'"))
    upgrade()
    assert brute_force(db) == {"soup": 3, "quick": 1}
    stored = db.session.execute(select(Tag.name, Tag.recipe_count).order_by(Tag.name))
    assert dict(stored.all()) == {"quick": 1, "soup": 3}


# Ordering, paging and the name prefix


@pytest.fixture
def five_tags(client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe) -> None:
    """apple 3, cherry 3, banana 2, date 1, elder 1."""
    make_recipe(auth_headers, tags=["cherry", "apple", "banana", "date"])
    make_recipe(auth_headers, tags=["cherry", "apple", "banana"])
    make_recipe(auth_headers, tags=["cherry", "apple", "elder"])


@pytest.mark.usefixtures("five_tags")
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["apple", "cherry", "banana", "date", "elder"]),
        ({"sort": "count"}, ["apple", "cherry", "banana", "date", "elder"]),
        ({"sort": "count", "order": "asc"}, ["date", "elder", "banana", "apple", "cherry"]),
        ({"sort": "name"}, ["apple", "banana", "cherry", "date", "elder"]),
        ({"sort": "name", "order": "desc"}, ["elder", "date", "cherry", "banana", "apple"]),
        ({"order": "desc"}, ["apple", "cherry", "banana", "date", "elder"]),
    ],
)
def test_sorting(client: FlaskClient, params: dict[str, str], expected: list[str]) -> None:
    assert names(client, **params) == expected


@pytest.mark.usefixtures("five_tags")
def test_pages_walk_the_whole_list_with_links(client: FlaskClient) -> None:
    first = client.get(TAGS, query_string={"per_page": 2, "sort": "name"})
    assert first.status_code == 200
    body = first.json
    assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 2, 3, 5)
    assert [tag["name"] for tag in body["data"]] == ["apple", "banana"]
    links = links_of(first)
    assert links == {key: url for key, url in body["links"].items() if url}
    assert set(links) == {"first", "last", "next"}
    assert query_of(links["next"]) == {"per_page": ["2"], "sort": ["name"], "page": ["2"]}

    walked, url = [], links["first"]
    while url:
        page = client.get(url)
        walked += [tag["name"] for tag in page.json["data"]]
        url = links_of(page).get("next")
    assert walked == ["apple", "banana", "cherry", "date", "elder"]

    last = client.get(TAGS, query_string={"per_page": 2, "page": 3})
    assert [tag["name"] for tag in last.json["data"]] == ["elder"]
    beyond = client.get(TAGS, query_string={"per_page": 2, "page": 9})
    assert beyond.status_code == 200
    assert beyond.json["data"] == []
    assert beyond.json["links"]["prev"].endswith("page=3")


def test_an_empty_list(client: FlaskClient) -> None:
    response = client.get(TAGS)
    assert response.status_code == 200
    assert response.json["data"] == []
    assert (response.json["total"], response.json["pages"]) == (0, 1)


@pytest.fixture
def odd_tags(client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe) -> None:
    make_recipe(
        auth_headers,
        tags=["a_b", "axb", "mom's", "crème brûlée", "crema", "50 off", "500 g", "soup"],
    )


@pytest.mark.usefixtures("odd_tags")
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("so", ["soup"]),
        ("SOUP", ["soup"]),
        ("a_", ["a_b"]),
        ("a", ["a_b", "axb"]),
        ("_", []),
        ("%", []),
        ("50%", []),
        ("50 o", ["50 off"]),
        ("50   OFF", ["50 off"]),
        ("5", ["50 off", "500 g"]),
        ("mom'", ["mom's"]),
        ("'", []),
        ('"', []),
        ("\\", []),
        ("/", []),
        ("a/", []),
        ("CRÈME", ["crème brûlée"]),
        ("cr", ["crema", "crème brûlée"]),
        ("crem", ["crema"]),
        ("cre\u0300me", ["crème brûlée"]),  # decomposed è, NFC-normalized
        ("🍲", []),
        ("'; DROP TABLE tags; --", []),
    ],
)
def test_q_is_a_literal_name_prefix(client: FlaskClient, q: str, expected: list[str]) -> None:
    assert names(client, q=q, sort="name") == expected


@pytest.mark.usefixtures("odd_tags")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    q=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40),
        st.lists(st.sampled_from([*SEARCH_OPERATORS, "a", "_", "/", "é"]), max_size=6).map("".join),
    )
)
def test_any_q_is_a_prefix_or_a_400_never_a_server_error(client: FlaskClient, q: str) -> None:
    response = client.get(TAGS, query_string={"q": q})
    assert response.status_code in (200, 400), (response.status_code, response.json)
    if response.status_code == 200:
        prefix = " ".join(unicodedata.normalize("NFC", q).lower().split())
        listed = [tag["name"] for tag in response.json["data"]]
        assert all(name.startswith(prefix) for name in listed), (prefix, listed)
    else:
        assert response.content_type == "application/problem+json"
        assert set(response.json["errors"]) == {"q"}


@pytest.mark.usefixtures("odd_tags")
def test_q_pages_count_only_matches(client: FlaskClient) -> None:
    response = client.get(TAGS, query_string={"q": "a", "per_page": 1})
    assert (response.json["total"], response.json["pages"]) == (2, 2)
    assert query_of(links_of(response)["next"])["q"] == ["a"]


# Invalid parameters


@pytest.mark.parametrize(
    ("query", "parameter", "named"),
    [
        ("sort=popularity", "sort", ["count", "name"]),
        ("order=up", "order", ["asc", "desc"]),
        ("page=0", "page", []),
        ("page=two", "page", []),
        ("per_page=0", "per_page", []),
        ("per_page=101", "per_page", ["100"]),
        ("q=", "q", []),
        (f"q={'x' * 31}", "q", ["30"]),
        ("q=a%00b", "q", []),
        ("tag=soup", "tag", []),
        ("sort=name&sort=count", "sort", []),
    ],
)
def test_invalid_parameters_are_400s_naming_them(
    client: FlaskClient, query: str, parameter: str, named: list[str]
) -> None:
    messages = assert_invalid(client.get(f"{TAGS}?{query}"), parameter)
    for value in named:
        assert any(value in message for message in messages), messages


def test_a_query_string_that_is_not_utf8_is_a_400(client: FlaskClient) -> None:
    response = client.get(f"{TAGS}?q=%ff")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


# CSV, conditional requests and the server cache


@pytest.mark.usefixtures("five_tags")
def test_csv(client: FlaskClient) -> None:
    response = client.get(TAGS, headers={"Accept": "text/csv"}, query_string={"per_page": 2})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "Accept" in response.vary
    assert links_of(response)["next"].endswith("page=2")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        ["name", "recipes", "url"],
        ["apple", "3", "/api/v1/recipes?tag=apple"],
        ["cherry", "3", "/api/v1/recipes?tag=cherry"],
    ]
    refused = client.get(TAGS, headers={"Accept": "application/xml"})
    assert refused.status_code == 406


@pytest.mark.usefixtures("five_tags")
def test_etag_304_and_cache_hits(client: FlaskClient) -> None:
    first = client.get(TAGS)
    etag = first.headers["ETag"]
    again = client.get(TAGS)
    assert again.headers["Cache-Status"].startswith("Potluck; hit")
    assert again.headers["ETag"] == etag
    for sent in (etag, f"W/{etag}", f'"other", {etag}'):
        fresh = client.get(TAGS, headers={"If-None-Match": sent})
        assert fresh.status_code == 304
        assert fresh.headers["ETag"] == etag
        assert fresh.get_data() == b""
    stale = client.get(TAGS, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    as_csv = client.get(TAGS, headers={"Accept": "text/csv"})
    assert as_csv.headers["ETag"] != etag  # each representation its own validator


def test_a_write_invalidates_the_cached_list(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    recipe = make_recipe(auth_headers, tags=["soup"])
    first = client.get(TAGS)
    assert client.get(TAGS).headers["Cache-Status"].startswith("Potluck; hit")
    assert client.delete(f"/api/v1/recipes/{recipe['id']}/publish", headers=auth_headers)
    after = client.get(TAGS, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["Cache-Status"] == "Potluck; fwd=miss; stored"
    assert after.json["data"] == []


@pytest.mark.usefixtures("five_tags")
def test_a_page_reads_the_kept_counts_not_the_links(
    client: FlaskClient, count_queries: Callable[..., Any]
) -> None:
    with count_queries() as statements:
        assert client.get(TAGS).status_code == 200
    assert len(statements) <= 3  # generation, total, page
    assert not [sql for sql in statements if "recipe_tags" in sql]
    with count_queries() as statements:
        assert client.get(TAGS).headers["Cache-Status"].startswith("Potluck; hit")
    assert len(statements) <= 1  # the generation at most (none when replayed)
