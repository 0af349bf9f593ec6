"""The dashboard in a real browser: Playwright driving Debian's Chromium against a real server.

Screenshots land in tests/server/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import browser_support
from .conftest import Served

pytestmark = pytest.mark.slow


@pytest.fixture
def site(example_repo: Path) -> Iterator[Served]:
    browser_support.chromium_or_skip()
    with (example_repo / "lamina.toml").open("a") as fleet:
        # no scheduled checks: the pages update live, and a check would replace the seeded state
        fleet.write('\n[drift]\ninterval = "0"\n')
    browser_support.commit_base_change(example_repo)
    browser_support.seed_fleet_state(example_repo)
    with browser_support.serve_dashboard(example_repo) as served:
        yield served


@pytest.fixture
def chromium() -> Iterator[Any]:
    with browser_support.browser() as launched:
        yield launched


def sign_in(chromium: Any, site: Served, role: str, start: str = "/") -> Any:
    """A fresh browser context signed in through the login form; returns its page."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(site.base_url + start)
    assert page.url.startswith(site.base_url + "/login")
    page.get_by_label("Token").fill(site.token[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def shot(page: Any, name: str) -> None:
    browser_support.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(browser_support.ARTIFACTS / f"{name}.png"), full_page=True)


def test_sign_in_read_the_matrix_and_open_a_target(chromium: Any, site: Served) -> None:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(site.base_url + "/")
    assert page.url == site.base_url + "/login?next=%2F"
    assert page.evaluate("document.activeElement.id") == "token"  # ready to paste
    page.get_by_label("Token").fill("lam_wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "That token is not valid." in page.get_by_role("alert").inner_text()
    shot(page, "01-login-refused")

    page.get_by_label("Token").fill(site.token["viewer"])
    page.keyboard.press("Enter")
    page.wait_for_url(site.base_url + "/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("support-agent")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    matrix = page.get_by_role("table")
    rows = matrix.locator("tbody > tr")
    assert rows.count() == 4  # development, staging, production, production-eu
    production = rows.filter(has_text="prod-us-2")
    assert "Drifted" in production.inner_text()
    assert "In sync" in production.inner_text()
    assert "by ci@example.com" in production.inner_text()
    assert "Not checked" in rows.filter(has_text="prod-eu-1").inner_text()
    shot(page, "02-matrix")

    page.get_by_role("link", name="prod-us-1").click()
    page.wait_for_url(site.base_url + "/targets/production/prod-us-1")
    row = page.locator('tr[data-key="agent.temperature"]')
    assert "overlays/production" in row.inner_text()
    assert "consistent answers for customers" in row.inner_text()
    page.get_by_label("Filter keys").fill("agent.")
    assert page.locator('tr[data-key="memory.backend"]').is_hidden()
    assert row.is_visible()
    shot(page, "03-target-filtered")

    page.get_by_label("Filter keys").fill("")
    page.get_by_label("Compare with another target").select_option("staging/staging-us-1")
    page.get_by_role("button", name="Show differences").click()
    page.wait_for_url("**against=staging%2Fstaging-us-1")
    assert "Differences: production/prod-us-1 ↔ staging/staging-us-1" in page.content()
    shot(page, "04-target-diff")
    context.close()


def test_the_requester_sees_no_button_and_an_approver_approves(chromium: Any, site: Served) -> None:
    record = browser_support.open_promotion(site.root, "root@example.com")
    name = f"PR-{record.id}"

    requester = sign_in(chromium, site, "admin", "/promotions")
    card = requester.locator(f"article#{name}")
    assert "Awaiting approval" in card.inner_text()
    assert card.get_by_role("button", name=f"Approve {name}").count() == 0
    assert card.get_by_role("button", name="Reject").count() == 0
    assert f"root@example.com requested {name} and cannot decide on it" in card.inner_text()
    shot(requester, "05-promotions-requester")
    requester.context.close()

    viewer = sign_in(chromium, site, "viewer", "/promotions")
    assert viewer.locator(f"article#{name}").get_by_role("button").count() == 0
    viewer.context.close()

    approver = sign_in(chromium, site, "approver", "/promotions")
    card = approver.locator(f"article#{name}")
    shot(approver, "06-promotions-approver")
    card.get_by_label("Comment").fill("eval scores unchanged")
    card.get_by_role("button", name=f"Approve {name}").click()
    approver.wait_for_url(f"**/promotions?decided={record.id}#{name}")
    assert (
        f"Your approval of {name} is recorded; it is now approved."
        in approver.get_by_role("status").inner_text()
    )
    card = approver.locator(f"article#{name}")
    assert "Approved" in card.inner_text() and "eval scores unchanged" in card.inner_text()
    # decided: no approve or reject any more; the approver may now apply it
    assert card.get_by_role("button").all_inner_texts() == [f"Apply {name}"]
    shot(approver, "07-promotion-approved")

    approver.get_by_role("link", name="History").click()
    approver.get_by_role("link", name="production", exact=True).click()
    approver.wait_for_url("**/history/production")
    assert name in approver.locator("table").inner_text()
    shot(approver, "08-history")
    approver.get_by_role("link", name="Audit log").click()
    assert "Chain intact" in approver.content()
    shot(approver, "09-audit")

    approver.get_by_role("button", name="Sign out").click()
    approver.wait_for_url("**/login")
    approver.goto(site.base_url + "/promotions")
    assert "/login" in approver.url
