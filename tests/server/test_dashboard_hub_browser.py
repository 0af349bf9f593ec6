"""The dashboard acting, in Chromium: a viewer sees no buttons; an editor requests; an approver
approves and applies; a second browser sees the change without reloading (server-sent events)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import browser_support
from .conftest import Served
from .test_dashboard_browser import shot, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def site(guarded_example: Path) -> Iterator[Served]:
    browser_support.chromium_or_skip()
    browser_support.commit_base_change(guarded_example)
    with browser_support.serve_dashboard(guarded_example) as served:
        yield served


@pytest.fixture
def chromium() -> Iterator[Any]:
    with browser_support.browser() as launched:
        yield launched


def test_viewer_editor_approver_and_a_second_browser(chromium: Any, site: Served) -> None:
    viewer = sign_in(chromium, site, "viewer", "/promotions")
    assert viewer.locator("form[action^='/actions/']").count() == 0
    assert viewer.get_by_role("button", name="Request promotion").count() == 0
    viewer.goto(site.base_url + "/")
    assert viewer.get_by_role("button", name="Check drift now").count() == 0
    viewer.goto(site.base_url + "/promotions")
    viewer.evaluate("window.stayedOnThisPage = true")

    editor = sign_in(chromium, site, "editor", "/promotions")
    form = editor.locator("form[action='/actions/promote']")
    form.get_by_label("From").select_option("development")
    form.get_by_label("Into").select_option("staging")
    form.get_by_label("Reason").fill("longer answers")
    form.get_by_role("button", name="Request promotion").click()
    editor.wait_for_load_state()
    card = editor.locator("#PR-1")
    assert "Awaiting approval" in card.inner_text()
    assert "agent.max_tokens" in card.locator(".plan").inner_text()
    assert card.get_by_role("button", name="Approve PR-1").count() == 0  # nobody approves their own

    # the viewer's page shows the new request without a reload
    viewer.locator("#PR-1").wait_for(timeout=10_000)
    assert viewer.evaluate("window.stayedOnThisPage") is True

    approver = sign_in(chromium, site, "admin", "/promotions")
    approver.locator("#PR-1").get_by_label("Comment").fill("eval suite is green")
    approver.get_by_role("button", name="Approve PR-1").click()
    approver.wait_for_load_state()
    shot(approver, "hub-approved")
    approver.get_by_role("button", name="Apply PR-1").click()
    approver.wait_for_load_state()
    assert "Promoted" in approver.locator("#PR-1").inner_text()

    # a locator waits from outside the page: the page's CSP (no eval) cannot refuse it
    viewer.locator("#PR-1", has_text="Promoted").wait_for(timeout=10_000)
    assert viewer.evaluate("window.stayedOnThisPage") is True
    assert "eval suite is green" in viewer.locator("#PR-1").inner_text()
