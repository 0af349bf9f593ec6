"""The fleet page: filters by environment, drift status and label, a search of cluster names,
and paging; built once and served again until the repository or the recorded state changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.server import auth
from lamina.server.pages import fleet

from . import browser_support
from .conftest import Served


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
