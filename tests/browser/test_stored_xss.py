"""Stored XSS: markup typed into every text field the site keeps is shown as text on every
page that shows it, inline scripts allowed (the browser ignores the Content-Security-Policy
here, so only escaping stands between a payload and its running)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import Dialog, Page, expect

from browser.conftest import Site

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror=window.__xss=1>',
    "</script><script>window.__xss=1</script>",
    "</textarea><svg onload=window.__xss=1>",
]
QUOTED = "' autofocus onfocus='window.__xss=1"
EVERYTHING = " ".join([*PAYLOADS, QUOTED])
# Tags may only hold letters, digits, spaces and ' & + -: the quote and ampersand remain.
TAGS = "o'neil & sons, r&b"
SOURCE_URL = 'https://example.com/"><svg/onload=window.__xss=1>'
# Anything a payload could have added: elements that run code, or a script of its text.
INJECTED = """() => {
  const found = [...document.querySelectorAll(
    'img[src="x"], svg[onload], [onerror], [onload], [onfocus], [onmouseover]'
  )].map(el => el.outerHTML);
  for (const script of document.scripts) {
    if (script.textContent.includes('__xss') && script.type !== 'application/ld+json') {
      found.push(script.outerHTML);
    }
  }
  return found;
}"""


def test_markup_in_every_field_is_shown_as_text_everywhere(
    signed_in: Callable[..., Page], site: Site
) -> None:
    page = signed_in("mallory", bypass_csp=True)
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)

    def assert_inert(path: str) -> None:
        page.goto(path)
        assert page.evaluate("() => typeof window.__xss") == "undefined", path
        assert page.evaluate(INJECTED) == [], path
        assert dialogs == [], path

    page.goto("/account/profile")
    page.get_by_label("Display name").fill(PAYLOADS[1])
    page.get_by_label("About you").fill(EVERYTHING)
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_label("Display name")).to_have_value(PAYLOADS[1])

    page.goto("/account/api-keys")
    for payload in [*PAYLOADS, QUOTED]:
        page.get_by_label("Name", exact=True).fill(payload)
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_role("row", name=payload)).to_have_count(1)

    # A javascript: source would be a link that runs code: the editor refuses it.
    page.goto("/recipes/new")
    page.get_by_label("Name", exact=True).fill("A link that runs")
    page.get_by_label("Source URL").fill("javascript:window.__xss=1")
    page.get_by_role("button", name="Save recipe").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/recipes/new$"))

    edits: list[str] = []
    for payload in PAYLOADS:
        page.goto("/recipes/new")
        page.get_by_label("Name", exact=True).fill(payload)
        page.get_by_label("Description").fill(EVERYTHING)
        page.get_by_label("Servings").fill("2")
        page.get_by_label("Ingredients").fill("\n".join(f"1 cup {p}" for p in [*PAYLOADS, QUOTED]))
        page.get_by_label("Directions").fill("\n".join([*PAYLOADS, QUOTED]))
        page.get_by_label("Tags").fill(TAGS)
        page.get_by_label("Source URL").fill(SOURCE_URL)
        page.get_by_role("button", name="Save recipe").click()
        expect(page).to_have_url(re.compile(r"/recipes/\d+/edit$"))
        edits.append(page.url.removeprefix(site.base_url))
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_role("button", name="Unpublish")).to_be_visible()
        assert page.get_by_label("Description").input_value() == EVERYTHING

    for edit in edits:
        assert_inert(edit)
        assert page.get_by_label("Name", exact=True).input_value() in PAYLOADS
        recipe_page = page.get_by_role("link", name="its page").get_attribute("href")
        assert recipe_page
        assert_inert(recipe_page)
        name = page.get_by_role("heading", level=1).inner_text()
        assert name in PAYLOADS
        expect(page.get_by_role("listitem").filter(has_text=f"1 cup {QUOTED}")).to_have_count(1)
        expect(page.get_by_role("link", name="o'neil & sons")).to_have_count(1)
        assert page.get_by_role("link", name=SOURCE_URL).get_attribute("href") == SOURCE_URL
        documents = page.locator("script[type='application/ld+json']").all_text_contents()
        assert [json.loads(document)["name"] for document in documents] == [name]
        assert_inert(edit.replace("/edit", "/delete"))

    for path in (
        "/",
        "/search?q=xss",
        "/cooks/mallory",
        "/tags/o'neil & sons",
        "/my/recipes",
        "/account/api-keys",
    ):
        assert_inert(path)
        assert "window.__xss" in page.locator("main").inner_text(), path
    assert_inert("/account/profile")
    expect(page.get_by_label("About you")).to_have_value(EVERYTHING)

    page.goto("/search?q=xss")
    for payload in PAYLOADS:
        expect(page.get_by_role("heading", name=payload, exact=True)).to_have_count(1)
