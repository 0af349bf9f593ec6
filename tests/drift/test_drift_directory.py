"""Drift and heal on the example fleet's directory clusters (folders instead of API servers)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Ran
from clusters.conftest import run_cli


def _run(root: Path, *args: str) -> Ran:
    return run_cli(root, root / "no-kubeconfig", *args)


def test_directory_cluster_apply_edit_drift_heal(example_repo: Path) -> None:
    code, out, err = _run(example_repo, "apply", "production", "--json")
    assert code == 0, err
    assert {r["result"] for r in json.loads(out)} == {"applied"}
    assert {r["result"] for r in json.loads(_run(example_repo, "apply", "production", "--json")[1])} == {
        "unchanged"
    }
    code, out, _ = _run(example_repo, "drift", "production", "--json")
    assert code == 0
    assert {r["status"] for r in json.loads(out)} == {"in-sync"}

    config = example_repo / "out" / "prod-us-1" / "agent-config.json"
    edited = json.loads(config.read_text())
    edited["guardrails"]["max_tool_calls"] = 99
    config.write_text(json.dumps(edited, indent=2))
    code, out, _ = _run(example_repo, "drift", "production", "--json")
    rows = {r["cluster"]: r for r in json.loads(out)}
    assert code == 1
    assert rows["prod-us-1"]["status"] == "drifted"
    assert [f["path"] for f in rows["prod-us-1"]["fields"]] == ["guardrails.max_tool_calls"]
    assert rows["prod-us-1"]["fields"][0]["actual"] == 99
    assert rows["prod-us-2"]["status"] == "in-sync"

    code, out, _ = _run(example_repo, "drift", "production", "--heal", "--json")
    rows = {r["cluster"]: r for r in json.loads(out)}
    assert code == 0
    assert rows["prod-us-1"]["status"] == "in-sync"
    assert rows["prod-us-1"]["healed"]["result"] == "applied"
    assert "healed" not in rows["prod-us-2"]
    assert json.loads(config.read_text())["guardrails"]["max_tool_calls"] != 99


def test_directory_cluster_missing_and_out_of_sync(example_repo: Path) -> None:
    code, out, _ = _run(example_repo, "drift", "development", "--json")
    assert code == 1
    assert json.loads(out)[0]["status"] == "missing"
    assert _run(example_repo, "apply", "development")[0] == 0
    overlay = example_repo / "overlays" / "development" / "agent-patch.toml"
    overlay.write_text(overlay.read_text() + '\n[extra]\nnote = "new"   # trying something\n')
    code, out, _ = _run(example_repo, "drift", "development", "--json")
    row = json.loads(out)[0]
    assert row["status"] == "out-of-sync"
    assert row["fields"] == [{"path": "extra", "status": "out-of-sync", "expected": {"note": "new"}}]
