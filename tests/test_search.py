"""Full-text search: the index follows every write (database triggers), prefixes and accents
fold, and relevance ranks a name above a description."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

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
