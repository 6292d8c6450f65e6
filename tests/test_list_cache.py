"""The server-side cache of public list pages: `Cache-Status` (RFC 9211), invalidation on
every write it depends on, across app instances, and never for private pages."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD, RECIPE
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from potluck.services import caching as caching_module
from potluck.services.caching import MemoryCache, OutageTolerantRedisCache, cache

# What is behind the replay of anonymous reads (test_hot_reads.py), so every GET reaches it.
pytestmark = pytest.mark.no_replay

LIST = "/api/v1/recipes"
USER_LIST = "/api/v1/users/alice/recipes"
MISS = "Potluck; fwd=miss; stored"
HIT = "Potluck; hit"
MakeRecipe = Callable[..., dict[str, Any]]


def names(response: TestResponse) -> list[str]:
    return [recipe["name"] for recipe in response.json["data"]]


def assert_miss_then_hit(client: FlaskClient, path: str = LIST) -> TestResponse:
    """The next GET builds the page afresh, and the one after is served from the cache."""
    miss = client.get(path)
    assert miss.status_code == 200
    assert miss.headers["Cache-Status"] == MISS
    hit = client.get(path)
    assert hit.status_code == 200
    assert hit.headers["Cache-Status"] == HIT
    assert hit.data == miss.data
    assert hit.headers["ETag"] == miss.headers["ETag"]
    assert hit.headers["Link"] == miss.headers["Link"]
    return miss


def test_first_get_is_a_miss_and_the_second_a_hit(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers)
    page = assert_miss_then_hit(client)
    assert names(page) == [RECIPE["name"]]
    assert page.headers["Cache-Control"] == "public, no-cache"
    # Each page, query and representation is its own entry.
    assert client.get(f"{LIST}?per_page=5").headers["Cache-Status"] == MISS
    assert client.get(f"{LIST}?per_page=5").headers["Cache-Status"] == HIT
    csv = client.get(LIST, headers={"Accept": "text/csv"})
    assert csv.headers["Cache-Status"] == MISS
    assert csv.mimetype == "text/csv"
    assert client.get(LIST).headers["Cache-Status"] == HIT
    # A revalidation from the cache is still a 304.
    fresh = client.get(LIST, headers={"If-None-Match": page.headers["ETag"]})
    assert fresh.status_code == 304
    assert fresh.headers["Cache-Status"] == HIT


def test_a_hit_sends_no_query(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    count_queries: Callable[..., Any],
) -> None:
    make_recipe(auth_headers)
    client.get(LIST)
    with count_queries() as statements:
        hit = client.get(LIST)
    assert hit.headers["Cache-Status"] == HIT
    # At most the generation check: no recipe, author or tag is loaded.
    assert len(statements) <= 1, statements
    assert not any("recipes" in statement.lower() for statement in statements), statements


def _create(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    created = client.post(LIST, json={**RECIPE, "name": "Fresh Draft"}, headers=headers)
    assert created.status_code == 201


def _edit_draft(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    draft = client.post(LIST, json={**RECIPE, "name": "Draft"}, headers=headers)
    url = draft.headers["Location"]
    assert client.patch(url, json={"name": "Still a draft"}, headers=headers).status_code == 200


def _password(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    body = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    assert client.put("/api/v1/me/password", json=body, headers=headers).status_code == 200


def _publish(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    draft = client.post(LIST, json={**RECIPE, "name": "Just Published"}, headers=headers)
    assert draft.status_code == 201
    # The draft alone changes nothing public; publishing it does.
    assert client.get(LIST).headers["Cache-Status"] == HIT
    url = draft.headers["Location"]
    assert client.put(f"{url}/publish", headers=headers).status_code == 204


def _edit(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    url = f"/api/v1/recipes/{recipe['id']}"
    assert client.patch(url, json={"name": "Edited Soup"}, headers=headers).status_code == 200


def _replace(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    url = f"/api/v1/recipes/{recipe['id']}"
    replaced = client.put(url, json={**RECIPE, "name": "Replaced Soup"}, headers=headers)
    assert replaced.status_code == 200


def _retag(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    url = f"/api/v1/recipes/{recipe['id']}"
    assert client.patch(url, json={"tags": ["winter"]}, headers=headers).status_code == 200


def _unpublish(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    url = f"/api/v1/recipes/{recipe['id']}/publish"
    assert client.delete(url, headers=headers).status_code == 204


def _delete(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    assert client.delete(f"/api/v1/recipes/{recipe['id']}", headers=headers).status_code == 204


def _profile(client: FlaskClient, headers: dict[str, str], recipe: dict[str, Any]) -> None:
    changed = client.patch("/api/v1/me", json={"display_name": "Chef Alice"}, headers=headers)
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_publish, ["Just Published", RECIPE["name"]]),
        (_edit, ["Edited Soup"]),
        (_replace, ["Replaced Soup"]),
        (_retag, [RECIPE["name"]]),
        (_unpublish, []),
        (_delete, []),
        (_profile, [RECIPE["name"]]),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_every_write_makes_the_next_get_a_miss(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    change: Callable[[FlaskClient, dict[str, str], dict[str, Any]], None],
    expected: list[str],
) -> None:
    recipe = make_recipe(auth_headers)
    before = assert_miss_then_hit(client)
    assert_miss_then_hit(client, USER_LIST)
    change(client, auth_headers, recipe)
    after = assert_miss_then_hit(client)
    assert names(after) == expected
    assert names(assert_miss_then_hit(client, USER_LIST)) == expected
    if change is _retag:
        assert after.json["data"][0]["tags"] == ["winter"]
        assert after.headers["ETag"] != before.headers["ETag"]
    if expected != names(before):
        assert after.headers["ETag"] != before.headers["ETag"]


@pytest.mark.parametrize("change", [_create, _edit_draft, _password], ids=lambda c: c.__name__)
def test_writes_nobody_else_can_see_keep_the_lists_cached(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    change: Callable[[FlaskClient, dict[str, str], dict[str, Any]], None],
) -> None:
    # Drafts and passwords appear in no public list: their writers never queue on the
    # generation's row, and the cached pages stay warm.
    recipe = make_recipe(auth_headers)
    before = assert_miss_then_hit(client)
    change(client, auth_headers, recipe)
    after = client.get(LIST)
    assert after.headers["Cache-Status"] == HIT
    assert after.data == before.data


def test_a_failed_write_keeps_the_cache(
    client: FlaskClient,
    auth_headers: dict[str, str],
    other_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    recipe = make_recipe(auth_headers)
    url = f"/api/v1/recipes/{recipe['id']}"
    assert_miss_then_hit(client)
    assert client.patch(url, json={"name": "Mine"}, headers=other_headers).status_code == 403
    assert client.patch(url, json={"num_of_servings": 0}, headers=auth_headers).status_code == 400
    assert client.get(LIST).headers["Cache-Status"] == HIT


def test_a_write_on_another_instance_invalidates_this_ones_cache(
    app: Flask,
    client: FlaskClient,
    second_app: Flask,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
) -> None:
    # In process, each instance has its own cache; with Redis they share one.
    shared = bool(os.environ.get("TEST_REDIS_URL"))
    recipe = make_recipe(auth_headers)
    url = f"/api/v1/recipes/{recipe['id']}"
    assert_miss_then_hit(client)
    other = second_app.test_client()
    first_elsewhere = other.get(LIST)
    assert first_elsewhere.headers["Cache-Status"] == (HIT if shared else MISS)
    assert names(first_elsewhere) == [RECIPE["name"]]

    edited = other.patch(url, json={"name": "Edited Elsewhere"}, headers=auth_headers)
    assert edited.status_code == 200
    after = assert_miss_then_hit(client)
    assert names(after) == ["Edited Elsewhere"]
    again_elsewhere = other.get(LIST)
    assert again_elsewhere.headers["Cache-Status"] == (HIT if shared else MISS)
    assert names(again_elsewhere) == ["Edited Elsewhere"]

    added = other.post(LIST, json={**RECIPE, "name": "Second Soup"}, headers=auth_headers)
    assert added.status_code == 201
    published = other.put(f"{added.headers['Location']}/publish", headers=auth_headers)
    assert published.status_code == 204
    assert names(assert_miss_then_hit(client)) == ["Second Soup", "Edited Elsewhere"]


def test_an_authors_private_list_is_never_shared(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers, name="Public Soup")
    make_recipe(auth_headers, publish=False, name="Secret Draft")
    for visibility in ("all", "private", "all"):
        own = client.get(f"{USER_LIST}?visibility={visibility}", headers=auth_headers)
        assert own.status_code == 200
        assert "Secret Draft" in names(own)
        assert "hit" not in own.headers.get("Cache-Status", "")
        cache_control = {part.strip() for part in own.headers["Cache-Control"].split(",")}
        assert "private" in cache_control or "no-store" in cache_control
        assert "public" not in cache_control
    # The public page is built for everyone, without the draft.
    public = assert_miss_then_hit(client, USER_LIST)
    assert names(public) == ["Public Soup"]
    assert names(client.get(USER_LIST, headers=auth_headers)) == ["Public Soup"]


def test_the_in_process_store_drops_the_least_recently_used_entry_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryCache(threshold=3, default_timeout=60)
    for key in "abc":
        store.set(key, key.encode())
    assert store.get("a") == b"a"  # used: now the most recent
    store.set("d", b"d")
    assert [store.get(key) for key in "abcd"] == [b"a", None, b"c", b"d"]
    assert store.add("a", b"other") is False
    assert store.get("a") == b"a"
    # A value is kept as it is, not a copy (what is stored is never changed after).
    kept = (b"body", "etag")
    store.set("kept", kept)
    assert store.get("kept") is kept
    # Timeouts: an entry past its own is gone; 0 keeps it until it is pushed out.
    clock = [1_000.0]
    monkeypatch.setattr(caching_module.time, "monotonic", lambda: clock[0])
    store.clear()
    store.set("short", 1, timeout=5)
    store.set("forever", 2, timeout=0)
    clock[0] += 6
    assert (store.get("short"), store.get("forever")) == (None, 2)
    assert store.add("short", 3) is True
    assert store.get("short") == 3
    assert store.delete("forever") is True
    assert store.has("forever") is False


def test_the_server_cache_is_the_bounded_store_or_redis(app: Flask) -> None:
    backend = cache.cache
    if app.config.get("REDIS_URL"):
        assert isinstance(backend, OutageTolerantRedisCache)  # shared by every instance
    else:
        assert isinstance(backend, MemoryCache)
        assert backend.threshold == 20_000
