"""The API over promotions, history and drift: roles, rules and shapes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import commit_all

from .conftest import Served


def change_base(root: Path) -> None:
    prompt = root / "base" / "prompts" / "system_prompt.txt"
    prompt.write_text(prompt.read_text() + "Always greet the customer by name.\n")
    commit_all(root, "base: greet by name")


def test_a_promotion_through_the_api(served: Served) -> None:
    change_base(served.root)
    body = {"source": "development", "target": "staging", "reason": "greet by name"}
    assert served.post("/api/v1/promotions", "viewer", json=body).status_code == 403
    created = served.post("/api/v1/promotions", "editor", json=body)
    assert created.status_code == 201, created.text
    record = created.json()
    assert set(record) >= {
        "id",
        "source",
        "target",
        "revision",
        "status",
        "emergency",
        "requested_by",
        "approvals",
        "config_hashes",
        "gates",
    }
    assert record["status"] == "testing" and record["requested_by"] == "ed@example.com"
    pr = record["id"]
    # approver:production may not decide on staging; the requester may not approve their own
    assert served.post(f"/api/v1/promotions/{pr}/approve", "approver").status_code == 403
    assert served.post(f"/api/v1/promotions/{pr}/approve", "editor").status_code == 403
    assert served.post(f"/api/v1/promotions/{pr}/apply", "admin").status_code == 403  # not approved yet
    approved = served.post(f"/api/v1/promotions/{pr}/approve", "admin", json={"comment": "ok"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    applied = served.post(f"/api/v1/promotions/{pr}/apply", "admin")
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "promoted"
    listed = served.get("/api/v1/promotions").json()
    assert [item["id"] for item in listed] == [pr]
    history = served.get("/api/v1/history/staging").json()
    assert history[0]["kind"] in ("promotion", "pin")
    assert {"time", "kind", "environment", "revision", "actor", "request", "detail"} <= set(history[0])
    assert served.get("/api/v1/audit/verify").json()["ok"] is True


def test_wrong_path_is_refused(served: Served) -> None:
    change_base(served.root)
    response = served.post(
        "/api/v1/promotions", "editor", json={"source": "development", "target": "production"}
    )
    assert response.status_code == 403
    assert "production is promoted from staging" in response.json()["detail"]


def test_drift_run_and_results(served: Served) -> None:
    assert served.get("/api/v1/drift").json() == []
    assert served.post("/api/v1/drift/run", "viewer").status_code == 403
    ran = served.post("/api/v1/drift/run", "editor")
    assert ran.status_code == 200, ran.text
    statuses = {item["cluster"]: item["status"] for item in ran.json()}
    assert statuses == dict.fromkeys(
        ["local-dev", "staging-us-1", "prod-us-1", "prod-us-2", "prod-eu-1"], "missing"
    )
    stored = served.get("/api/v1/drift").json()
    assert {item["cluster"] for item in stored} == set(statuses)
    for item in stored:
        assert {"environment", "cluster", "status", "expected_hash", "actual_hash", "fields"} <= set(item)


def test_unknown_request_is_404(served: Served) -> None:
    assert served.get("/api/v1/promotions/PR-99").status_code == 404


def test_bodies_are_validated(served: Served) -> None:
    response = served.client.post(
        "/api/v1/promotions",
        content=json.dumps({"source": "x" * 100, "target": "staging"}),
        headers={"Authorization": f"Bearer {served.token['editor']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
