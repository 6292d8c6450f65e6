"""The editor with the keyboard alone: Tab, Shift-Tab, typing and Enter fill and save a
recipe; every stop shows where the focus is, in the order the page reads."""

from __future__ import annotations

import itertools
import re
from typing import Any

from playwright.sync_api import Page, expect

# What the focused element is, where it sits (its field's box, so a hint under one input of a
# row does not reorder the row) and whether the focus can be seen (the stylesheet draws it as
# an outline).
FOCUSED = """() => {
  const el = document.activeElement;
  const box = (el.closest('.field, li, .actions') || el).getBoundingClientRect();
  const own = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const label = el.labels && el.labels.length ? el.labels[0].innerText
    : (el.getAttribute('aria-label') || el.innerText || el.value || '');
  return {
    label: label.trim(), tag: el.tagName,
    top: box.top + scrollY, bottom: box.bottom + scrollY,
    left: box.left + scrollX, right: box.right + scrollX,
    width: own.width, height: own.height,
    focusVisible: el.matches(':focus-visible'),
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    onScreen: own.left >= 0 && own.top >= 0 && own.right <= innerWidth,
    inForm: !!el.closest('form.recipe-form'),
  };
}"""
TYPED = {
    "Name": "Keyboard lentil soup",
    "Description": "Made without touching the mouse.",
    "Servings": "6",
    "Prep time (minutes)": "10",
    "Cook time (minutes)": "40",
    "Ingredients": "2 cups red lentils\n1 onion\n1 litre stock",
    "Directions": "Soften the onion.\nAdd lentils and stock.\nSimmer 30 minutes.",
    "Tags": "soup, lentils",
    "Source URL": "https://example.com/lentil-soup",
}
MOST_TABS = 80
SLACK = 2  # px: borders and rounding


def reads_after(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """`after` comes later in reading order: on a lower line, or on the same line further
    right (boxes that overlap vertically share a line)."""
    below = after["top"] >= before["bottom"] - SLACK
    same_line = after["top"] < before["bottom"] and before["top"] < after["bottom"]
    return below or (same_line and after["left"] >= before["right"] - SLACK)


def test_the_editor_works_with_the_keyboard_alone(chef_page: Page) -> None:
    page = chef_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/recipes/new")
    stops: list[dict[str, Any]] = []
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        stops.append(stop)
        if stop["inForm"] and stop["label"] in TYPED:
            page.keyboard.type(TYPED[stop["label"]])
        if stop["label"] == "Save recipe":
            break
    labels = [stop["label"] for stop in stops]
    assert labels[-1] == "Save recipe", labels
    assert labels[0] == "Skip to content", labels
    assert stops[0]["width"] > 1, "the skip link stays hidden when focused"
    offscreen = [stop["label"] for stop in stops if not stop["onScreen"]]
    assert not offscreen, f"focused but off screen: {offscreen}"
    form_labels = [stop["label"] for stop in stops if stop["inForm"]]
    assert [label for label in form_labels if label in TYPED] == list(TYPED), form_labels

    unseen = [stop["label"] for stop in stops if not (stop["focusVisible"] and stop["ring"])]
    assert not unseen, f"no visible focus on: {unseen}"
    main_stops = stops[1:]  # the skip link sits over the header when it shows
    disorder = [
        (before["label"], after["label"])
        for before, after in itertools.pairwise(main_stops)
        if not reads_after(before, after)
    ]
    assert not disorder, f"focus goes back up the page between: {disorder}"

    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED)["label"] == "Source URL"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["label"] == "Save recipe"
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text(TYPED["Name"])
    expect(page).to_have_url(re.compile(r"/recipes/\d+/edit$"))
    assert page.get_by_label("Ingredients").input_value() == TYPED["Ingredients"]
    assert page.get_by_label("Directions").input_value() == TYPED["Directions"]
    assert page.get_by_label("Servings").input_value() == "6"
