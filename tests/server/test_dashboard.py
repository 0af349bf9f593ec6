"""The dashboard over plain HTTP: sign-in, redirects, CSRF, who sees the approve button, provenance."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lamina.server import auth
from lamina.server.pages import rendering
from lamina.store import promotions as store
from lamina.store.database import Database

from . import browser_support
from .conftest import Served


@pytest.fixture
def site(example_repo: Path) -> Iterator[Served]:
    with browser_support.serve_dashboard(example_repo) as served:
        yield served


def signed_in(site: Served, role: str) -> dict[str, str]:
    return {"Cookie": f"{auth.COOKIE}={site.token[role]}"}


def page(site: Served, path: str, role: str = "viewer") -> httpx.Response:
    return site.client.get(path, headers=signed_in(site, role))


def csrf_of(html: str, request_id: int) -> str:
    form = re.search(
        rf'action="/promotions/{request_id}/approve">\s*<input type="hidden" name="csrf" value="(\w+)"', html
    )
    assert form is not None, "no approve form on the page"
    return form.group(1)


def status_of(root: Path, request_id: int) -> str:
    database = Database.for_repository(root, None)
    try:
        return store.get_request(database, request_id).status
    finally:
        database.dispose()


PAGES = ["/", "/targets/production/prod-us-1", "/promotions", "/history/production", "/audit", "/logout"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_cookie_redirects_to_login(site: Served, path: str) -> None:
    response = site.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")


def test_the_api_still_answers_401(site: Served) -> None:
    assert site.client.get("/api/v1/environments").status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_every_role_reads_every_page(site: Served, path: str) -> None:
    for role in site.token:
        response = page(site, path, role)
        assert response.status_code == 200, (role, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_login_sets_a_strict_httponly_cookie_and_goes_back(site: Served) -> None:
    response = site.client.post("/login", data={"token": site.token["viewer"], "next": "/audit"})
    assert response.status_code == 303
    assert response.headers["location"] == "/audit"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{auth.COOKIE}={site.token['viewer']};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


@pytest.mark.parametrize(
    "token, message",
    [
        pytest.param("lam_not-a-real-token", "That token is not valid.", id="unknown"),
        pytest.param("", "That token is not valid.", id="empty"),
    ],
)
def test_login_refuses_a_bad_token(site: Served, token: str, message: str) -> None:
    response = site.client.post("/login", data={"token": token})
    assert response.status_code == 401
    assert message in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("next_path", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(site: Served, next_path: str) -> None:
    response = site.client.post("/login", data={"token": site.token["viewer"], "next": next_path})
    assert response.headers["location"] == "/"


def test_logout_needs_the_form_token_and_clears_the_cookie(site: Served) -> None:
    refused = site.client.post("/logout", data={"csrf": "0" * 64}, headers=signed_in(site, "viewer"))
    assert refused.status_code == 403
    form = page(site, "/logout").text
    csrf = re.search(r'name="csrf" value="(\w+)"', form)
    assert csrf is not None
    response = site.client.post("/logout", data={"csrf": csrf.group(1)}, headers=signed_in(site, "viewer"))
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (
        'lamina_token=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    )


@pytest.mark.parametrize(
    "path, status",
    [
        pytest.param("/targets/Production/prod-us-1", 400, id="upper-case"),
        pytest.param("/targets/production/prod_us_1", 400, id="underscore"),
        pytest.param("/targets/production/..", 404, id="dot-dot"),
        pytest.param("/targets/production/nowhere", 404, id="unknown-cluster"),
        pytest.param("/history/-x", 400, id="leading-dash"),
        pytest.param("/targets/production/prod-us-1?against=..%2Fetc", 400, id="bad-against"),
    ],
)
def test_path_parameters_must_be_dns_labels(site: Served, path: str, status: int) -> None:
    assert page(site, path).status_code == status


def test_the_matrix_shows_hash_pin_status_and_last_apply(site: Served) -> None:
    browser_support.seed_fleet_state(site.root)
    html = page(site, "/").text
    for cluster in ("local-dev", "staging-us-1", "prod-us-1", "prod-us-2", "prod-eu-1"):
        assert f">{cluster}</a>" in html
    assert "Drifted" in html and "In sync" in html and "Out of sync" in html and "Not checked" in html
    assert "by ci@example.com" in html
    assert "not pinned (HEAD)" in html


def test_the_target_page_shows_who_set_each_value_and_why(site: Served) -> None:
    html = page(site, "/targets/production/prod-us-1").text
    row = re.search(r'<tr data-key="agent.temperature">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "0.1" in row.group(1)
    assert ">overlays/production</span>" in row.group(1)
    assert "overlays/production/agent-patch.toml:3" in row.group(1)
    assert "consistent answers for customers" in row.group(1)
    assert "overrides 1 lower layer" in row.group(1)  # base set 0.2
    secret = re.search(r'<tr data-key="agent.api_key">(.*?)</tr>', html, re.S)
    assert secret is not None and "openai/api-key" in secret.group(1)


def test_the_target_page_diffs_against_another_target(site: Served) -> None:
    html = page(site, "/targets/production/prod-us-1?against=staging/staging-us-1").text
    assert "Differences: production/prod-us-1 ↔ staging/staging-us-1" in html
    assert "agent.model" in html


@pytest.mark.parametrize(
    "requester, role, shown, why",
    [
        pytest.param("editor", "viewer", False, "lacks the role approver:production", id="viewer"),
        pytest.param("editor", "editor", False, "cannot decide on it", id="requester-editor"),
        pytest.param("editor", "approver", True, None, id="approver"),
        pytest.param("editor", "admin", True, None, id="admin"),
        pytest.param("approver", "approver", False, "cannot decide on it", id="requester-approver"),
        pytest.param("admin", "admin", False, "cannot decide on it", id="requester-admin"),
    ],
)
def test_only_those_allowed_see_approve_and_reject(
    site: Served, requester: str, role: str, shown: bool, why: str | None
) -> None:
    browser_support.commit_base_change(site.root)
    record = browser_support.open_promotion(site.root, browser_support.USERS[requester][0])
    html = page(site, "/promotions", role).text
    assert f"PR-{record.id}" in html
    assert (f'action="/promotions/{record.id}/approve"' in html) is shown
    assert (f'formaction="/promotions/{record.id}/reject"' in html) is shown
    if why is not None:
        assert why in html


def test_approving_needs_the_form_token(site: Served) -> None:
    browser_support.commit_base_change(site.root)
    record = browser_support.open_promotion(site.root, "ed@example.com")
    url = f"/promotions/{record.id}/approve"
    headers = signed_in(site, "approver")
    for data in (
        {},
        {"csrf": "0" * 64},
        {"csrf": rendering.csrf_token(site.token["viewer"], f"decide:{record.id}")},
    ):
        response = site.client.post(url, data=data, headers=headers)
        assert response.status_code == 403
        assert "This form is stale or did not come from this dashboard." in response.text
    assert status_of(site.root, record.id) == "testing"

    csrf = csrf_of(page(site, "/promotions", "approver").text, record.id)
    cross_site = site.client.post(
        url, data={"csrf": csrf}, headers={**headers, "Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    assert status_of(site.root, record.id) == "testing"

    response = site.client.post(url, data={"csrf": csrf, "comment": "looks good"}, headers=headers)
    assert response.status_code == 303
    assert response.headers["location"] == f"/promotions?decided={record.id}#PR-{record.id}"
    assert status_of(site.root, record.id) == "approved"
    done = page(site, response.headers["location"], "approver").text
    assert f"Your approval of PR-{record.id} is recorded; it is now approved." in done
    assert "looks good" in done


def test_a_forged_button_is_still_refused_by_the_rules(site: Served) -> None:
    # the requester never sees the button; a hand-made form with a valid CSRF token still fails
    browser_support.commit_base_change(site.root)
    record = browser_support.open_promotion(site.root, "root@example.com")
    csrf = rendering.csrf_token(site.token["admin"], f"decide:{record.id}")
    response = site.client.post(
        f"/promotions/{record.id}/reject", data={"csrf": csrf}, headers=signed_in(site, "admin")
    )
    assert response.status_code == 403
    assert f"root@example.com requested PR-{record.id} and cannot decide on it" in response.text
    assert status_of(site.root, record.id) == "testing"


def test_rejecting_closes_the_request(site: Served) -> None:
    browser_support.commit_base_change(site.root)
    record = browser_support.open_promotion(site.root, "ed@example.com")
    csrf = csrf_of(page(site, "/promotions", "admin").text, record.id)
    response = site.client.post(
        f"/promotions/{record.id}/reject",
        data={"csrf": csrf, "comment": "not now"},
        headers=signed_in(site, "admin"),
    )
    assert response.status_code == 303
    assert status_of(site.root, record.id) == "rejected"
    assert "Your rejection of" in page(site, response.headers["location"], "admin").text


def test_history_and_audit_show_the_promotion(site: Served) -> None:
    browser_support.commit_base_change(site.root)
    record = browser_support.open_promotion(site.root, "ed@example.com")
    history = page(site, "/history/production").text
    assert f"PR-{record.id}" in history and "longer answers for billing questions" in history
    audit = page(site, "/audit").text
    assert "promotion.request" in audit and "Chain intact" in audit


def test_static_files_are_served_and_nothing_else(site: Served) -> None:
    css = site.client.get("/static/lamina.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert site.client.get("/static/lamina.js").status_code == 200
    assert site.client.get("/static/..%2Fdashboard.py").status_code == 404
    assert site.client.get("/static/tokens.py").status_code == 404
