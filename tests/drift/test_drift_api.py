"""Drift on API clusters: hand edits, git moving on, ignore rules, heal and adopt."""

from __future__ import annotations

import json
import re

from clusters.conftest import ApiFleet
from conftest import commit_all
from k8s_support import CONFIGMAPS


def _live(fleet: ApiFleet, cluster: str) -> tuple[str, dict[str, str]]:
    items = fleet.k8s.objects(cluster, CONFIGMAPS)
    assert len(items) == 1
    name, body = next(iter(items.items()))
    return name, dict(body["data"])  # type: ignore[arg-type]


def _edit_config(fleet: ApiFleet, cluster: str, change: dict[str, object]) -> None:
    name, data = _live(fleet, cluster)
    config = json.loads(data["agent-config.json"])
    for dotted, value in change.items():
        node = config
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    fleet.k8s.hand_edit(cluster, name, {"agent-config.json": json.dumps(config, indent=2)})


def _drift(fleet: ApiFleet, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    code, out, err = fleet.run("drift", *args, "--json")
    assert err == ""
    return code, {row["cluster"]: row for row in json.loads(out)}


def test_in_sync_after_apply_and_missing_before(api_fleet: ApiFleet) -> None:
    code, rows = _drift(api_fleet, "production")
    assert code == 1
    assert {r["status"] for r in rows.values()} == {"missing"}
    assert api_fleet.run("apply", "production")[0] == 0
    code, rows = _drift(api_fleet, "production")
    assert code == 0
    assert {r["status"] for r in rows.values()} == {"in-sync"}
    assert rows["prod-1"]["fields"] == []


def test_hand_edit_is_drift_with_fields_who_and_since(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production")[0] == 0
    _edit_config(api_fleet, "prod-1", {"agent.model": "gpt-3.5"})
    code, rows = _drift(api_fleet, "production")
    assert code == 1
    row = rows["prod-1"]
    assert row["status"] == "drifted"
    assert row["fields"] == [
        {"path": "agent.model", "status": "drifted", "expected": "gpt-4o", "actual": "gpt-3.5"}
    ]
    assert row["changed_by"] == "kubectl-edit"
    assert row["expected_hash"] != row["actual_hash"]
    first_since = row["since"]
    assert rows["prod-2"]["status"] == "in-sync"
    _, rows = _drift(api_fleet, "production")
    assert rows["prod-1"]["since"] == first_since  # first seen, not last seen
    code, out, _ = api_fleet.run("drift", "production")
    assert 'agent.model: git "gpt-4o", live "gpt-3.5"' in out


def test_prompt_edit_shows_unified_diff(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production/prod-1")[0] == 0
    _edit_config(api_fleet, "prod-1", {"agent.system_prompt": "You are a helpful agent.\nBe verbose.\n"})
    _, rows = _drift(api_fleet, "production")
    field = rows["prod-1"]["fields"][0]  # type: ignore[index]
    assert field["path"] == "agent.system_prompt"
    assert "-Be brief." in field["diff"] and "+Be verbose." in field["diff"]


def test_ignored_paths_may_differ(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production")[0] == 0
    _edit_config(api_fleet, "prod-1", {"feature_flags.streaming": False})
    code, rows = _drift(api_fleet, "production")
    assert code == 0
    assert rows["prod-1"]["status"] == "in-sync"
    assert rows["prod-1"]["ignored"] == ["feature_flags.streaming"]
    _, rows = _drift(api_fleet, "production", "--heal")
    assert api_fleet.k8s.objects("prod-1", CONFIGMAPS)  # not healed away
    assert "healed" not in rows["prod-1"]


def test_git_moving_on_is_out_of_sync_and_heal_fixes_only_what_differs(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "staging", "production")[0] == 0
    overlay = api_fleet.root / "overlays" / "production" / "agent.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text('[agent]\nmodel = "gpt-4.1"   # better tool use\n')
    commit_all(api_fleet.root, "prod model")
    _edit_config(api_fleet, "stage-1", {"agent.temperature": 0.9})
    code, rows = _drift(api_fleet)
    assert code == 1
    assert rows["prod-1"]["status"] == "out-of-sync"
    assert rows["prod-2"]["status"] == "out-of-sync"
    assert rows["stage-1"]["status"] == "drifted"
    code, rows = _drift(api_fleet, "--heal")
    assert code == 0
    assert {r["status"] for r in rows.values()} == {"in-sync"}
    assert {c for c, r in rows.items() if "healed" in r} == {"stage-1", "prod-1", "prod-2"}
    code, rows = _drift(api_fleet, "--heal")
    assert not any("healed" in r for r in rows.values())


def test_same_drift_is_grouped_fleet_wide(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production")[0] == 0
    for cluster in ("prod-1", "prod-2"):
        _edit_config(api_fleet, cluster, {"agent.model": "gpt-3.5"})
    _, rows = _drift(api_fleet)
    assert rows["prod-1"]["drift_group"] == rows["prod-2"]["drift_group"] is not None
    _, out, _ = api_fleet.run("drift")
    assert "same drift on 2 clusters (production/prod-1, production/prod-2): agent.model" in out


def test_adopt_writes_override_with_reason_then_apply_is_in_sync(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production")[0] == 0
    _edit_config(api_fleet, "prod-2", {"agent.model": "gpt-4o-mini"})
    code, out, err = api_fleet.run(
        "drift", "--adopt", "production/prod-2", "--reason", "INC-42 cheaper model during outage", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["file"] == "clusters/prod-2.toml"
    text = (api_fleet.root / "clusters" / "prod-2.toml").read_text()
    assert "temperature = 0.1   # us traffic prefers steadier answers" in text
    assert re.search(r'model = "gpt-4o-mini" # adopted from the live cluster: INC-42 cheaper model', text)
    code, out, _ = api_fleet.run("explain", "production/prod-2", "agent.model", "--json")
    assert json.loads(out)["layers"][-1]["reason"].endswith("INC-42 cheaper model during outage")
    code, rows = _drift(api_fleet, "production")
    assert rows["prod-2"]["status"] == "out-of-sync" and rows["prod-2"]["fields"] == []
    commit_all(api_fleet.root, "adopt")
    assert api_fleet.run("apply", "production")[0] == 0
    code, rows = _drift(api_fleet, "production")
    assert code == 0


def test_adopt_refuses_without_drift_or_reason(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production")[0] == 0
    code, _, err = api_fleet.run("drift", "--adopt", "production/prod-1", "--reason", "x")
    assert code == 1 and "in-sync: there is no drift to adopt" in err
    code, _, err = api_fleet.run("drift", "--adopt", "production/prod-1")
    assert code == 2 and "--adopt needs --reason" in err


def test_suspended_cluster_is_left_out(api_fleet: ApiFleet) -> None:
    toml = api_fleet.root / "lamina.toml"
    toml.write_text(toml.read_text().replace('context = "prod-2"', 'context = "prod-2"\nsuspended = true'))
    commit_all(api_fleet.root, "suspend")
    code, out, _ = api_fleet.run("apply", "production", "--json")
    assert {r["cluster"]: r["result"] for r in json.loads(out)}["prod-2"] == "suspended"
    assert api_fleet.k8s.objects("prod-2", CONFIGMAPS) == {}
    code, rows = _drift(api_fleet, "production")
    assert code == 0
    assert rows["prod-2"]["status"] == "suspended"


def test_adopt_keeps_a_crlf_cluster_file_crlf(api_fleet: ApiFleet) -> None:
    path = api_fleet.root / "clusters" / "prod-2.toml"
    original = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    path.write_bytes(original)
    commit_all(api_fleet.root, "cluster file with CRLF endings")
    assert api_fleet.run("apply", "production")[0] == 0
    _edit_config(api_fleet, "prod-2", {"agent.model": "gpt-4o-mini"})
    code, _, err = api_fleet.run("drift", "--adopt", "production/prod-2", "--reason", "INC-43 outage")
    assert code == 0, err
    written = path.read_bytes()
    assert b"\n" not in written.replace(b"\r\n", b"")  # every line still ends in CRLF
    before, after = original.split(b"\r\n"), written.split(b"\r\n")
    assert len(after) == len(before) + 1  # one line added (the model override), nothing else moved
    assert [line for line in after if line not in before] == [
        b'model = "gpt-4o-mini" # adopted from the live cluster: INC-43 outage'
    ]
