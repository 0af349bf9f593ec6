"""The fleet apply and drift with a third of the clusters failing, for each way a cluster can fail.

Six emulated clusters in two waves; two of them (one per wave) fail in one way while the
real ``lamina`` command applies and checks drift. Afterwards: the four healthy clusters are
applied and in sync, each failing cluster is reported on its own line, every apply is in
the audit log once, the chain verifies, and once the fault is gone the same commands
converge without duplicating any ConfigMap.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import LAMINA, run_lamina
from conftest import commit_all
from k8s_support import CONFIGMAPS, EmulatedFleet, Fault
from reliability.fault_support import audit_valid, environ

CLUSTERS = [f"p-{i}" for i in range(6)]
FAILING = ("p-1", "p-4")  # one in each wave


def _lamina_toml(timeout: float) -> str:
    text = '[fleet]\nname = "agent"\npromotion = ["production"]\n\n[apply]\n'
    text += f"timeout = {timeout}\nparallelism = 3\n"
    for index, name in enumerate(CLUSTERS):
        text += f'\n[clusters.{name}]\nenvironment = "production"\ncontext = "{name}"\n'
        text += f'namespace = "ai-agents"\nlabels = {{ wave = "{index % 2}" }}\n'
    return text


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[EmulatedFleet]:
    with EmulatedFleet(tmp_path / "k8s") as emulated:
        yield emulated


def _repo(tmp_path: Path, timeout: float) -> Path:
    root = tmp_path / "repo"
    (root / "base").mkdir(parents=True)
    (root / "lamina.toml").write_text(_lamina_toml(timeout))
    (root / "base" / "agent.toml").write_text('[agent]\nmodel = "gpt-4o"\ntemperature = 0.2\n')
    (root / ".gitignore").write_text(".lamina/\n")
    commit_all(root, "fleet")
    (root / ".lamina").mkdir()
    return root


def _state_url(root: Path) -> str:
    return f"sqlite:///{root / '.lamina' / 'state.db'}"


def _run(root: Path, k8s: EmulatedFleet, *args: str) -> tuple[int, list[dict[str, object]], str]:
    env = {"LAMINA_DATABASE_URL": _state_url(root), "KUBECONFIG": str(k8s.kubeconfig)}
    done = run_lamina("--repo", root, "--as", "ops@example.com", *args, "--json", env=env)
    assert "Traceback" not in done.stderr, done.stderr
    rows = json.loads(done.stdout) if done.stdout.strip() else []
    return done.returncode, rows, done.stderr


def _break(k8s: EmulatedFleet, how: str) -> None:
    for name in FAILING:
        if how in ("refused", "dns", "tls"):
            k8s.add_unreachable(name, how)
        elif how == "timeout":
            k8s.emulators[name].latency = 1.0
        elif how == "409":
            k8s.emulators[name].faults.append(Fault(409, methods=("POST",)))
        else:
            k8s.emulators[name].faults.append(Fault(int(how), retry_after=0.01))


def _mend(k8s: EmulatedFleet, how: str) -> None:
    for name in FAILING:
        if how in ("refused", "dns", "tls"):
            k8s.add(name)  # the cluster is back, at a new address in the kubeconfig
        else:
            k8s.emulators[name].latency = 0.0
            k8s.emulators[name].faults.clear()


def _lamina_configmaps(k8s: EmulatedFleet, name: str) -> list[str]:
    return sorted(n for n in k8s.objects(name, CONFIGMAPS) if n.startswith("agent-"))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["refused", "dns", "tls", "timeout", "401", "403", "409", "429", "500"])
def test_a_third_of_the_fleet_failing(tmp_path: Path, k8s: EmulatedFleet, how: str) -> None:
    root = _repo(tmp_path, timeout=0.5 if how == "timeout" else 3)
    for name in CLUSTERS:
        k8s.add(name)
    _break(k8s, how)

    code, rows, err = _run(root, k8s, "apply", "production")

    assert code == 3, err
    by_cluster = {str(row["cluster"]): row for row in rows}
    assert sorted(by_cluster) == CLUSTERS
    for name in CLUSTERS:
        row = by_cluster[name]
        if name in FAILING:
            assert row["result"] in ("unreachable", "failed"), row
            detail = str(row["detail"])
            assert detail.startswith(f"{name}: ") and "\n" not in detail, detail
        else:
            assert row["result"] == "applied", row
            assert len(_lamina_configmaps(k8s, name)) == 1

    code, drift, _ = _run(root, k8s, "drift", "production")
    statuses = {str(row["cluster"]): row["status"] for row in drift}
    assert code == 1
    assert all(statuses[n] == "in-sync" for n in CLUSTERS if n not in FAILING), statuses
    assert all(statuses[n] != "in-sync" for n in FAILING), statuses
    assert _audit_applies(root, k8s) == {n: 1 for n in CLUSTERS}  # each attempt recorded once

    _mend(k8s, how)
    code, rows, err = _run(root, k8s, "apply", "production")
    assert code == 0, err
    results = {str(row["cluster"]): row["result"] for row in rows}
    assert results == {n: "applied" if n in FAILING else "unchanged" for n in CLUSTERS}
    code, drift, err = _run(root, k8s, "drift", "production")
    assert code == 0, err
    assert {row["status"] for row in drift} == {"in-sync"}
    names = {n: _lamina_configmaps(k8s, n) for n in CLUSTERS}
    assert all(len(found) == 1 for found in names.values()), names
    assert len({found[0] for found in names.values()}) == 1  # the same config everywhere
    assert _audit_applies(root, k8s) == {n: 2 for n in CLUSTERS}
    audit_valid(root, _state_url(root))


def _audit_applies(root: Path, k8s: EmulatedFleet) -> dict[str, int]:
    """How many apply rows the audit log holds per cluster."""
    _, rows, _ = _run(root, k8s, "audit", "--limit", "1000")
    counts: dict[str, int] = {}
    for row in rows:
        if row.get("action") == "apply":
            target = str(row.get("subject", ""))
            cluster = target.rsplit("/", 1)[-1]
            counts[cluster] = counts.get(cluster, 0) + 1
    return counts


@pytest.mark.slow
def test_apply_killed_halfway_through_the_fleet(tmp_path: Path, k8s: EmulatedFleet) -> None:
    root = _repo(tmp_path, timeout=3)
    toml = root / "lamina.toml"
    toml.write_text(toml.read_text().replace("parallelism = 3", "parallelism = 1"))
    commit_all(root, "one cluster at a time")
    for name in CLUSTERS:
        k8s.add(name, latency=0.15)  # each request takes a while: the kill lands mid-fleet
    env = environ(_state_url(root), KUBECONFIG=str(k8s.kubeconfig))
    process = subprocess.Popen(
        [str(LAMINA), "--repo", str(root), "--as", "ops@example.com", "apply", "production"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not any(_lamina_configmaps(k8s, n) for n in CLUSTERS) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)
    done = [n for n in CLUSTERS if _lamina_configmaps(k8s, n)]
    assert 0 < len(done) < len(CLUSTERS), done  # killed halfway, as meant

    code, rows, err = _run(root, k8s, "apply", "production")
    assert code == 0, err
    results = {str(row["cluster"]): row["result"] for row in rows}
    assert all(results[n] in ("applied", "unchanged") for n in CLUSTERS), results
    assert sum(1 for n in CLUSTERS if results[n] == "applied") >= len(CLUSTERS) - len(done)
    assert all(len(_lamina_configmaps(k8s, n)) == 1 for n in CLUSTERS)
    code, drift, err = _run(root, k8s, "drift", "production")
    assert code == 0 and {row["status"] for row in drift} == {"in-sync"}, err
    audit_valid(root, _state_url(root))
