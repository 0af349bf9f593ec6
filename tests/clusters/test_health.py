"""``lamina clusters`` shows real health for API clusters."""

from __future__ import annotations

import json

from clusters.conftest import ApiFleet


def test_clusters_health(api_fleet: ApiFleet) -> None:
    api_fleet.k8s.emulators["prod-2"].namespaces.clear()
    api_fleet.k8s.add_unreachable("stage-1")
    code, out, _ = api_fleet.run("clusters", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["prod-1"]["checks"]["reachable"] is True
    assert rows["prod-1"]["checks"]["version"] == "v1.31.0-kmock"
    assert rows["prod-1"]["checks"]["namespace_present"] is True
    assert rows["prod-1"]["health"].startswith("ok v1.31.0-kmock, ")
    assert rows["prod-2"]["checks"]["namespace_present"] is False
    assert rows["prod-2"]["health"].startswith("namespace missing")
    assert rows["stage-1"]["checks"]["reachable"] is False
    assert rows["stage-1"]["health"] == "unreachable: connection refused"
