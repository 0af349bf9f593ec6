"""In a pod without a kubeconfig, lamina reaches the API with the pod's ServiceAccount."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme

from k8s_support import CONFIGMAPS, EmulatedFleet
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


@pytest.fixture
def https_cluster(tmp_path: Path) -> Iterator[tuple[EmulatedFleet, trustme.CA, int]]:
    """An emulated API server behind HTTPS with a certificate of its own self-signed CA."""
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    with EmulatedFleet(tmp_path / "api") as fleet:
        fleet.add("prod-us-1", tls=server)
        port = urlsplit(fleet.urls["prod-us-1"]).port
        assert port is not None
        yield fleet, authority, port


def in_pod(tmp_path: Path, port: int, ca_pem: bytes) -> connection.KubeSettings:
    """A pod's settings: the service address and the mounted token and CA, no kubeconfig."""
    folder = tmp_path / "projected"
    folder.mkdir()
    (folder / "token").write_text("sa-token-3c9e")
    (folder / "ca.crt").write_bytes(ca_pem)
    environ = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(port),
        "LAMINA_SERVICE_ACCOUNT_DIR": str(folder),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }
    return connection.KubeSettings.from_environment(environ, tmp_path, ApplySettings())


def test_a_pod_reaches_an_https_api_with_its_token_and_ca(
    tmp_path: Path, https_cluster: tuple[EmulatedFleet, trustme.CA, int]
) -> None:
    fleet, authority, port = https_cluster
    settings = in_pod(tmp_path, port, authority.cert_pem.bytes())
    body = {"metadata": {"name": "agent-config", "namespace": "ai-agents"}, "data": {"model": "gpt-4o"}}

    with connection.connect(prod(), settings) as conn:
        assert conn.api_client.configuration.host == f"https://127.0.0.1:{port}"
        conn.call(conn.core.create_namespaced_config_map, "ai-agents", body)
        listed = conn.call(conn.core.list_namespaced_config_map, "ai-agents")

    assert [item.metadata.name for item in listed.items] == ["agent-config"]
    assert fleet.emulators["prod-us-1"].authorization == "bearer sa-token-3c9e"
    assert fleet.objects("prod-us-1", CONFIGMAPS)["agent-config"]["data"] == {"model": "gpt-4o"}


def test_a_pod_refuses_an_api_whose_certificate_its_ca_did_not_sign(
    tmp_path: Path, https_cluster: tuple[EmulatedFleet, trustme.CA, int]
) -> None:
    fleet, _, port = https_cluster
    settings = in_pod(tmp_path, port, trustme.CA().cert_pem.bytes())

    with connection.connect(prod(), settings) as conn, pytest.raises(faults.ClusterFault) as caught:
        conn.call(conn.core.list_namespaced_config_map, "ai-agents")

    assert str(caught.value) == (
        "cluster prod-us-1: unreachable: TLS handshake failed "
        "(check the certificate authority: the kubeconfig's, or a pod's ca.crt)"
    )
    assert fleet.emulators["prod-us-1"].authorization is None  # no request, so no token, reached it
