"""Full-text search: the index follows every write (database triggers), prefixes and accents
fold, and relevance ranks a name above a description."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import query_plan
from flask.testing import FlaskClient
from sqlalchemy import text

from potluck.services import fulltext
from potluck.services.keyset import recipe_page
from potluck.services.pagination import count_statement
from potluck.services.search import recipe_list
from potluck.services.seed import seed_database

LIST = "/api/v1/recipes"


def found(client: FlaskClient, q: str, **extra: str) -> list[int]:
    response = client.get(LIST, query_string={"q": q, **extra})
    assert response.status_code == 200, response.json
    return [recipe["id"] for recipe in response.json["data"]]


def test_the_index_follows_every_write(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: Callable[..., Any]
) -> None:
    recipe = make_recipe(
        auth_headers, name="Saffron Rice", tags=["persian"], ingredients=["1 pinch saffron"]
    )
    url = f"{LIST}/{recipe['id']}"
    assert found(client, "saffron") == [recipe["id"]]
    assert found(client, "persian") == [recipe["id"]]

    renamed = {"name": "Golden Rice", "tags": ["festive"], "ingredients": ["1 tsp turmeric"]}
    assert client.patch(url, json=renamed, headers=auth_headers).status_code == 200
    assert found(client, "golden festive turmeric") == [recipe["id"]]
    assert found(client, "saffron") == []
    assert found(client, "persian") == []

    assert client.delete(f"{url}/publish", headers=auth_headers).status_code == 204
    assert found(client, "golden") == []  # drafts are never found by others
    assert client.put(f"{url}/publish", headers=auth_headers).status_code == 204
    assert client.delete(url, headers=auth_headers).status_code == 204
    assert found(client, "golden") == []


def test_prefixes_accents_and_phrases(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: Callable[..., Any]
) -> None:
    brulee = make_recipe(auth_headers, name="Crème Brûlée", description="Vanilla custard.")
    mousse = make_recipe(auth_headers, name="Chocolate Mousse", description="Dark and light.")
    assert found(client, "creme brulee") == [brulee["id"]]
    assert found(client, "CRÈME") == [brulee["id"]]
    assert found(client, "choc") == [mousse["id"]]
    assert found(client, '"dark and light"') == [mousse["id"]]
    assert found(client, '"light and dark"') == []
    assert found(client, "vanil custa") == [brulee["id"]]


def test_relevance_ranks_the_name_first(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: Callable[..., Any]
) -> None:
    described = make_recipe(auth_headers, name="Herb Salad", description="Basil, basil, basil.")
    named = make_recipe(auth_headers, name="Basil Pesto", description="Green.")
    tagged = make_recipe(auth_headers, name="Tomato Toast", tags=["basil"])
    ranked = found(client, "basil", sort="relevance")
    assert ranked[0] == named["id"]
    assert set(ranked) == {described["id"], named["id"], tagged["id"]}
    # Relevance can be reversed like any sort.
    assert found(client, "basil", sort="relevance", order="asc")[-1] == named["id"]


def search_pages(params: dict[str, Any], per_page: int = 7) -> tuple[int, list[int]]:
    """The total and every id, page by page, of a search run in the app (no HTTP cache)."""
    first = recipe_page({**params, "page": 1, "per_page": per_page}, {})
    found_ids = [recipe.id for recipe in first.items]
    for number in range(2, (first.pages or 1) + 1):
        page = recipe_page({**params, "page": number, "per_page": per_page}, {})
        found_ids += [recipe.id for recipe in page.items]
    return first.total, found_ids


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["created_at", "updated_at", "name", "cook_time"])
def test_walking_the_list_in_order_finds_what_sorting_the_matches_finds(
    db: Any, monkeypatch: pytest.MonkeyPatch, sort: str, order: str
) -> None:
    # Many matches take the walk; here every match does, and must change nothing.
    seed_database(users=3, recipes=160)
    db.session.execute(text("UPDATE recipes SET is_publish = false WHERE id % 7 = 0"))
    db.session.commit()
    for q in ("chicken", "sal", "garlic rice", '"olive oil"'):
        params = {"q": q, "sort": sort, "order": order}
        sorted_matches = search_pages(params)
        monkeypatch.setattr(fulltext, "_WALK_IN_ORDER_FROM", 1)
        walked = search_pages(params)
        monkeypatch.undo()
        assert walked == sorted_matches, q
        assert sorted_matches[0] == len(sorted_matches[1]) > 0, q
        assert len(set(sorted_matches[1])) == sorted_matches[0], q


def test_a_search_of_published_recipes_is_counted_from_the_index_alone(db: Any) -> None:
    seed_database(users=3, recipes=120)
    db.session.execute(text("UPDATE recipes SET is_publish = false WHERE id % 5 = 0"))
    db.session.commit()
    on_sqlite = db.session.get_bind().dialect.name == "sqlite"
    for q in ("chicken", "sal", "garlic rice", '"olive oil"', "nothingmatchesthis"):
        listing = recipe_list({"q": q})
        # SQLite counts the index's matches less the drafts among them, visiting no recipe.
        assert (listing.counted_apart is not None) is on_sqlite, q
        row_by_row = db.session.scalar(count_statement(listing.tagged_first))
        assert db.session.scalar(listing.counting) == row_by_row, q
        if on_sqlite:
            # In one pass: FTS5 would run a MATCH correlated with each draft whole, per draft.
            compiled = listing.counting.compile(db.engine)
            values = tuple(compiled.params[name] for name in compiled.positiontup or ())
            assert "CORRELATED" not in query_plan(str(compiled), values), q
    # Narrowed searches, and lists that show drafts, count their rows.
    assert recipe_list({"q": "chicken", "tag": ["soup"]}).counted_apart is None
    assert recipe_list({"q": "chicken"}, include_drafts=True).counted_apart is None
