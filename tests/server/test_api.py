"""The REST API: authentication, roles, shapes that match the CLI's --json, and limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run_lamina

from .conftest import Served

READ_ENDPOINTS = [
    "/api/v1/environments",
    "/api/v1/clusters",
    "/api/v1/clusters?selector=region%3Deu-west-1",
    "/api/v1/targets/production/config",
    "/api/v1/targets/production-eu/prod-eu-1/config",
    "/api/v1/targets/production-eu/prod-eu-1/explain?key=agent.model",
    "/api/v1/diff?a=staging&b=production",
    "/api/v1/validate",
    "/api/v1/plan",
    "/api/v1/audit",
    "/api/v1/audit/verify",
]


def cli_json(root: Path, *args: str) -> object:
    done = run_lamina("--repo", root, *args, "--json")
    return json.loads(done.stdout)


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_no_token_no_data(served: Served, path: str) -> None:
    response = served.client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_a_wrong_token_is_refused(served: Served, path: str) -> None:
    response = served.client.get(path, headers={"Authorization": "Bearer lam_not-a-real-token"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_role_may_read(served: Served, path: str) -> None:
    for role in served.token:
        response = served.get(path, role)
        assert response.status_code == 200, (role, response.text)


def test_shapes_match_the_cli(served: Served) -> None:
    assert served.get("/api/v1/environments").json() == cli_json(served.root, "envs")
    api_diff = served.get("/api/v1/diff?a=staging&b=production").json()
    assert api_diff == cli_json(served.root, "diff", "staging", "production")
    explain = served.get("/api/v1/targets/production-eu/prod-eu-1/explain?key=agent.model").json()
    assert explain == cli_json(served.root, "explain", "production-eu/prod-eu-1", "agent.model")


def test_config_holds_secret_references_only(served: Served) -> None:
    body = served.get("/api/v1/targets/production-eu/prod-eu-1/config").json()
    assert body["config"]["agent"]["api_key"] == {"secret": "openai/api-key"}
    assert len(body["config_hash"]) == 64


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/targets/..%2F..%2Fetc/config",
        "/api/v1/targets/Production/config",
        "/api/v1/diff?a=..%2Fx&b=staging",
    ],
)
def test_path_parameters_never_reach_the_file_system(served: Served, path: str) -> None:
    response = served.get(path)
    assert response.status_code in (400, 404)


def test_unknown_environment_is_404(served: Served) -> None:
    response = served.get("/api/v1/targets/qa/config")
    assert response.status_code == 404
    assert "unknown environment 'qa'" in response.json()["detail"]


def test_health_and_metrics_need_no_token_and_carry_no_config(served: Served) -> None:
    assert served.client.get("/healthz").json() == {"status": "ok"}
    assert served.client.get("/readyz").status_code == 200
    metrics = served.client.get("/metrics")
    assert metrics.status_code == 200
    assert "lamina_http_request_duration_seconds" in metrics.text
    assert "gpt-4o" not in metrics.text


def test_large_bodies_are_refused(served: Served) -> None:
    response = served.client.post(
        "/api/v1/environments",
        content=b"x" * 2_000_000,
        headers={"Authorization": f"Bearer {served.token['admin']}"},
    )
    assert response.status_code == 413


def test_openapi_document_lists_the_api(served: Served) -> None:
    spec = served.client.get("/openapi.json").json()
    assert "/api/v1/environments" in spec["paths"]
    assert "/api/v1/targets/{environment}/{cluster}/config" in spec["paths"]


def test_token_create_prints_once_and_stores_only_the_hash(example_repo: Path) -> None:
    done = run_lamina(
        "--repo", example_repo, "token", "create", "ana@example.com", "--role", "approver:production"
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("lam_")
    stored = (example_repo / ".lamina" / "tokens.toml").read_text()
    assert token not in stored
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert oct((example_repo / ".lamina" / "tokens.toml").stat().st_mode & 0o777) == "0o600"
