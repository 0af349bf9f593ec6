"""In a pod without a kubeconfig, lamina reaches the API with the pod's ServiceAccount."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamina.clusters import connection, faults
from lamina.fleet.model import Cluster
from lamina.fleet.settings import ApplySettings

IN_POD = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}


def prod() -> Cluster:
    return Cluster("prod-us-1", "production", "ai-agents", context="prod-us-1")


def service_account(tmp_path: Path, token: str | None = "sa-token-3c9e") -> Path:
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    if token is not None:
        (folder / "token").write_text(token)
    (folder / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return folder


def settings(tmp_path: Path, environ: dict[str, str], folder: Path) -> connection.KubeSettings:
    environ = {"KUBECONFIG": str(tmp_path / "no-kubeconfig"), **environ}
    found = connection.KubeSettings.from_environment(environ, tmp_path, ApplySettings())
    return connection.KubeSettings(
        kubeconfig=found.kubeconfig, repo_root=tmp_path, in_cluster=found.in_cluster, service_account=folder
    )


def test_a_pod_without_a_kubeconfig_uses_its_service_account(tmp_path: Path) -> None:
    folder = service_account(tmp_path)

    with connection.connect(prod(), settings(tmp_path, IN_POD, folder)) as conn:
        configuration = conn.api_client.configuration

    assert configuration.host == "https://127.0.0.1:6443"
    assert configuration.api_key == {"BearerToken": "bearer sa-token-3c9e"}
    assert configuration.ssl_ca_cert == str(folder / "ca.crt")


def test_outside_a_pod_a_missing_kubeconfig_stays_an_error(tmp_path: Path) -> None:
    with pytest.raises(faults.ClusterFault) as caught:
        connection.connect(prod(), settings(tmp_path, {}, service_account(tmp_path)))
    assert str(caught.value).endswith(f"no kubeconfig file at {tmp_path / 'no-kubeconfig'}")


def test_a_pod_without_a_token_is_a_permanent_fault(tmp_path: Path) -> None:
    with pytest.raises(faults.ClusterFault) as caught:
        connection.connect(prod(), settings(tmp_path, IN_POD, service_account(tmp_path, None)))
    assert caught.value.kind is faults.FaultKind.PERMANENT
    assert "in-cluster config: Service token file does not exist." in str(caught.value)
