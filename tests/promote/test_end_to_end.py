"""A base change flows development -> staging -> production and production-eu, by the real command."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Ran, run_lamina
from conftest import commit_all, git

MARKER = "Always greet the customer by name."


def lamina(root: Path, *args: str, user: str = "alice") -> Ran:
    return run_lamina("--repo", root, "--as", user, *args)


def promote(root: Path, source: str, target: str, approvers: tuple[str, ...] = ("bob",)) -> dict[str, object]:
    created = lamina(root, "promote", "request", source, target, "--reason", f"{source} is good", "--json")
    assert created.returncode == 0, created.stdout + created.stderr
    shown = json.loads(created.stdout)
    assert shown["status"] == "testing"
    for person in approvers:
        approved = lamina(root, "promote", "approve", shown["id"], user=person)
        assert approved.returncode == 0, approved.stderr
    applied = lamina(root, "promote", "apply", shown["id"], "--json", user="ops")
    assert applied.returncode == 0, applied.stderr
    result: dict[str, object] = json.loads(applied.stdout)
    assert result["status"] == "promoted"
    return result


def has_change(root: Path, environment: str) -> bool:
    built = lamina(root, "build", environment, "--format", "json")
    assert built.returncode == 0, built.stderr
    return MARKER in built.stdout


def test_a_base_change_reaches_each_environment_only_by_promotion(fleet: Path) -> None:
    add = "\n[promotion]\nrequired_approvals = { production = 2 }\n"
    (fleet / "lamina.toml").write_text((fleet / "lamina.toml").read_text() + add)
    before = commit_all(fleet, "two approvals for production")
    promote(fleet, "development", "staging")
    promote(fleet, "staging", "production", ("bob", "carol"))
    promote(fleet, "staging", "production-eu")
    everywhere = ("development", "staging", "production", "production-eu")

    prompt = fleet / "base/prompts/system_prompt.txt"
    prompt.write_text(prompt.read_text() + MARKER + "\n")
    changed = commit_all(fleet, "base: greet by name")
    assert [has_change(fleet, env) for env in everywhere] == [True, False, False, False]

    shown = promote(fleet, "development", "staging")
    assert shown["revision"] == changed
    assert [has_change(fleet, env) for env in everywhere] == [True, True, False, False]
    promote(fleet, "staging", "production", ("bob", "carol"))
    assert [has_change(fleet, env) for env in everywhere] == [True, True, True, False]
    promote(fleet, "staging", "production-eu")
    assert [has_change(fleet, env) for env in everywhere] == [True, True, True, True]

    wrong = lamina(fleet, "promote", "request", "development", "production")
    assert wrong.returncode == 2  # a refused action is bad input (SPEC section 9)
    assert wrong.stderr.startswith(
        "error: lamina.toml: production is promoted from staging, not from development"
    )

    back = lamina(
        fleet, "rollback", "staging", "--to", before, "--reason", "greeting confuses people", "--json"
    )
    assert back.returncode == 0, back.stderr
    request = json.loads(back.stdout)
    assert set(request) >= {"id", "source", "target", "revision", "status", "emergency", "requested_by",
                            "approvals", "config_hashes", "gates"}  # fmt: skip
    assert request["revision"] == before and request["source"] is None
    assert lamina(fleet, "promote", "approve", request["id"], user="bob").returncode == 0
    assert lamina(fleet, "promote", "apply", request["id"], user="ops").returncode == 0
    assert [has_change(fleet, env) for env in everywhere] == [True, False, True, True]

    history = lamina(fleet, "history", "staging", "--json")
    rows = json.loads(history.stdout)
    assert {row["kind"] for row in rows} == {"pin", "promotion", "rollback"}
    assert all(
        set(row) == {"time", "kind", "environment", "revision", "actor", "request", "detail"} for row in rows
    )
    stats = json.loads(lamina(fleet, "history", "--stats", "--json").stdout)
    assert stats["change_failure_rate"]["failures"] == 1
    assert stats["deployment_frequency"]["staging"]["promotions"] == 3
    assert lamina(fleet, "audit", "--verify").returncode == 0
    assert git(fleet, "status", "--porcelain") == ""
