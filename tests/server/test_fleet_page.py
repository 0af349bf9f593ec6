"""The fleet page: filters by environment, drift status and label, a search of cluster names,
and paging; built once and served again until the repository or the recorded state changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import commit_all, git
from lamina.server import auth, tokens
from lamina.server.app import create_app
from lamina.server.pages import fleet, rendering
from lamina.server.settings import ServerSettings
from lamina.store import drift
from lamina.store.database import Database

from . import browser_support
from .conftest import Served, running


@pytest.fixture
def site(example_repo: Path) -> Iterator[Served]:
    browser_support.commit_base_change(example_repo)
    browser_support.seed_fleet_state(example_repo)
    with browser_support.serve_dashboard(example_repo) as served:
        yield served


def clusters_on(site: Served, query: str) -> list[str]:
    response = site.client.get(f"/{query}", headers={"Cookie": f"{auth.COOKIE}={site.token['viewer']}"})
    assert response.status_code == 200, response.text
    return re.findall(r'class="cell-name" href="/targets/[\w-]+/([\w-]+)"', response.text)


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        pytest.param("", ["local-dev", "staging-us-1", "prod-us-1", "prod-us-2", "prod-eu-1"], id="all"),
        pytest.param("?env=staging", ["staging-us-1"], id="environment"),
        pytest.param("?status=drifted", ["prod-us-2"], id="status"),
        pytest.param("?status=unchecked", ["prod-eu-1"], id="status-unchecked"),
        pytest.param("?label=region%3Deu-west-1", ["prod-eu-1"], id="label"),
        pytest.param("?q=PROD-US", ["prod-us-1", "prod-us-2"], id="search"),
        pytest.param("?env=production&q=2", ["prod-us-2"], id="environment-and-search"),
        pytest.param("?q=nothing-like-this", [], id="no-match"),
    ],
)
def test_filters(site: Served, query: str, shown: list[str]) -> None:
    assert clusters_on(site, query) == shown


def test_paging(site: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet, "PAGE_SIZE", 2)
    assert clusters_on(site, "?page=1") == ["local-dev", "staging-us-1"]
    assert clusters_on(site, "?page=2") == ["prod-us-1", "prod-us-2"]
    assert clusters_on(site, "?page=3") == ["prod-eu-1"]
    assert clusters_on(site, "?page=9") == ["prod-eu-1"]  # past the end: the last page
    html = site.client.get(
        "/?q=prod&page=2", headers={"Cookie": f"{auth.COOKIE}={site.token['viewer']}"}
    ).text
    assert 'href="/?q=prod&amp;page=1"' in html and "Page 2 of 2" in html


def test_the_page_follows_recorded_state(site: Served) -> None:
    assert clusters_on(site, "?status=missing") == []
    admin = {"Authorization": f"Bearer {site.token['admin']}"}
    assert (
        site.client.post("/api/v1/drift/run", json={"targets": ["production-eu"]}, headers=admin).status_code
        == 200
    )
    assert clusters_on(site, "?status=missing") == ["prod-eu-1"]


@pytest.mark.parametrize("query", ["?env=..%2Fetc", "?page=0", "?q=" + "x" * 101])
def test_bad_filters_are_refused(site: Served, query: str) -> None:
    response = site.client.get(f"/{query}", headers={"Cookie": f"{auth.COOKIE}={site.token['viewer']}"})
    assert response.status_code in (400, 422)


def page_of(site: Served, role: str, query: str = "") -> str:
    response = site.client.get(f"/{query}", headers={"Cookie": f"{auth.COOKIE}={site.token[role]}"})
    assert response.status_code == 200, response.text
    return response.text


def form_tokens(html: str, action: str) -> set[str]:
    """The CSRF tokens of the forms posting to /actions/ACTION."""
    forms = re.findall(rf'<form[^>]*action="/actions/{action}">(.*?)</form>', html, re.S)
    return {token for form in forms for token in re.findall(r'name="csrf" value="([^"]*)"', form)}


def test_each_session_gets_its_own_form_tokens_from_the_kept_page(site: Served) -> None:
    path = site.root / ".lamina" / "tokens.toml"
    site.token["second-admin"] = tokens.create(path, "sam@example.com", ["admin"])
    pages = {role: page_of(site, role) for role in ("admin", "second-admin", "admin", "viewer")}
    for role in ("admin", "second-admin"):
        html = pages[role]
        assert form_tokens(html, "drift") == {rendering.csrf_token(site.token[role], "drift")}
        assert form_tokens(html, "apply") == {rendering.csrf_token(site.token[role], "ship")}
        assert form_tokens(html, "heal") == {rendering.csrf_token(site.token[role], "ship")}
    assert form_tokens(pages["admin"], "apply").isdisjoint(form_tokens(pages["second-admin"], "apply"))
    viewer = pages["viewer"]
    assert "/actions/" not in viewer and 'name="csrf"' in viewer  # only the sign-out form's
    for html in pages.values():
        assert fleet._MARKER not in html


def test_what_another_process_records_shows_at_once(site: Served) -> None:
    before = page_of(site, "viewer", "?status=unreachable")
    assert "No cluster matches these filters." in before and "open promotion" not in before
    database = Database.for_repository(site.root, None)
    try:
        database.run(
            lambda session: drift.save(
                session,
                [drift.DriftRecord("prod-eu-1", "production", "unreachable", None, None, [], "refused")],
                datetime.now(UTC),
            )
        )
    finally:
        database.dispose()
    assert clusters_on(site, "?status=unreachable") == ["prod-eu-1"]
    browser_support.open_promotion(site.root, "ed@example.com")
    assert "1 open promotion" in page_of(site, "viewer")


def test_relative_times_move_on_without_a_change_of_state(example_repo: Path) -> None:
    browser_support.seed_fleet_state(example_repo)  # checked 4 min ago, applied 3 h ago
    now = [datetime.now(UTC)]
    path = example_repo / ".lamina" / "tokens.toml"
    token = tokens.create(path, "vera@example.com", ["viewer"])
    app = create_app(
        ServerSettings(repo_root=example_repo, tokens_file=path, rollout_interval=0), clock=lambda: now[0]
    )
    with running(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        cookie = {"Cookie": f"{auth.COOKIE}={token}"}
        first = client.get("/?q=prod-us-1", headers=cookie).text
        assert ">4 min ago</time>" in first and ">3 h ago</time>" in first
        assert client.get("/?q=prod-us-1", headers=cookie).text.count("4 min ago") == 1
        now[0] += timedelta(hours=2)
        with fleet._RENDERING:  # another request is rendering: the same state's text is served meanwhile
            meanwhile = client.get("/?q=prod-us-1", headers=cookie).text
        assert ">4 min ago</time>" in meanwhile
        later = client.get("/?q=prod-us-1", headers=cookie).text
        assert ">2 h ago</time>" in later and ">5 h ago</time>" in later and "4 min ago" not in later


def test_the_footer_names_a_new_commit_at_once(site: Served) -> None:
    def served() -> str:
        found = re.search(r'<code class="revision">(\w+)</code>', page_of(site, "viewer"))
        assert found is not None
        return found.group(1)

    first = served()
    assert first == git(site.root, "rev-parse", "HEAD")[:12]
    (site.root / "NOTES.md").write_text("a note\n")
    second = commit_all(site.root, "a note")
    assert served() == second[:12] != first


@pytest.mark.parametrize(
    ("age", "changes_after"),
    [
        pytest.param(timedelta(seconds=-5), timedelta(seconds=10), id="future-just-now"),
        pytest.param(timedelta(seconds=3), timedelta(seconds=10), id="just-now"),
        pytest.param(timedelta(seconds=42.5), timedelta(seconds=43), id="seconds"),
        pytest.param(timedelta(minutes=4, seconds=10), timedelta(minutes=5), id="minutes"),
        pytest.param(timedelta(hours=3, minutes=1), timedelta(hours=4), id="hours"),
        pytest.param(timedelta(days=2, hours=23), timedelta(days=3), id="days"),
    ],
)
def test_a_relative_time_says_when_it_next_changes(age: timedelta, changes_after: timedelta) -> None:
    moment = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    now = moment + age
    changes = rendering.ago_changes(moment, now)
    assert changes == moment + changes_after
    shown = rendering.ago(moment, now)
    assert rendering.ago(moment, changes - timedelta(microseconds=1)) == shown
    assert rendering.ago(moment, changes) != shown
