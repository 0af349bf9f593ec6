"""``lamina apply`` against emulated clusters over real HTTP."""

from __future__ import annotations

import json
import re

from clusters.conftest import ApiFleet
from conftest import commit_all
from k8s_support import CONFIGMAPS, DEPLOYMENTS, Fault


def configmaps(fleet: ApiFleet, cluster: str) -> dict[str, dict[str, object]]:
    return fleet.k8s.objects(cluster, CONFIGMAPS)


def mounted(fleet: ApiFleet, cluster: str) -> str:
    body = fleet.k8s.objects(cluster, DEPLOYMENTS)["agent"]
    volumes = body["spec"]["template"]["spec"]["volumes"]  # type: ignore[index]
    return str(next(v for v in volumes if v["name"] == "agent-config")["configMap"]["name"])


def test_apply_creates_configmap_rolls_workload_and_records(api_fleet: ApiFleet) -> None:
    code, out, err = api_fleet.run("apply", "production", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["cluster"], r["result"]) for r in rows] == [("prod-1", "applied"), ("prod-2", "applied")]
    for row in rows:
        names = list(configmaps(api_fleet, row["cluster"]))
        assert names == [row["configmap"]]
        assert mounted(api_fleet, row["cluster"]) == row["configmap"]
        live = configmaps(api_fleet, row["cluster"])[row["configmap"]]
        assert live["metadata"]["labels"]["lamina.dev/cluster"] == row["cluster"]  # type: ignore[index]
        assert json.loads(live["data"]["agent-config.json"])["agent"]["model"] == "gpt-4o"  # type: ignore[index]
    assert configmaps(api_fleet, "stage-1") == {}
    code, out, _ = api_fleet.run("audit", "--json")
    assert code == 0
    assert [row["action"] for row in json.loads(out)].count("apply") == 2


def test_reapply_changes_nothing(api_fleet: ApiFleet) -> None:
    assert api_fleet.run("apply", "production")[0] == 0
    writes_before = sum(1 for _ in api_fleet.k8s.objects("prod-1", CONFIGMAPS))
    code, out, _ = api_fleet.run("apply", "production", "--json")
    assert code == 0
    assert {r["result"] for r in json.loads(out)} == {"unchanged"}
    assert {r["actions"] == [] for r in json.loads(out)} == {True}
    assert len(configmaps(api_fleet, "prod-1")) == writes_before


def test_dry_run_writes_nothing(api_fleet: ApiFleet) -> None:
    code, out, _ = api_fleet.run("apply", "production/prod-1", "--dry-run", "--json")
    assert code == 0
    row = json.loads(out)[0]
    assert row["result"] == "dry-run"
    assert any(a.startswith("would create ConfigMap") for a in row["actions"])
    assert any(a.startswith("would point deployment/agent") for a in row["actions"])
    assert configmaps(api_fleet, "prod-1") == {}
    assert mounted(api_fleet, "prod-1") == "none-yet"


def test_new_config_rolls_and_old_ones_are_pruned_to_keep(api_fleet: ApiFleet) -> None:
    # someone else's ConfigMap in the namespace must survive pruning
    api_fleet.k8s.put(
        "prod-1",
        CONFIGMAPS,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "ai-agents"}},
    )
    applied = []
    for step in range(7):
        agent = api_fleet.root / "base" / "agent.toml"
        agent.write_text(re.sub(r"temperature = [0-9.]+", f"temperature = 0.{step + 3}", agent.read_text()))
        commit_all(api_fleet.root, f"step {step}")
        code, out, err = api_fleet.run("apply", "production/prod-1", "--json")
        assert code == 0, err
        row = json.loads(out)[0]
        applied.append(row["configmap"])
        assert mounted(api_fleet, "prod-1") == row["configmap"]
    live = configmaps(api_fleet, "prod-1")
    assert "other" in live
    assert sorted(n for n in live if n != "other") == sorted(applied[-5:])


def test_dirty_repo_is_refused_unless_allowed(api_fleet: ApiFleet) -> None:
    agent = api_fleet.root / "base" / "agent.toml"
    agent.write_text(agent.read_text().replace('"gpt-4o"', '"gpt-4.1"'))
    code, _, err = api_fleet.run("apply", "production/prod-1")
    assert code == 1
    assert "uncommitted changes (base/agent.toml)" in err
    assert configmaps(api_fleet, "prod-1") == {}
    code, out, _ = api_fleet.run("apply", "production/prod-1", "--allow-dirty", "--json")
    assert code == 0 and json.loads(out)[0]["dirty"] is True
    code, out, _ = api_fleet.run("audit", "--json")
    assert json.loads(out)[0]["detail"]["dirty"] is True


def test_waves_go_in_order_and_halt_on_failure(api_fleet: ApiFleet) -> None:
    toml = api_fleet.root / "lamina.toml"
    toml.write_text(toml.read_text().replace("parallelism = 4", "parallelism = 4\nhalt_on_failure = true"))
    commit_all(api_fleet.root, "halt")
    api_fleet.k8s.emulators["prod-1"].faults.append(Fault(403))
    code, out, _ = api_fleet.run("apply", "production", "--json")
    rows = json.loads(out)
    assert code == 3
    assert [(r["cluster"], r["result"]) for r in rows] == [("prod-1", "failed"), ("prod-2", "skipped")]
    assert configmaps(api_fleet, "prod-2") == {}
