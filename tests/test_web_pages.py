"""The public pages of the site: home, search, a recipe, a tag and a cook. Status codes,
redirects to canonical URLs, cache headers (ETag and 304 for anonymous visitors, private for
the signed in), escaping of everything a user wrote, scaling, drafts, filters and paging."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD, through_flask
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

MakeRecipe = Callable[..., dict[str, Any]]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}
REPLAY = "Potluck; hit; detail=replay"
HOSTILE = "<script>alert(1)</script>"


def html(response: TestResponse) -> str:
    assert response.content_type == "text/html; charset=utf-8"
    return response.get_data(as_text=True)


def page_url(recipe: dict[str, Any], slug: str) -> str:
    return f"/recipes/{recipe['id']}-{slug}"


@pytest.fixture
def site_login(app: Flask) -> Callable[[str], FlaskClient]:
    """A browser signed in to the site (its own cookie jar) as `username`."""
    app.config["WTF_CSRF_ENABLED"] = False

    def signed_in(username: str) -> FlaskClient:
        browser = app.test_client()
        answer = browser.post("/account/login", data={"login": username, "password": PASSWORD})
        assert answer.status_code == 303, answer.get_data(as_text=True)
        return browser

    return signed_in


@pytest.fixture
def soup(auth_headers: dict[str, str], make_recipe: MakeRecipe) -> dict[str, Any]:
    return make_recipe(auth_headers, name="Tomato Soup")


# Home


def test_home_lists_the_newest_recipes_with_links_and_popular_tags(
    client: FlaskClient, soup: dict[str, Any]
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    body = html(response)
    assert body.count("<h1") == 1
    assert f'href="/recipes/{soup["id"]}-tomato-soup"' in body
    assert 'href="/tags/soup"' in body
    assert 'href="/cooks/alice"' in body
    assert 'action="/search"' in body
    assert response.headers["Cache-Control"] == "public, no-cache"
    assert "Cookie" in response.headers["Vary"]
    again = client.get("/", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_the_anonymous_home_is_replayed_until_a_recipe_is_published(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    make_recipe(auth_headers, name="First Dish")
    assert client.get("/").status_code == 200
    replayed = client.get("/")
    assert replayed.headers["Cache-Status"] == REPLAY
    make_recipe(auth_headers, name="Second Dish")
    fresh = client.get("/")
    assert fresh.headers.get("Cache-Status") != REPLAY
    assert "Second Dish" in html(fresh)


# A recipe's page


def test_the_recipe_page_shows_everything_and_declares_its_metadata(
    client: FlaskClient, soup: dict[str, Any]
) -> None:
    response = client.get(page_url(soup, "tomato-soup"))
    assert response.status_code == 200
    body = html(response)
    assert body.count("<h1") == 1
    assert '<h1 id="recipe-name">Tomato Soup</h1>' in body
    assert "<li>1 kg tomatoes</li>" in body
    assert re.search(r'<ol class="steps">\s*<li>Chop everything.</li>', body)
    assert 'href="/tags/vegetarian"' in body
    assert 'href="/cooks/alice"' in body
    assert '<meta property="og:type" content="article">' in body
    assert '<meta property="og:title" content="Tomato Soup">' in body
    assert f'content="http://127.0.0.1:8000/recipes/{soup["id"]}-tomato-soup"' in body
    assert '<script type="application/ld+json">{"@context":"https://schema.org"' in body
    assert 'rel="stylesheet" media="print"' in body
    assert response.headers["Cache-Control"] == "public, no-cache"
    held = {"If-None-Match": response.headers["ETag"]}
    assert client.get(page_url(soup, "tomato-soup"), headers=held).status_code == 304


def test_a_cover_is_shown_at_every_size(
    client: FlaskClient, app: Flask, soup: dict[str, Any]
) -> None:
    from potluck.domain.database import db
    from potluck.domain.models import Recipe, RecipeCover, StoredImage

    with app.app_context():
        db.session.add(StoredImage(hash="ab" * 32, width=1600, height=1200))
        recipe = db.session.get(Recipe, soup["id"])
        recipe.cover_image = RecipeCover(image_hash="ab" * 32)
        db.session.commit()
    body = html(client.get(page_url(soup, "tomato-soup")))
    thumb, large = (f"/media/{'ab' * 32}-{size}.webp" for size in ("thumbnail", "large"))
    assert f'srcset="{thumb} 400w, {large} 1600w"' in body
    assert 'alt="Tomato Soup"' in body
    assert f'<meta property="og:image" content="http://127.0.0.1:8000{large}">' in body
    card = html(client.get("/"))
    assert f'srcset="{thumb} 400w, {large} 1600w"' in card


@pytest.mark.parametrize("slug", ["tomato", "Tomato-Soup", "x"])
def test_another_slug_is_a_301_to_the_canonical_url_with_the_query_kept(
    client: FlaskClient, soup: dict[str, Any], slug: str
) -> None:
    response = client.get(f"{page_url(soup, slug)}?servings=2")
    assert response.status_code == 301
    assert response.headers["Location"] == f"{page_url(soup, 'tomato-soup')}?servings=2"


def test_a_slug_is_ascii_lowercase_and_hyphenated(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    from potluck.web.links import slugify

    assert slugify("Crème Brûlée, the 2nd!") == "creme-brulee-the-2nd"
    assert slugify("日本") == "recipe"
    recipe = make_recipe(auth_headers, name="Crème Brûlée")
    assert client.get(page_url(recipe, "creme-brulee")).status_code == 200
    assert client.get(f"/recipes/{recipe['id']}-").headers["Location"] == page_url(
        recipe, "creme-brulee"
    )


def test_a_browser_asking_the_api_alias_is_sent_to_the_page(
    client: FlaskClient, soup: dict[str, Any]
) -> None:
    # A browser's Accept, or any that prefers HTML to JSON: never a 406 for a page that exists.
    for browser in (BROWSER, {"Accept": "text/html"}, {"Accept": "text/html, application/xml"}):
        response = client.get(f"/recipes/{soup['id']}?servings=2", headers=browser)
        assert response.status_code == 301
        assert response.headers["Location"] == f"{page_url(soup, 'tomato-soup')}?servings=2"
        assert "Accept" in response.headers["Vary"]
    for accept in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        answer = client.get(f"/recipes/{soup['id']}", headers=accept)
        assert answer.status_code == 200
        assert answer.json["name"] == "Tomato Soup"
        assert "Accept" in answer.headers["Vary"]
    linked = client.get(f"/recipes/{soup['id']}", headers={"Accept": "application/ld+json"})
    assert linked.status_code == 200
    assert linked.content_type == "application/ld+json"
    assert client.get(f"/api/v1/recipes/{soup['id']}", headers=BROWSER).status_code == 200


def test_the_browser_alias_of_a_draft_is_a_404_page_for_others(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    draft = make_recipe(auth_headers, publish=False, name="Secret Stew")
    response = client.get(f"/recipes/{draft['id']}", headers=BROWSER)
    assert response.status_code == 404
    assert "Secret" not in html(response)
    assert client.get("/recipes/999999", headers=BROWSER).status_code == 404


def test_a_304_is_decided_from_the_version_before_loading_the_recipe(
    client: FlaskClient,
    soup: dict[str, Any],
    count_queries: Callable[..., Any],
    app: Flask,
    auth_headers: dict[str, str],
) -> None:
    path = page_url(soup, "tomato-soup")
    etag = client.get(path).headers["ETag"]
    cookie_client = through_flask(app)  # not the replay
    with count_queries() as statements:
        fresh = cookie_client.get(path, headers={"If-None-Match": etag})
    assert fresh.status_code == 304
    assert fresh.headers["ETag"] == etag
    assert fresh.headers["Cache-Control"] == "public, no-cache"
    assert len(statements) == 1, statements
    scaled = client.get(f"{path}?servings=2")
    assert scaled.headers["ETag"] != etag
    client.patch(f"/api/v1/recipes/{soup['id']}", json={"cook_time": 40}, headers=auth_headers)
    changed = cookie_client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_servings_scale_the_ingredients_without_javascript(
    client: FlaskClient, soup: dict[str, Any]
) -> None:
    path = page_url(soup, "tomato-soup")
    body = html(client.get(f"{path}?servings=8"))
    assert "<li>2 kg tomatoes</li>" in body
    assert "<li>2 onion</li>" in body
    assert 'name="servings"' in body
    assert 'value="8"' in body
    assert "(written for 4)" in body
    plain = html(client.get(path))
    assert "<li>1 kg tomatoes</li>" in plain
    assert 'value="4"' in plain


@pytest.mark.parametrize("servings", ["0", "101", "two", "1.5", "-3", "٣"])
def test_servings_out_of_range_are_a_400_page_with_the_form(
    client: FlaskClient, soup: dict[str, Any], servings: str
) -> None:
    response = client.get(page_url(soup, "tomato-soup"), query_string={"servings": servings})
    assert response.status_code == 400
    body = html(response)
    assert "whole number of servings" in body
    assert 'aria-invalid="true"' in body
    assert response.headers["Cache-Control"] == "no-store"


def test_a_draft_is_a_404_to_others_and_marked_for_its_author(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_recipe: MakeRecipe,
    register: Callable[..., Any],
    site_login: Callable[[str], FlaskClient],
) -> None:
    draft = make_recipe(auth_headers, publish=False, name="Secret Stew")
    path = page_url(draft, "secret-stew")
    anonymous = client.get(path)
    assert anonymous.status_code == 404
    assert "Secret" not in html(anonymous)
    register("bob")
    assert site_login("bob").get(path).status_code == 404
    author = site_login("alice").get(path)
    assert author.status_code == 200
    body = html(author)
    assert '<span class="badge">Draft</span>' in body
    assert "application/ld+json" not in body
    assert author.headers["Cache-Control"] == "private, no-cache"
    # A strong ETag, as on every GET: the author's browser may revalidate its own copy.
    assert author.headers["ETag"].startswith('"')


def test_a_signed_in_page_is_private_and_costs_one_query_for_identity(
    soup: dict[str, Any],
    site_login: Callable[[str], FlaskClient],
    count_queries: Callable[..., Any],
) -> None:
    browser = site_login("alice")
    path = page_url(soup, "tomato-soup")
    assert browser.get(path).status_code == 200
    with count_queries() as statements:
        response = browser.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response.headers["Vary"]
    assert "Log out" in html(response)
    # the identity and the recipe's version: its rendered parts come from the server cache
    assert len(statements) == 2, statements


def test_a_renamed_recipe_moves_its_canonical_url(
    client: FlaskClient, soup: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    assert client.get(page_url(soup, "tomato-soup")).status_code == 200
    client.patch(f"/api/v1/recipes/{soup['id']}", json={"name": "Red Soup"}, headers=auth_headers)
    moved = client.get(page_url(soup, "tomato-soup"))
    assert moved.status_code == 301
    assert moved.headers["Location"] == page_url(soup, "red-soup")
    assert '<h1 id="recipe-name">Red Soup</h1>' in html(client.get(page_url(soup, "red-soup")))


def test_everything_a_user_wrote_is_escaped(
    client: FlaskClient, auth_headers: dict[str, str], make_recipe: MakeRecipe
) -> None:
    recipe = make_recipe(
        auth_headers,
        name=f"Pie {HOSTILE}",
        description=f"Nice </script><script>alert(2)</script> {HOSTILE}",
        ingredients=[HOSTILE, "1 </script>"],
        directions=[HOSTILE],
        tags=["pie"],
    )
    listed = client.get(f"/recipes/{recipe['id']}-x")
    response = client.get(listed.headers["Location"])
    assert response.status_code == 200
    body = html(response)
    assert "alert(1)" in body
    assert "<script>alert" not in body
    assert body.count("</script>") == 1  # the JSON-LD block's own end
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    assert block is not None
    assert "\\u003cscript\\u003e" in block.group(1)
    for path in ("/", "/search?q=pie", "/tags/pie", "/cooks/alice"):
        assert "<script>" not in html(client.get(path)), path


# Search, tags and cooks


@pytest.fixture
def kitchen(auth_headers: dict[str, str], make_recipe: MakeRecipe) -> list[dict[str, Any]]:
    return [
        make_recipe(auth_headers, name="Apple Pie", tags=["dessert"], cook_time=50),
        make_recipe(auth_headers, name="Banana Bread", tags=["dessert", "quick"], cook_time=20),
        make_recipe(auth_headers, name="Carrot Soup", tags=["soup"], cook_time=30),
        make_recipe(auth_headers, name="Draft Dish", tags=["dessert"], publish=False),
    ]


def names(body: str) -> list[str]:
    return re.findall(r'<h[23]><a href="/recipes/[^"]+">([^<]+)</a>', body)


def test_the_search_page_has_a_labelled_form_and_counts_its_results(
    client: FlaskClient, kitchen: list[dict[str, Any]]
) -> None:
    response = client.get("/search")
    assert response.status_code == 200
    body = html(response)
    assert '<label for="q">Search recipes</label>' in body
    assert "<legend>Filters</legend>" in body
    assert "3 recipes" in body
    assert names(body) == ["Carrot Soup", "Banana Bread", "Apple Pie"]
    assert response.headers["Cache-Control"] == "public, no-cache"
    assert (
        client.get("/search", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=carrot", ["Carrot Soup"]),
        ("tag=dessert", ["Banana Bread", "Apple Pie"]),
        ("tag=dessert&tag=quick", ["Banana Bread"]),
        ("tag=Dessert&tag=", ["Banana Bread", "Apple Pie"]),
        ("max_cook_time=30", ["Carrot Soup", "Banana Bread"]),
        ("sort=name", ["Apple Pie", "Banana Bread", "Carrot Soup"]),
        ("sort=name&order=desc", ["Carrot Soup", "Banana Bread", "Apple Pie"]),
        ("sort=cook_time&q=&max_cook_time=", ["Banana Bread", "Carrot Soup", "Apple Pie"]),
        ("q=bread&sort=relevance", ["Banana Bread"]),
        ("utm_source=mail", ["Carrot Soup", "Banana Bread", "Apple Pie"]),
    ],
)
def test_search_filters_and_sorts(
    client: FlaskClient, kitchen: list[dict[str, Any]], query: str, expected: list[str]
) -> None:
    response = client.get(f"/search?{query}")
    assert response.status_code == 200
    assert names(html(response)) == expected


def test_search_pages_by_cursor_links_that_survive_a_reload(
    client: FlaskClient, kitchen: list[dict[str, Any]]
) -> None:
    first = html(client.get("/search?sort=name&per_page=2"))
    assert names(first) == ["Apple Pie", "Banana Bread"]
    link = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first)
    assert link is not None
    next_path = link.group(1).replace("&amp;", "&")
    assert "cursor=" in next_path
    assert "sort=name" in next_path
    second = html(client.get(next_path))
    assert names(second) == ["Carrot Soup"]
    assert names(html(client.get(next_path))) == ["Carrot Soup"]
    assert 'rel="next"' not in second
    assert "First page" in second


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("sort=tastiest", "Sort by"),
        ("order=up", "Order"),
        ("max_cook_time=0", "Longest cook time"),
        ("max_cook_time=soon", "Longest cook time"),
        ("sort=relevance", "Sort by"),
        ("cursor=forged", "Page"),
        ("per_page=1000", "Recipes per page"),
    ],
)
def test_invalid_search_settings_are_a_friendly_400_page(
    client: FlaskClient, kitchen: list[dict[str, Any]], query: str, label: str
) -> None:
    response = client.get(f"/search?{query}")
    assert response.status_code == 400
    body = html(response)
    assert 'role="alert"' in body
    assert f"<strong>{label}</strong>" in body
    assert "<legend>Filters</legend>" in body
    assert response.headers["Cache-Control"] == "no-store"


def test_an_empty_search_suggests_fewer_filters_and_popular_tags(
    client: FlaskClient, kitchen: list[dict[str, Any]]
) -> None:
    response = client.get("/search?q=lasagne&tag=soup&max_cook_time=10")
    assert response.status_code == 200
    body = html(response)
    assert "0 recipes" in body
    assert "No recipes match" in body
    assert 'href="/search?tag=soup&amp;max_cook_time=10"' in body  # without the words
    assert 'href="/search?q=lasagne&amp;max_cook_time=10"' in body  # without the tag
    assert 'href="/search?q=lasagne&amp;tag=soup"' in body  # any cook time
    assert "Popular tags" in body
    assert 'href="/tags/dessert"' in body


def test_a_tag_page_lists_its_published_recipes(
    client: FlaskClient, kitchen: list[dict[str, Any]]
) -> None:
    response = client.get("/tags/dessert")
    assert response.status_code == 200
    body = html(response)
    assert "Recipes tagged “dessert”" in body
    assert names(body) == ["Banana Bread", "Apple Pie"]
    assert names(html(client.get("/tags/dessert?sort=name"))) == ["Apple Pie", "Banana Bread"]
    moved = client.get("/tags/Dessert?sort=name")
    assert moved.status_code == 301
    assert moved.headers["Location"] == "/tags/dessert?sort=name"
    assert client.get("/tags/nothing-here").status_code == 404
    assert client.get("/tags/dessert?order=sideways").status_code == 400


def test_a_cook_page_shows_the_profile_and_published_recipes(
    client: FlaskClient,
    kitchen: list[dict[str, Any]],
    auth_headers: dict[str, str],
) -> None:
    client.patch(
        "/api/v1/me",
        json={"display_name": "Alice A.", "bio": f"Cook {HOSTILE}"},
        headers=auth_headers,
    )
    response = client.get("/cooks/alice")
    assert response.status_code == 200
    body = html(response)
    assert '<h1 id="cook-name">Alice A.</h1>' in body
    assert "Cook &lt;script&gt;" in body
    assert names(body) == ["Carrot Soup", "Banana Bread", "Apple Pie"]
    assert "Draft Dish" not in body
    paged = html(client.get("/cooks/alice?per_page=1"))
    assert names(paged) == ["Carrot Soup"]
    assert 'rel="next"' in paged
    assert client.get("/cooks/ALICE").headers["Location"] == "/cooks/alice"
    assert client.get("/cooks/nobody").status_code == 404


def test_list_pages_are_replayed_and_invalidated(
    client: FlaskClient, kitchen: list[dict[str, Any]], auth_headers: dict[str, str]
) -> None:
    for path in (
        "/search?q=soup",
        "/tags/soup",
        "/cooks/alice",
        page_url(kitchen[2], "carrot-soup"),
    ):
        assert client.get(path).status_code == 200
        assert client.get(path).headers["Cache-Status"] == REPLAY, path
    client.patch(
        f"/api/v1/recipes/{kitchen[2]['id']}", json={"name": "Carrot Soup"}, headers=auth_headers
    )
    assert client.get("/tags/soup").headers.get("Cache-Status") != REPLAY
