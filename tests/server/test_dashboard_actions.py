"""The dashboard's buttons: shown only to roles allowed, refused without their CSRF token, and
each doing what the API and the command line do (same rules, same audit rows)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lamina.server import auth
from lamina.server.pages import rendering
from lamina.store import promotions as store
from lamina.store import rollouts
from lamina.store.database import Database

from . import browser_support
from .conftest import Served


@pytest.fixture
def site(example_repo: Path) -> Iterator[Served]:
    browser_support.commit_base_change(example_repo)
    with browser_support.serve_dashboard(example_repo) as served:
        yield served


@pytest.fixture
def pinned_site(guarded_example: Path) -> Iterator[Served]:
    """The example as a user gets it (pins, protected production), with a change to base/."""
    browser_support.commit_base_change(guarded_example)
    with browser_support.serve_dashboard(guarded_example) as served:
        yield served


def cookie(site: Served, role: str) -> dict[str, str]:
    return {"Cookie": f"{auth.COOKIE}={site.token[role]}"}


def page(site: Served, path: str, role: str) -> str:
    response = site.client.get(path, headers=cookie(site, role))
    assert response.status_code == 200, response.text
    return response.text


def form_token(html: str, action: str) -> str:
    found = re.search(
        rf'action="{re.escape(action)}">\s*<input type="hidden" name="csrf" value="(\w+)"', html
    )
    assert found is not None, f"no form for {action} on the page"
    return found.group(1)


def post(site: Served, path: str, role: str, data: dict[str, str]) -> httpx.Response:
    return site.client.post(path, data=data, headers=cookie(site, role))


def audit_actions(site: Served) -> list[str]:
    rows = site.client.get("/api/v1/audit", headers={"Authorization": f"Bearer {site.token['admin']}"}).json()
    return [row["action"] for row in rows]


BUTTONS = {
    "request": ['action="/actions/promote"', 'action="/actions/change"', 'action="/actions/rollback"'],
    "fleet": ['action="/actions/apply"', 'action="/actions/heal"', 'action="/actions/drift"'],
    "freeze": ['action="/actions/freeze"'],
}


@pytest.mark.parametrize(
    ("role", "request_forms", "fleet_forms", "freeze_forms"),
    [
        pytest.param("viewer", False, False, False, id="viewer"),
        pytest.param("editor", True, True, False, id="editor"),
        pytest.param("approver", False, False, True, id="approver"),
        pytest.param("admin", True, True, True, id="admin"),
    ],
)
def test_buttons_show_only_to_roles_allowed(
    site: Served, role: str, request_forms: bool, fleet_forms: bool, freeze_forms: bool
) -> None:
    promotions = page(site, "/promotions", role)
    fleet = page(site, "/", role)
    assert all((form in promotions) is request_forms for form in BUTTONS["request"])
    assert all((form in fleet) is fleet_forms for form in BUTTONS["fleet"])
    assert all((form in promotions) is freeze_forms for form in BUTTONS["freeze"])
    assert 'data-live="/events"' in fleet


@pytest.mark.parametrize(
    ("path", "data"),
    [
        pytest.param("/actions/promote", {"source": "development", "target": "staging"}, id="promote"),
        pytest.param("/actions/change", {"environment": "staging"}, id="change"),
        pytest.param("/actions/rollback", {"environment": "staging", "to": "HEAD~1"}, id="rollback"),
        pytest.param("/actions/apply", {"target": "staging"}, id="apply"),
        pytest.param("/actions/heal", {"target": "staging"}, id="heal"),
        pytest.param("/actions/drift", {}, id="drift"),
        pytest.param(
            "/actions/freeze", {"environment": "staging", "until": "1h", "reason": "x"}, id="freeze"
        ),
        pytest.param("/actions/unfreeze", {"environment": "staging"}, id="unfreeze"),
        pytest.param("/promotions/1/apply", {}, id="apply-request"),
        pytest.param("/rollouts/1/pause", {}, id="pause-rollout"),
        pytest.param("/rollouts/1/resume", {}, id="resume-rollout"),
        pytest.param("/rollouts/1/abort", {}, id="abort-rollout"),
    ],
)
@pytest.mark.parametrize("csrf", [None, "0" * 64], ids=["no-token", "wrong-token"])
def test_a_post_without_its_csrf_token_is_refused(
    site: Served, path: str, data: dict[str, str], csrf: str | None
) -> None:
    before = audit_actions(site)
    sent = {**data, **({"csrf": csrf} if csrf else {})}
    response = post(site, path, "admin", sent)
    assert response.status_code == 403
    assert "This form is stale or did not come from this dashboard." in response.text
    assert audit_actions(site) == before
    assert not (site.root / "out").exists()


def test_a_post_from_another_site_is_refused(site: Served) -> None:
    csrf = form_token(page(site, "/", "editor"), "/actions/drift")
    response = site.client.post(
        "/actions/drift",
        data={"csrf": csrf},
        headers={**cookie(site, "editor"), "Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_editor_requests_approver_approves_and_applies(pinned_site: Served) -> None:
    site = pinned_site
    html = page(site, "/promotions", "editor")
    csrf = form_token(html, "/actions/promote")
    requested = post(
        site, "/actions/promote", "editor", {"csrf": csrf, "source": "development", "target": "staging"}
    )
    assert requested.status_code == 303, requested.text
    queue = page(site, "/promotions", "admin")
    assert "PR-1" in queue and "Awaiting approval" in queue
    # the stored plan: keys and flags
    assert "<code>agent.max_tokens</code>" in queue
    own = page(site, "/promotions", "editor")
    assert 'action="/promotions/1/approve"' not in own
    decide = form_token(queue, "/promotions/1/approve")
    assert post(site, "/promotions/1/approve", "admin", {"csrf": decide}).status_code == 303
    approved = page(site, "/promotions", "admin")
    assert 'action="/promotions/1/apply"' not in page(site, "/promotions", "editor")
    apply_csrf = form_token(approved, "/promotions/1/apply")
    assert post(site, "/promotions/1/apply", "admin", {"csrf": apply_csrf}).status_code == 303
    assert "Promoted" in page(site, "/promotions", "viewer")
    newest = audit_actions(site)
    assert newest[0] == "promotion.promoted" and "promotion.approved" in newest[:3]


def test_a_refused_button_shows_the_rule(site: Served) -> None:
    html = page(site, "/promotions", "editor")
    csrf = form_token(html, "/actions/promote")
    response = post(
        site, "/actions/promote", "editor", {"csrf": csrf, "source": "development", "target": "production"}
    )
    assert response.status_code == 403
    assert "production is promoted from staging" in response.text


def test_freeze_and_unfreeze_from_the_page(site: Served) -> None:
    html = page(site, "/promotions", "approver")
    csrf = form_token(html, "/actions/freeze")
    refused = post(
        site,
        "/actions/freeze",
        "approver",
        {"csrf": csrf, "environment": "staging", "until": "1h", "reason": "x"},
    )
    assert refused.status_code == 403
    assert "freezing staging needs approver:staging or admin" in refused.text
    frozen = post(
        site,
        "/actions/freeze",
        "approver",
        {"csrf": csrf, "environment": "production", "until": "2h", "reason": "launch"},
    )
    assert frozen.status_code == 303
    shown = page(site, "/promotions", "viewer")
    assert "production frozen" in shown and "“launch”" in shown
    assert 'action="/actions/unfreeze"' not in shown
    assert audit_actions(site)[0] == "freeze"
    unfreeze = form_token(page(site, "/promotions", "approver"), "/actions/unfreeze")
    assert (
        post(
            site, "/actions/unfreeze", "approver", {"csrf": unfreeze, "environment": "production"}
        ).status_code
        == 303
    )
    assert audit_actions(site)[0] == "unfreeze"


def test_apply_heal_and_drift_from_the_fleet_page(site: Served) -> None:
    html = page(site, "/", "editor")
    ship = form_token(html, "/actions/apply")
    assert post(site, "/actions/apply", "editor", {"csrf": ship, "target": "staging"}).status_code == 303
    assert (site.root / "out" / "staging-us-1" / "agent-config.json").exists()
    drift = form_token(html, "/actions/drift")
    assert post(site, "/actions/drift", "editor", {"csrf": drift}).status_code == 303
    assert "In sync" in page(site, "/", "viewer")
    config = site.root / "out" / "staging-us-1" / "agent-config.json"
    config.write_text(config.read_text().replace('"max_tool_calls": 15', '"max_tool_calls": 99'))
    assert post(site, "/actions/heal", "editor", {"csrf": ship, "target": "staging"}).status_code == 303
    assert '"max_tool_calls": 15' in config.read_text()


def test_a_forced_apply_is_marked_in_history(site: Served) -> None:
    admin = {"Authorization": f"Bearer {site.token['admin']}"}
    site.client.put("/api/v1/freezes/staging", json={"until": "1h", "reason": "hold"}, headers=admin)
    forced = site.client.post(
        "/api/v1/apply", json={"targets": ["staging"], "force": "hotfix"}, headers=admin
    )
    assert forced.status_code == 200, forced.text
    history = page(site, "/history/staging", "viewer")
    assert "Forced</span>" in history and "FORCED (hotfix)" in history


def test_the_event_stream_says_update_when_state_changes(site: Served) -> None:
    headers = cookie(site, "viewer")
    with site.client.stream("GET", "/events", headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(lines) == "event: hello"
        next(lines), next(lines)
        admin = {"Authorization": f"Bearer {site.token['admin']}"}
        site.client.put("/api/v1/freezes/staging", json={"until": "1h", "reason": "hold"}, headers=admin)
        assert next(lines) == "event: update"
    assert rendering.csrf_token("a", "b") != rendering.csrf_token("a", "c")


def test_a_failed_apply_shows_which_cluster(site: Served) -> None:
    (site.root / "out").write_text("not a folder\n")
    ship = form_token(page(site, "/", "editor"), "/actions/apply")
    response = post(site, "/actions/apply", "editor", {"csrf": ship, "target": "staging"})
    assert response.status_code == 502, response.text
    assert "Not every cluster runs what was asked: staging/staging-us-1: failed (" in response.text


def test_a_frozen_environment_offers_no_resume_and_refuses_one(site: Served) -> None:
    db = Database.for_repository(site.root, None)
    now = datetime.now(UTC)
    record = rollouts.create(
        db,
        environment="staging",
        revision="a" * 40,
        steps=[["staging-us-1"]],
        plan={"bake": 60.0, "analysis": None},
        actor="alice@example.com",
        at=now,
    )
    path = f"/rollouts/{record.id}"
    assert 'action="/rollouts/1/pause"' not in page(site, path, "viewer")
    pause = form_token(page(site, path, "editor"), f"{path}/pause")
    assert post(site, f"{path}/pause", "editor", {"csrf": pause}).status_code == 303
    html = page(site, path, "editor")
    resume = form_token(html, f"{path}/resume")
    assert f'action="{path}/abort"' in html
    store.set_freeze(
        db, environment="staging", until=now + timedelta(hours=1), reason="launch", actor="lead", at=now
    )
    frozen = page(site, path, "editor")
    assert f'action="{path}/resume"' not in frozen  # the rules say no: no button
    assert f'action="{path}/abort"' in frozen  # aborting stops change: a freeze lets it
    refused = post(site, f"{path}/resume", "editor", {"csrf": resume})  # a page from before the freeze
    assert refused.status_code == 403
    assert "staging is frozen until" in refused.text
    actions = audit_actions(site)
    assert actions[0] == "rollout.resume-refused" and "rollout.resumed" not in actions
    assert rollouts.get(db, record.id).status.value == "paused"
    db.dispose()
