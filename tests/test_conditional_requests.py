"""Conditional requests (RFC 9110, section 13): ETags, Last-Modified, 304, If-Match and 412,
and optimistic locking that loses no update when two writers race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from conftest import PROBLEM, RECIPE, assert_problem
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import http_date, parse_date
from werkzeug.test import TestResponse

LIST = "/api/v1/recipes"
MakeRecipe = Callable[..., dict[str, Any]]
Send = Callable[[FlaskClient], TestResponse]


def assert_strong_etag(etag: str) -> None:
    assert not etag.startswith("W/"), etag
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) > 2


def assert_not_modified(response: TestResponse, etag: str) -> None:
    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    assert response.data == b""
    assert "Content-Type" not in response.headers


def test_recipe_walks_201_200_304_412_200_204_404(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    created = client.post("/api/v1/recipes", json=RECIPE, headers=auth_headers)
    assert created.status_code == 201
    url = created.headers["Location"]
    created_etag = created.headers["ETag"]
    assert_strong_etag(created_etag)
    assert client.put(f"{url}/publish", headers=auth_headers).status_code == 204

    read = client.get(url)
    assert read.status_code == 200
    assert read.json["name"] == RECIPE["name"]
    etag = read.headers["ETag"]
    assert_strong_etag(etag)
    assert etag != created_etag  # publishing changed the representation
    last_modified = parse_date(read.headers["Last-Modified"])
    assert last_modified is not None

    for header in (etag, f"W/{etag}", "*", f'"nope", {etag}', f'W/"other", W/{etag}'):
        fresh = client.get(url, headers={"If-None-Match": header})
        assert_not_modified(fresh, etag)
        assert fresh.headers["Cache-Control"] == "public, no-cache"
    assert client.get(url, headers={"If-None-Match": '"nope", W/"other"'}).status_code == 200

    stale = client.patch(
        url, json={"name": "Lost Update"}, headers={**auth_headers, "If-Match": created_etag}
    )
    body = assert_problem(stale, 412)
    assert "If-Match" in body["detail"]
    unchanged = client.get(url)
    assert unchanged.json == read.json
    assert unchanged.headers["ETag"] == etag

    patched = client.patch(
        url, json={"name": "Roast Tomato Soup"}, headers={**auth_headers, "If-Match": etag}
    )
    assert patched.status_code == 200
    assert patched.json["name"] == "Roast Tomato Soup"
    new_etag = patched.headers["ETag"]
    assert_strong_etag(new_etag)
    assert new_etag != etag
    assert client.get(url).headers["ETag"] == new_etag
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200

    refused = client.delete(url, headers={**auth_headers, "If-Match": etag})
    assert_problem(refused, 412)
    assert client.get(url).status_code == 200

    deleted = client.delete(url, headers={**auth_headers, "If-Match": new_etag})
    assert deleted.status_code == 204
    assert deleted.data == b""
    gone = client.get(url)
    assert_problem(gone, 404)
    assert_problem(client.get(url, headers={"If-None-Match": new_etag}), 404)


def test_if_modified_since(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    read = client.get(url)
    last_modified = read.headers["Last-Modified"]
    modified_at = parse_date(last_modified)
    assert modified_at is not None

    fresh = client.get(url, headers={"If-Modified-Since": last_modified})
    assert_not_modified(fresh, read.headers["ETag"])
    later = http_date(modified_at + timedelta(hours=1))
    assert client.get(url, headers={"If-Modified-Since": later}).status_code == 304

    earlier = http_date(modified_at - timedelta(days=1))
    changed = client.get(url, headers={"If-Modified-Since": earlier})
    assert changed.status_code == 200
    assert changed.json == read.json
    # A malformed date is ignored, as RFC 9110 asks.
    assert client.get(url, headers={"If-Modified-Since": "yesterday"}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    read = client.get(url)
    both = client.get(
        url,
        headers={
            "If-None-Match": '"someone-elses"',
            "If-Modified-Since": read.headers["Last-Modified"],
        },
    )
    assert both.status_code == 200
    assert both.json == read.json


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_a_weak_if_match_never_matches(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe, method: str
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    read = client.get(url)
    etag = read.headers["ETag"]
    response = getattr(client, method)(
        url, json={"name": "Changed"}, headers={**auth_headers, "If-Match": f"W/{etag}"}
    )
    assert_problem(response, 412)
    after = client.get(url)
    assert after.json == read.json
    assert after.headers["ETag"] == etag


def test_if_match_star_and_lists(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    etag = client.get(url).headers["ETag"]
    star = client.patch(url, json={"cook_time": 40}, headers={**auth_headers, "If-Match": "*"})
    assert star.status_code == 200
    assert star.json["cook_time"] == 40
    listed = client.patch(
        url,
        json={"cook_time": 50},
        headers={**auth_headers, "If-Match": f'"old", {star.headers["ETag"]}'},
    )
    assert listed.status_code == 200
    assert listed.json["cook_time"] == 50
    assert_problem(
        client.patch(url, json={"cook_time": 60}, headers={**auth_headers, "If-Match": etag}), 412
    )
    assert client.get(url).json["cook_time"] == 50


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_if_none_match_on_a_write_is_412_when_it_matches(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe, method: str
) -> None:
    """RFC 9110, 13.1.2: a false If-None-Match stops any method but GET/HEAD with a 412."""
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    read = client.get(url)
    for header in ("*", read.headers["ETag"]):
        response = getattr(client, method)(
            url, json={"name": "Changed"}, headers={**auth_headers, "If-None-Match": header}
        )
        assert_problem(response, 412)
    assert client.get(url).json == read.json


def test_if_unmodified_since_guards_writes(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    """RFC 9110, 13.1.4: evaluated when If-Match is absent and a Last-Modified exists."""
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    read = client.get(url)
    modified_at = parse_date(read.headers["Last-Modified"])
    assert modified_at is not None
    before = http_date(modified_at - timedelta(days=1))
    stale = client.patch(
        url, json={"name": "Changed"}, headers={**auth_headers, "If-Unmodified-Since": before}
    )
    assert_problem(stale, 412)
    assert client.get(url).json == read.json
    current = client.patch(
        url,
        json={"name": "Changed"},
        headers={**auth_headers, "If-Unmodified-Since": read.headers["Last-Modified"]},
    )
    assert current.status_code == 200
    assert current.json["name"] == "Changed"


def test_the_etag_changes_with_the_authors_profile(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    before = client.get(url)
    etag = before.headers["ETag"]
    profile = client.patch("/api/v1/me", json={"display_name": "Alice A."}, headers=auth_headers)
    assert profile.status_code == 200
    assert profile.json["display_name"] == "Alice A."
    after = client.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert_strong_etag(after.headers["ETag"])
    after_modified = parse_date(after.headers["Last-Modified"])
    before_modified = parse_date(before.headers["Last-Modified"])
    assert after_modified is not None
    assert before_modified is not None
    assert after_modified >= before_modified
    # The author's old tag no longer guards a write.
    stale = client.patch(url, json={"name": "x"}, headers={**auth_headers, "If-Match": etag})
    assert_problem(stale, 412)


@pytest.mark.parametrize("path", ["/api/v1/recipes/{id}", LIST, "/api/v1/users/alice/recipes"])
def test_head_gives_the_headers_of_get_and_no_body(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe, path: str
) -> None:
    url = path.format(id=make_recipe(auth_headers)["id"])
    got = client.get(url)
    head = client.head(url)
    assert got.status_code == head.status_code == 200
    assert got.data
    assert head.data == b""
    skip = {"X-Request-ID", "Cache-Status"}  # per request, and hit or miss
    assert {k: v for k, v in head.headers.items() if k not in skip} == {
        k: v for k, v in got.headers.items() if k not in skip
    }
    assert head.headers["ETag"] == got.headers["ETag"]
    assert_not_modified(
        client.head(url, headers={"If-None-Match": got.headers["ETag"]}), got.headers["ETag"]
    )


def test_a_list_has_an_etag_that_changes_with_its_content(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers)
    first = client.get(LIST)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert_strong_etag(etag)
    for header in (etag, f"W/{etag}", f'"x", {etag}'):
        assert_not_modified(client.get(LIST, headers={"If-None-Match": header}), etag)

    make_recipe(auth_headers, name="Pea Soup")
    changed = client.get(LIST, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json["total"] == first.json["total"] + 1
    assert changed.json["data"][0]["name"] == "Pea Soup"


def test_a_draft_published_changes_the_lists_etag(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    first = client.get(LIST)
    assert first.json["total"] == 0
    etag = first.headers["ETag"]
    assert (
        client.put(f"/api/v1/recipes/{draft['id']}/publish", headers=auth_headers).status_code
        == 204
    )
    after = client.get(LIST, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert [recipe["id"] for recipe in after.json["data"]] == [draft["id"]]


# Racing writers


def race(app: Flask, senders: list[Send]) -> list[TestResponse]:
    """Send every request at the same moment, each from its own thread and test client."""
    barrier = threading.Barrier(len(senders))
    responses: list[TestResponse | None] = [None] * len(senders)
    failures: list[BaseException] = []

    def run(index: int, send: Send) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            responses[index] = send(client)
        except BaseException as error:  # re-raised in the test's thread below
            failures.append(error)

    threads = [
        threading.Thread(target=run, args=(index, send)) for index, send in enumerate(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    if failures:
        raise failures[0]
    assert all(response is not None for response in responses)
    return [response for response in responses if response is not None]


def patcher(url: str, name: str, headers: dict[str, str]) -> Send:
    return lambda client: client.patch(url, json={"name": name}, headers=headers)


@pytest.mark.parametrize("round_", range(4))
def test_racing_patches_with_the_same_if_match_lose_no_update(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    round_: int,
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    for attempt in range(3):
        etag = client.get(url).headers["ETag"]
        headers = {**auth_headers, "If-Match": etag}
        names = [f"Soup {round_}.{attempt} by {who}" for who in ("A", "B")]
        responses = race(app, [patcher(url, name, headers) for name in names])
        assert sorted(r.status_code for r in responses) == [200, 412], [r.json for r in responses]
        winner = next(r for r in responses if r.status_code == 200)
        loser = next(r for r in responses if r.status_code == 412)
        assert loser.content_type == PROBLEM
        assert winner.json["name"] in names
        final = client.get(url)
        assert final.json == winner.json
        assert final.headers["ETag"] == winner.headers["ETag"] != etag


@pytest.mark.parametrize("round_", range(4))
def test_racing_patches_without_if_match_keep_one_whole_answer(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    round_: int,
) -> None:
    url = f"/api/v1/recipes/{make_recipe(auth_headers)['id']}"
    names = [f"Soup {round_} by {who}" for who in ("A", "B")]
    responses = race(app, [patcher(url, name, auth_headers) for name in names])
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, [r.json for r in responses]
    assert 200 in statuses
    for response in responses:
        if response.status_code == 409:
            assert response.content_type == PROBLEM
    final = client.get(url)
    assert final.json in [r.json for r in responses if r.status_code == 200]
    assert final.json["name"] in names


def test_a_recipe_made_where_a_deleted_one_was_never_matches_its_etag(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> None:
    # SQLite gives a new row the id of a deleted last one; the new recipe starts at the same
    # version, so a client's copy of the old one must not be confirmed as current.
    old = make_recipe(auth_headers, name="Old Soup")
    etag = client.get(f"/api/v1/recipes/{old['id']}").headers["ETag"]
    assert client.delete(f"/api/v1/recipes/{old['id']}", headers=auth_headers).status_code == 204
    new = make_recipe(auth_headers, name="New Soup")
    response = client.get(f"/api/v1/recipes/{new['id']}", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json["name"] == "New Soup"
    assert response.headers["ETag"] != etag
