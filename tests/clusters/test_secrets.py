"""``lamina secrets check`` reads key names only; a canary value never surfaces anywhere."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3

import pytest

from clusters.conftest import CANARY, ApiFleet
from k8s_support import SECRETS


def _secret(name: str, keys: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ai-agents"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()},
    }


def test_present_and_missing(api_fleet: ApiFleet) -> None:
    api_fleet.k8s.put("prod-1", SECRETS, _secret("openai", {"api-key": CANARY}))
    api_fleet.k8s.put("prod-2", SECRETS, _secret("openai", {"other-key": CANARY}))
    code, out, _ = api_fleet.run("secrets", "check", "production", "--json")
    assert code == 1
    assert json.loads(out) == [
        {"cluster": "prod-1", "reference": "openai/api-key", "status": "present", "detail": ""},
        {"cluster": "prod-2", "reference": "openai/api-key", "status": "missing", "detail": ""},
    ]
    api_fleet.k8s.put("prod-2", SECRETS, _secret("openai", {"api-key": CANARY}))
    code, out, _ = api_fleet.run("secrets", "check", "production")
    assert code == 0
    assert "present" in out


def test_unreachable_cluster_fails_the_check(api_fleet: ApiFleet) -> None:
    api_fleet.k8s.put("prod-1", SECRETS, _secret("openai", {"api-key": CANARY}))
    api_fleet.k8s.add_unreachable("prod-2")
    code, out, _ = api_fleet.run("secrets", "check", "production", "--json")
    assert code == 1
    assert [row["status"] for row in json.loads(out)] == ["present", "unreachable"]


def test_canary_never_reaches_output_logs_database_or_audit(
    api_fleet: ApiFleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = base64.b64encode(CANARY.encode()).decode()
    for cluster in ("stage-1", "prod-1", "prod-2"):
        api_fleet.k8s.put(cluster, SECRETS, _secret("openai", {"api-key": CANARY}))
    seen = []
    for args in (
        ("secrets", "check", "production"),
        ("secrets", "check", "production", "--json"),
        ("apply", "staging", "production", "--json"),
        ("apply", "production"),
        ("drift", "--json"),
        ("drift", "--heal"),
        ("clusters", "--json"),
        ("audit", "--json"),
    ):
        _, out, err = api_fleet.run(*args)
        seen.append(out + err)
    seen.append(caplog.text)
    with sqlite3.connect(api_fleet.root / ".lamina" / "state.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            seen.append(json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), default=str))
    for text in seen:
        assert CANARY not in text
        assert encoded not in text
    # the rendered config holds the reference, never the value
    assert "openai/api-key" in "".join(seen)
