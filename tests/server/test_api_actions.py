"""The API's actions beyond promotions: change and rollback requests, apply and heal, drift
checks, freezes. Each goes through the library's use case, so its roles, freezes,
self-approval and audit rows are the command line's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import commit_all, git

from .conftest import Served
from .test_api_state import change_base


def audit_actions(served: Served) -> list[str]:
    """The audit log's actions, oldest first."""
    return [row["action"] for row in reversed(served.get("/api/v1/audit?limit=1000").json())]


def promote(served: Served, source: str, target: str) -> dict[str, Any]:
    """Request, approve (admin) and apply a promotion; the applied request."""
    created = served.post("/api/v1/promotions", "editor", json={"source": source, "target": target})
    assert created.status_code == 201, created.text
    pr = created.json()["id"]
    assert served.post(f"/api/v1/promotions/{pr}/approve", "admin").status_code == 200
    applied = served.post(f"/api/v1/promotions/{pr}/apply", "admin")
    assert applied.status_code == 200, applied.text
    result: dict[str, Any] = applied.json()
    return result


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        pytest.param("viewer", "/api/v1/promotions/changes", {"environment": "staging"}, id="change-viewer"),
        pytest.param(
            "approver",
            "/api/v1/promotions/rollbacks",
            {"environment": "staging", "to": "HEAD"},
            id="rollback-approver",
        ),
        pytest.param("viewer", "/api/v1/apply", {"targets": ["staging"]}, id="apply-viewer"),
        pytest.param("approver", "/api/v1/apply", {"targets": ["production"]}, id="apply-approver"),
        pytest.param("viewer", "/api/v1/drift/heal", {"targets": ["staging"]}, id="heal-viewer"),
        pytest.param("viewer", "/api/v1/drift/run", {"targets": ["staging"]}, id="drift-viewer"),
    ],
)
def test_roles_refuse_and_leave_nothing(served: Served, role: str, path: str, body: dict[str, Any]) -> None:
    before = audit_actions(served)
    response = served.post(path, role, json=body)
    assert response.status_code == 403
    assert response.json() == {"detail": "this needs the editor or admin role"}
    assert audit_actions(served) == before
    assert not (served.root / "out").exists()


def test_change_request_through_the_api(served: Served) -> None:
    edited = served.root / "overlays" / "staging" / "agent-patch.toml"
    edited.write_text(edited.read_text().replace("max_tool_calls = 15", "max_tool_calls = 12"))
    commit_all(served.root, "staging: note")
    created = served.post(
        "/api/v1/promotions/changes", "editor", json={"environment": "staging", "reason": "tidy"}
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert (record["kind"], record["target"], record["requested_by"]) == (
        "change",
        "staging",
        "ed@example.com",
    )
    assert record["status"] == "testing"
    again = served.post("/api/v1/promotions/changes", "editor", json={"environment": "staging"})
    assert again.status_code == 403
    assert again.json()["detail"] == f"{record['id']} already requests these configs of staging"
    assert audit_actions(served)[-1].startswith("change.")


def test_rollback_request_and_self_approval(served: Served) -> None:
    before = git(served.root, "rev-parse", "HEAD")
    change_base(served.root)
    runs = promote(served, "development", "staging")["revision"]
    created = served.post(
        "/api/v1/promotions/rollbacks",
        "admin",
        json={"environment": "staging", "to": before, "reason": "bad"},
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert (record["kind"], record["revision"], record["status"]) == ("rollback", before, "testing")
    rows = len(audit_actions(served))
    own = served.post(f"/api/v1/promotions/{record['id']}/approve", "admin")
    assert own.status_code == 403
    assert own.json()["detail"] == (
        f"root@example.com requested {record['id']} and cannot decide on it; someone else must"
    )
    assert len(audit_actions(served)) == rows
    forward = served.post(
        "/api/v1/promotions/rollbacks", "editor", json={"environment": "staging", "to": "HEAD"}
    )
    assert forward.status_code == 400
    head = git(served.root, "rev-parse", "HEAD")
    assert forward.json()["detail"] == (
        f"HEAD ({head[:12]}) is not older than what staging runs ({runs[:12]}); "
        "a rollback goes back along history"
    )


def test_freeze_refuses_requests_and_shipments_until_lifted(served: Served) -> None:
    change_base(served.root)
    promote(served, "development", "staging")
    refused = served.client.put(
        "/api/v1/freezes/production",
        json={"until": "4h", "reason": "launch"},
        headers={"Authorization": f"Bearer {served.token['editor']}"},
    )
    assert refused.status_code == 403
    assert refused.json() == {"detail": "freezing production needs approver:production or admin"}
    frozen = served.client.put(
        "/api/v1/freezes/production",
        json={"until": "4h", "reason": "launch"},
        headers={"Authorization": f"Bearer {served.token['approver']}"},
    )
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["environment"] == "production" and frozen.json()["actor"] == "ana@example.com"
    assert [f["environment"] for f in served.get("/api/v1/freezes").json()] == ["production"]
    assert audit_actions(served)[-1] == "freeze"

    request = served.post("/api/v1/promotions", "editor", json={"source": "staging", "target": "production"})
    assert request.status_code == 403
    assert "production is frozen" in request.json()["detail"]
    ship = served.post("/api/v1/apply", "editor", json={"targets": ["production/prod-us-1"]})
    assert ship.status_code == 403
    assert "production is frozen" in ship.json()["detail"]
    assert audit_actions(served)[-1] == "apply.refused"
    assert not (served.root / "out" / "prod-us-1").exists()

    lifted = served.client.delete(
        "/api/v1/freezes/production", headers={"Authorization": f"Bearer {served.token['approver']}"}
    )
    assert lifted.json() == {"environment": "production", "unfrozen": True}
    assert audit_actions(served)[-1] == "unfreeze"
    assert served.get("/api/v1/freezes").json() == []
    assert (
        served.post(
            "/api/v1/promotions", "editor", json={"source": "staging", "target": "production"}
        ).status_code
        == 201
    )


def test_apply_drift_and_heal_through_the_api(served: Served) -> None:
    dirty = served.post("/api/v1/apply", "editor", json={"targets": ["production"]})
    assert dirty.status_code == 409
    assert dirty.json() == {
        "detail": "config files have uncommitted changes (lamina.toml); commit them, or pass --allow-dirty "
        "(recorded as such)"
    }
    commit_all(served.root, "drift: no scheduled checks")
    shipped = served.post("/api/v1/apply", "editor", json={"targets": ["production"]})
    assert shipped.status_code == 200, shipped.text
    assert {(o["cluster"], o["result"]) for o in shipped.json()["outcomes"]} == {
        ("prod-us-1", "applied"),
        ("prod-us-2", "applied"),
    }
    assert audit_actions(served)[-1].startswith("apply")
    config = served.root / "out" / "prod-us-1" / "agent-config.json"
    edited = json.loads(config.read_text())
    edited["guardrails"]["max_tool_calls"] = 99
    config.write_text(json.dumps(edited, indent=2))

    checked = served.post("/api/v1/drift/run", "editor", json={"targets": ["production"]})
    assert {r["cluster"]: r["status"] for r in checked.json()} == {
        "prod-us-1": "drifted",
        "prod-us-2": "in-sync",
    }
    healed = served.post("/api/v1/drift/heal", "editor", json={"targets": ["production"]})
    assert healed.status_code == 200, healed.text
    assert {c["cluster"]: c["status"] for c in healed.json()["clusters"]} == {
        "prod-us-1": "in-sync",
        "prod-us-2": "in-sync",
    }
    assert [(o["cluster"], o["result"]) for o in healed.json()["outcomes"]] == [("prod-us-1", "applied")]
    assert json.loads(config.read_text())["guardrails"]["max_tool_calls"] != 99
    assert served.get("/api/v1/audit/verify").json()["ok"] is True


def test_force_needs_admin(served: Served) -> None:
    commit_all(served.root, "drift: no scheduled checks")
    served.client.put(
        "/api/v1/freezes/staging",
        json={"until": "1h", "reason": "hold"},
        headers={"Authorization": f"Bearer {served.token['admin']}"},
    )
    forced = served.post("/api/v1/apply", "editor", json={"targets": ["staging"], "force": "hotfix"})
    assert forced.status_code == 403
    assert forced.json() == {"detail": "--force needs the admin role"}
    by_admin = served.post("/api/v1/apply", "admin", json={"targets": ["staging"], "force": "hotfix"})
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["overridden"] and "staging is frozen" in by_admin.json()["overridden"][0]


def test_names_are_checked(served: Served) -> None:
    response = served.post("/api/v1/apply", "editor", json={"targets": ["../etc"]})
    assert response.status_code == 400
    unknown = served.post("/api/v1/apply", "editor", json={"targets": ["nowhere"]})
    assert unknown.status_code == 404
    assert "nowhere" in unknown.json()["detail"]
    assert not Path(served.root / "out").exists()
