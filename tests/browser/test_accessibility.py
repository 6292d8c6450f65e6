"""axe-core on every page type: no violation of impact "serious" or "critical"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from browser.conftest import PAGE_TYPES

BLOCKING = {"serious", "critical"}
axe = Axe()


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(PAGE_TYPES))
def test_no_serious_accessibility_violation(open_site_page: Callable[..., Page], name: str) -> None:
    page = open_site_page(name)
    assert page.locator("main h1").count() == 1, f"{name}: one h1 in main"
    violations = axe.run(page).response["violations"]
    blocking = [violation for violation in violations if violation["impact"] in BLOCKING]
    assert not blocking, f"{name} ({page.url}):\n{described(blocking)}"
