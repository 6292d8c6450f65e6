"""A newcomer's whole journey, in the browser: register, confirm from the mail, log in,
write a recipe with a cover, publish, log out; then a visitor without JavaScript finds it,
opens it and scales it."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from browser.conftest import PASSWORD, Site, jpeg_bytes, link_in


def test_a_newcomer_registers_writes_publishes_and_a_visitor_finds_and_scales(
    page: Page, new_context: Callable[..., BrowserContext], site: Site
) -> None:
    mails_before = len(site.smtp.messages)
    page.goto("/account/register")
    page.get_by_label("Username").fill("newcook")
    page.get_by_label("Email").fill("newcook@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Display name").fill("New Cook")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("newcook@example.com")

    # Not confirmed yet: logging in is refused.
    page.goto("/account/login")
    page.get_by_label("Username or email").fill("newcook")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    # The link in the mail the SMTP server received; opening it changes nothing until the
    # button is pressed (mail scanners follow links).
    link = link_in(site.mail_to("newcook@example.com", after=mails_before))
    assert link.startswith(site.base_url), link
    page.goto(link)
    page.get_by_role("button", name=re.compile("confirm", re.IGNORECASE)).click()
    expect(page.get_by_role("status")).to_contain_text(re.compile("confirmed", re.IGNORECASE))

    page.goto("/account/login")
    page.get_by_label("Username or email").fill("newcook@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto("/recipes/new")
    page.get_by_label("Name", exact=True).fill("Grandma's oat crumble")
    page.get_by_label("Description").fill("A crumble that forgives every mistake.")
    page.get_by_label("Servings").fill("4")
    page.get_by_label("Prep time (minutes)").fill("15")
    page.get_by_label("Cook time (minutes)").fill("35")
    page.get_by_label("Ingredients").fill("2 cups flour\n1 cup rolled oats\n3 apples")
    page.get_by_label("Directions").fill("Rub the flour and oats into butter.\nBake for 35 min.")
    page.get_by_label("Tags").fill("dessert, oats")
    page.get_by_label("Source URL").fill("https://example.com/crumble")
    page.get_by_role("button", name="Save recipe").click()
    expect(page.locator("main")).to_contain_text("Grandma's oat crumble")

    cover_box = page.get_by_role("region", name="Cover image")
    cover_box.get_by_label("Cover image").set_input_files(
        files=[{"name": "crumble.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]
    )
    page.get_by_role("button", name="Upload cover").click()
    cover = page.locator("main img[src*='/media/']").first
    expect(cover).to_be_visible()
    assert cover.evaluate("image => image.naturalWidth") > 0

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("button", name="Unpublish")).to_be_visible()

    page.get_by_role("banner").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    # A visitor, without JavaScript: search, open, scale.
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/search")
    page.get_by_role("main").get_by_role("searchbox", name="Search recipes").fill("crumble")
    page.get_by_role("main").get_by_role("searchbox", name="Search recipes").press("Enter")
    page.get_by_role("link", name="Grandma's oat crumble").click()
    expect(page).to_have_url(re.compile(r"/recipes/\d+-grandma-s-oat-crumble$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Grandma's oat crumble")
    ingredients = page.get_by_role("region", name="Ingredients").get_by_role("list")
    expect(ingredients).to_contain_text("2 cups flour")
    expect(page.locator("main img[src*='/media/']").first).to_be_visible()

    page.get_by_label("Servings").fill("8")
    page.get_by_label("Servings").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]servings=8"))
    expect(ingredients).to_contain_text("4 cups flour")
    expect(ingredients).to_contain_text("6 apples")
