"""The server's routes, kept exactly as they were when the server was split into routers.

The lists below were captured from the application before that change (docs/design/
0002-server-routers.md); a route added or removed on purpose is added or removed here too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from lamina.server import auth, tokens
from lamina.server.app import create_app
from lamina.server.settings import ServerSettings

from . import browser_support
from .conftest import running
from .test_security_review import every_route

OPENAPI_OPERATIONS = {
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/clusters"),
    ("GET", "/api/v1/diff"),
    ("GET", "/api/v1/drift"),
    ("GET", "/api/v1/environments"),
    ("GET", "/api/v1/history/{environment}"),
    ("GET", "/api/v1/plan"),
    ("GET", "/api/v1/promotions"),
    ("GET", "/api/v1/promotions/{request_id}"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/targets/{environment}/config"),
    ("GET", "/api/v1/targets/{environment}/{cluster}/config"),
    ("GET", "/api/v1/targets/{environment}/{cluster}/explain"),
    ("GET", "/api/v1/validate"),
    ("POST", "/api/v1/drift/run"),
    ("POST", "/api/v1/drift/heal"),
    ("POST", "/api/v1/apply"),
    ("GET", "/api/v1/freezes"),
    ("PUT", "/api/v1/freezes/{environment}"),
    ("DELETE", "/api/v1/freezes/{environment}"),
    ("POST", "/api/v1/hooks/git"),
    ("GET", "/api/v1/rollouts"),
    ("GET", "/api/v1/rollouts/{rollout_id}"),
    ("POST", "/api/v1/rollouts/{rollout_id}/pause"),
    ("POST", "/api/v1/rollouts/{rollout_id}/resume"),
    ("POST", "/api/v1/rollouts/{rollout_id}/abort"),
    ("POST", "/api/v1/promotions"),
    ("POST", "/api/v1/promotions/changes"),
    ("POST", "/api/v1/promotions/rollbacks"),
    ("POST", "/api/v1/promotions/{request_id}/apply"),
    ("POST", "/api/v1/promotions/{request_id}/approve"),
    ("POST", "/api/v1/promotions/{request_id}/reject"),
}

# every route, in the order the application matches them
ROUTES = [
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/environments"),
    ("GET", "/api/v1/clusters"),
    ("GET", "/api/v1/targets/{environment}/config"),
    ("GET", "/api/v1/targets/{environment}/{cluster}/config"),
    ("GET", "/api/v1/targets/{environment}/{cluster}/explain"),
    ("GET", "/api/v1/diff"),
    ("GET", "/api/v1/validate"),
    ("GET", "/api/v1/plan"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/promotions"),
    ("GET", "/api/v1/promotions/{request_id}"),
    ("POST", "/api/v1/promotions"),
    ("POST", "/api/v1/promotions/changes"),
    ("POST", "/api/v1/promotions/rollbacks"),
    ("POST", "/api/v1/promotions/{request_id}/approve"),
    ("POST", "/api/v1/promotions/{request_id}/reject"),
    ("POST", "/api/v1/promotions/{request_id}/apply"),
    ("GET", "/api/v1/history/{environment}"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/drift"),
    ("POST", "/api/v1/drift/run"),
    ("POST", "/api/v1/drift/heal"),
    ("POST", "/api/v1/apply"),
    ("GET", "/api/v1/freezes"),
    ("PUT", "/api/v1/freezes/{environment}"),
    ("DELETE", "/api/v1/freezes/{environment}"),
    ("POST", "/api/v1/hooks/git"),
    ("GET", "/api/v1/rollouts"),
    ("GET", "/api/v1/rollouts/{rollout_id}"),
    ("POST", "/api/v1/rollouts/{rollout_id}/pause"),
    ("POST", "/api/v1/rollouts/{rollout_id}/resume"),
    ("POST", "/api/v1/rollouts/{rollout_id}/abort"),
    ("GET", "/static/{name}"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/logout"),
    ("POST", "/logout"),
    ("GET", "/"),
    ("GET", "/targets/{environment}/{cluster}"),
    ("GET", "/promotions"),
    ("POST", "/promotions/{request_id}/approve"),
    ("POST", "/promotions/{request_id}/reject"),
    ("GET", "/history"),
    ("GET", "/history/{environment}"),
    ("GET", "/rollouts"),
    ("GET", "/rollouts/{rollout_id}"),
    ("GET", "/audit"),
    ("POST", "/actions/promote"),
    ("POST", "/actions/change"),
    ("POST", "/actions/rollback"),
    ("POST", "/promotions/{request_id}/apply"),
    ("POST", "/actions/apply"),
    ("POST", "/actions/heal"),
    ("POST", "/actions/drift"),
    ("POST", "/actions/freeze"),
    ("POST", "/actions/unfreeze"),
    ("POST", "/rollouts/{rollout_id}/pause"),
    ("POST", "/rollouts/{rollout_id}/resume"),
    ("POST", "/rollouts/{rollout_id}/abort"),
    ("GET", "/events"),
]


def test_the_openapi_document_lists_the_same_operations(example_repo: Path) -> None:
    spec = create_app(ServerSettings(repo_root=example_repo, tokens_file=None)).openapi()
    operations = {(method.upper(), path) for path, methods in spec["paths"].items() for method in methods}
    assert operations == OPENAPI_OPERATIONS


def test_the_application_serves_the_same_routes_in_the_same_order(example_repo: Path) -> None:
    app = create_app(ServerSettings(repo_root=example_repo, tokens_file=None))
    assert every_route(app) == ROUTES


def test_the_pages_read_the_clock_the_application_was_given(example_repo: Path) -> None:
    browser_support.seed_fleet_state(example_repo)  # checked 4 min ago, applied 3 h ago
    now = datetime.now(UTC)
    later = (now + timedelta(days=2)).replace(microsecond=0)
    path = example_repo / ".lamina" / "tokens.toml"
    token = tokens.create(path, "vera@example.com", ["viewer"])
    app = create_app(ServerSettings(repo_root=example_repo, tokens_file=path), clock=lambda: later)
    with running(app) as port:
        html = httpx.get(
            f"http://127.0.0.1:{port}/", headers={"Cookie": f"{auth.COOKIE}={token}"}, timeout=30
        ).text
    assert f'page rendered <time datetime="{later:%Y-%m-%dT%H:%M:%SZ}">' in html
    checked = re.findall(r">(\d+ \w+ ago)</time>", html)
    assert checked and set(checked) == {"2 d ago"}
