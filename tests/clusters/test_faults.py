"""Every fault, injected into one cluster while the rest of the fleet succeeds."""

from __future__ import annotations

import json
import re

import pytest

from clusters.conftest import ApiFleet
from conftest import commit_all
from k8s_support import CONFIGMAPS, Fault
from lamina.clusters import faults


def _set_timeout(fleet: ApiFleet, seconds: float) -> None:
    toml = fleet.root / "lamina.toml"
    text, count = re.subn(r"(?m)^timeout = .*$", f"timeout = {seconds}", toml.read_text())
    assert count == 1, "the fixture's [apply] timeout line moved"
    toml.write_text(text)
    commit_all(fleet.root, "timeout")


@pytest.mark.parametrize(
    ("how", "result", "message"),
    [
        pytest.param("refused", "unreachable", "prod-1: unreachable: connection refused", id="refused"),
        pytest.param(
            "dns", "unreachable", "prod-1: unreachable: the API server's host name does not resolve", id="dns"
        ),
        pytest.param(
            "tls",
            "unreachable",
            "prod-1: unreachable: TLS handshake failed "
            "(check the certificate authority: the kubeconfig's, or a pod's ca.crt)",
            id="tls",
        ),
        pytest.param(
            "timeout",
            "unreachable",
            "prod-1: unreachable: timed out waiting for the API server",
            id="timeout",
        ),
        pytest.param(
            401,
            "failed",
            "prod-1: HTTP 401 Unauthorized: the kubeconfig credentials were not accepted",
            id="401",
        ),
        pytest.param(
            403,
            "failed",
            "prod-1: HTTP 403 Forbidden: lamina's user may not do this here "
            "(see deploy/rbac.yaml for the Role it needs)",
            id="403",
        ),
        pytest.param(409, "failed", "prod-1: creating ConfigMap", id="409"),
        pytest.param(
            503,
            "failed",
            "prod-1: HTTP 503 Service Unavailable: the API server is busy or failing "
            "(gave up after 4 attempts)",
            id="503-persistent",
        ),
    ],
)
def test_fault_in_one_cluster_the_rest_succeed(
    api_fleet: ApiFleet, how: object, result: str, message: str
) -> None:
    if how in ("refused", "dns", "tls"):
        api_fleet.k8s.add_unreachable("prod-1", str(how))
    elif how == "timeout":
        _set_timeout(api_fleet, 0.3)
        api_fleet.k8s.emulators["prod-1"].latency = 0.6
    elif how == 409:
        api_fleet.k8s.emulators["prod-1"].faults.append(Fault(409, methods=("POST",)))
    else:
        assert isinstance(how, int)
        api_fleet.k8s.emulators["prod-1"].faults.append(Fault(how, retry_after=0.01 if how == 503 else None))
    code, out, _ = api_fleet.run("apply", "staging", "production", "--json")
    rows = {row["cluster"]: row for row in json.loads(out)}
    assert code == 3
    assert rows["prod-1"]["result"] == result
    assert rows["prod-1"]["detail"].startswith(message)
    assert rows["stage-1"]["result"] == "applied"
    assert rows["prod-2"]["result"] == "applied"
    assert len(api_fleet.k8s.objects("prod-2", CONFIGMAPS)) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_temporary_faults_are_retried(api_fleet: ApiFleet, status: int) -> None:
    emulator = api_fleet.k8s.emulators["prod-1"]
    emulator.faults.append(Fault(status, times=2, retry_after=0.05))
    code, out, err = api_fleet.run("apply", "production/prod-1", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["result"] == "applied"
    assert emulator.faults[0].times == 0


def test_retry_after_is_honoured_and_capped() -> None:
    waited: list[float] = []
    policy = faults.RetryPolicy(attempts=3, backoff=0.5, sleep=waited.append)
    calls = iter(
        [
            faults.ClusterFault(faults.FaultKind.TEMPORARY, "busy", "c", retry_after=2.0),
            faults.ClusterFault(faults.FaultKind.TEMPORARY, "busy", "c"),
            None,
        ]
    )

    def action() -> str:
        item = next(calls)
        if item is not None:
            raise item
        return "done"

    assert faults.call("c", policy, action) == "done"
    assert waited == [2.0, 1.0]


def test_one_unreachable_cluster_makes_drift_report_it(api_fleet: ApiFleet) -> None:
    code, out, err = api_fleet.run("apply", "production")
    assert code == 0, out + err
    api_fleet.k8s.add_unreachable("prod-2", "refused")
    code, out, _ = api_fleet.run("drift", "production", "--json")
    rows = {row["cluster"]: row for row in json.loads(out)}
    assert code == 1
    assert rows["prod-1"]["status"] == "in-sync"
    assert rows["prod-2"]["status"] == "unreachable"
    assert rows["prod-2"]["detail"] == "prod-2: unreachable: connection refused"
