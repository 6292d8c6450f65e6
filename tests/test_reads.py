"""The one read path (http/reads.py): every read of the API and the site gets its ETag in one
form, its 304, and the Cache-Control of its audience the same way."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD, submit, through_flask
from flask import Flask
from flask.testing import FlaskClient

ONE_FORM = re.compile(r'^"[0-9a-f]{24}"$')
JSONLD = {"Accept": "application/ld+json"}

# Anonymous reads: (path, with the recipe's id and slug filled in; request headers).
PUBLIC_READS = [
    ("/api/v1/recipes/{id}", {}),
    ("/api/v1/recipes/{id}", JSONLD),
    ("/api/v1/recipes?per_page=5", {}),
    ("/api/v1/recipes?per_page=5", {"Accept": "text/csv"}),
    ("/api/v1/tags", {}),
    ("/api/v1/users/alice", {}),
    ("/api/v1/users/alice/recipes", {}),
    ("/recipes/{id}-tomato-soup", {}),
    ("/recipes/{id}-tomato-soup?servings=8", {}),
    ("/search?q=soup", {}),
    ("/tags/soup", {}),
    ("/cooks/alice", {}),
    ("/", {}),
]


@pytest.fixture
def soup(make_recipe: Callable[..., dict[str, Any]], auth_headers: dict[str, str]) -> Any:
    return make_recipe(auth_headers)


@pytest.mark.parametrize(("path", "headers"), PUBLIC_READS)
def test_every_public_read_has_one_etag_form_and_its_304(
    app: Flask, soup: dict[str, Any], path: str, headers: dict[str, str]
) -> None:
    reader = through_flask(app)
    url = path.format(id=soup["id"])
    first = reader.get(url, headers=headers)
    assert first.status_code == 200, url
    etag = first.headers["ETag"]
    assert ONE_FORM.match(etag), etag
    assert first.headers["Cache-Control"] == "public, no-cache"
    for held in (etag, f"W/{etag}", f'"other", {etag}'):
        again = reader.get(url, headers={**headers, "If-None-Match": held})
        assert again.status_code == 304, (url, held)
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, no-cache"
        assert again.data == b""
    other = reader.get(url, headers={**headers, "If-None-Match": '"0123456789abcdef01234567"'})
    assert (other.status_code, other.data) == (200, first.data)


def test_a_versioned_read_answers_its_304_from_the_version_alone(
    app: Flask,
    soup: dict[str, Any],
    count_queries: Callable[[], Any],
) -> None:
    """A recipe's and a profile's ETag come from their versions: a current copy costs the
    one query that finds the version, and nothing is loaded or serialized."""
    reader = through_flask(app)
    for url in (f"/api/v1/recipes/{soup['id']}", "/api/v1/users/alice"):
        etag = reader.get(url).headers["ETag"]
        with count_queries() as statements:
            fresh = reader.get(url, headers={"If-None-Match": etag})
        assert fresh.status_code == 304
        assert len(statements) == 1, statements


def test_each_audience_gets_its_cache_control(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: Callable[..., dict[str, Any]],
) -> None:
    draft = make_recipe(auth_headers, publish=False)
    own_draft = client.get(f"/api/v1/recipes/{draft['id']}", headers=auth_headers)
    assert own_draft.headers["Cache-Control"] == "private, no-cache"
    assert ONE_FORM.match(own_draft.headers["ETag"])
    me = client.get("/api/v1/me", headers=auth_headers)
    assert me.headers["Cache-Control"] == "no-store"  # account data: never stored
    assert "Cache-Status" not in me.headers  # nor kept in the server cache
    fresh = client.get("/api/v1/me", headers={**auth_headers, "If-None-Match": me.headers["ETag"]})
    assert (fresh.status_code, fresh.headers["Cache-Control"]) == (304, "no-store")
    browser = app.test_client()
    signed_in = submit(browser, "/account/login", {"login": "alice", "password": PASSWORD})
    assert signed_in.status_code == 303
    page = browser.get("/search?q=soup")
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert ONE_FORM.match(page.headers["ETag"])


def test_a_profile_etag_moves_with_the_profile_and_guards_its_writes(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    public = client.get("/api/v1/users/alice").headers["ETag"]
    own = client.get("/api/v1/me", headers=auth_headers).headers["ETag"]
    assert public != own  # two representations, two tags
    changed = client.patch(
        "/api/v1/me", json={"bio": "Soups."}, headers={**auth_headers, "If-Match": own}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] == client.get("/api/v1/me", headers=auth_headers).headers["ETag"]
    assert changed.headers["ETag"] != own
    assert client.get("/api/v1/users/alice").headers["ETag"] != public
    stale = client.patch(
        "/api/v1/me", json={"bio": "Stews."}, headers={**auth_headers, "If-Match": own}
    )
    assert stale.status_code == 412
    assert client.get("/api/v1/me", headers=auth_headers).json["bio"] == "Soups."
