"""CSRF: a form sent without this site's token, with a wrong one, or from a page of another
origin is a 400 that changes nothing; the same form with the page's own token works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from browser.conftest import MORE_RECIPES, Site

REFUSAL = "did not come from this site"


@pytest.fixture
def doomed_recipe(site: Site) -> Callable[[], dict[str, Any]]:
    """A draft of chef's made through the API, for a test to try to delete."""

    def make() -> dict[str, Any]:
        made = site.api("POST", "/recipes", "chef", json={**MORE_RECIPES[0], "name": "Doomed"})
        assert made.status_code == 201, made.text
        recipe: dict[str, Any] = made.json()
        return recipe

    return make


def still_there(site: Site, recipe: dict[str, Any]) -> bool:
    answer = site.api("GET", f"/recipes/{recipe['id']}", "chef")
    assert answer.status_code in {200, 404}, answer.text
    return answer.status_code == 200


@pytest.mark.parametrize("token", [None, "IjQ2ZjFhYzBm.forged.token"], ids=["missing", "wrong"])
def test_a_form_without_the_sites_token_is_refused_and_changes_nothing(
    chef_page: Page, site: Site, doomed_recipe: Callable[[], dict[str, Any]], token: str | None
) -> None:
    recipe = doomed_recipe()
    delete = f"/recipes/{recipe['id']}/delete"
    chef_page.goto(delete)  # the session holds a CSRF token from here on
    before = site.row_counts()

    form = {} if token is None else {"csrf_token": token}
    answer = chef_page.request.post(delete, form=form, max_redirects=0)
    assert answer.status == 400, answer.text()
    assert REFUSAL in answer.text()
    assert answer.headers["content-type"].startswith("text/html")
    assert site.row_counts() == before
    assert still_there(site, recipe)

    logout = chef_page.request.post("/account/logout", form=form, max_redirects=0)
    assert logout.status == 400
    chef_page.goto("/")
    assert chef_page.get_by_role("button", name="Log out").is_visible()

    # The control: the page's own token does delete it.
    chef_page.goto(delete)
    own = chef_page.locator("main input[name=csrf_token]").get_attribute("value")
    assert own
    done = chef_page.request.post(delete, form={"csrf_token": own}, max_redirects=0)
    assert done.status == 303, done.text()
    assert not still_there(site, recipe)


def test_a_form_on_another_origin_cannot_act_for_a_signed_in_cook(
    chef_page: Page, site: Site, doomed_recipe: Callable[[], dict[str, Any]]
) -> None:
    recipe = doomed_recipe()
    attack = f"""<!doctype html><html lang="en"><title>Win a prize</title>
        <form method="post" action="{site.url(f"/recipes/{recipe['id']}/delete")}">
          <input type="hidden" name="csrf_token" value="guessed">
          <button type="submit">Claim your prize</button>
        </form></html>"""
    chef_page.route(
        "http://prizes.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=attack),
    )
    chef_page.goto("http://prizes.example/")
    before = site.row_counts()
    with chef_page.expect_response(lambda response: response.request.method == "POST") as sent:
        chef_page.get_by_role("button", name="Claim your prize").click()
    assert sent.value.status == 400
    assert REFUSAL in sent.value.text()
    assert site.row_counts() == before
    assert still_there(site, recipe)
