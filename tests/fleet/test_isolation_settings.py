"""``[environments.<env>.isolation]``: typed once at load, inherited along ``extends``, every
mistake refused at its file:line."""

from __future__ import annotations

import pytest

from conftest import WriteRepo
from lamina.errors import FleetError
from lamina.fleet import loading
from lamina.fleet.isolation_settings import Isolation, Peer
from lamina.fleet.settings import FleetSettings
from lamina.source.trees import WorkingTree

FLEET = '[fleet]\nname = "demo"\npromotion = ["dev", "prod"]\n\n[environments.prod-eu]\nextends = "prod"\n'


def settings(write_repo: WriteRepo, extra: str) -> FleetSettings:
    root = write_repo({"lamina.toml": FLEET + extra})
    return loading.load_fleet(WorkingTree(root)).settings


def test_typed_and_inherited(write_repo: WriteRepo) -> None:
    found = settings(
        write_repo,
        """
[environments.prod.isolation]
quota = {"requests.cpu" = "4", pods = 20}
limits = {cpu = "500m", memory = "512Mi"}
egress = [{cidr = "10.0.0.0/8", ports = [443]},
          {namespace = "observability", ports = [4317], protocol = "TCP"}]
ingress_from = [{namespace = "gateway", labels = {app = "envoy"}}]
""",
    )
    expected = Isolation(
        pod_security="restricted",
        quota={"pods": "20", "requests.cpu": "4"},
        limits={"default": {"cpu": "500m", "memory": "512Mi"}},
        network="deny-all",  # declared traffic implies the default deny
        egress=(Peer(cidr="10.0.0.0/8", ports=(443,)), Peer(namespace="observability", ports=(4317,))),
        ingress_from=(Peer(namespace="gateway", labels={"app": "envoy"}),),
    )
    assert found.isolation == {"prod": expected, "prod-eu": expected}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            '[environments.prod.isolation]\nnetwork = "open"\n',
            "lamina.toml:9: [environments.prod.isolation] network must be one of deny-all, same-namespace",
            id="network-mode",
        ),
        pytest.param(
            "[environments.prod.isolation]\nquotas = {pods = 1}\n",
            "lamina.toml:9: unknown key 'quotas' in [environments.prod.isolation] (known: egress, "
            "ingress_from, limits, network, pod_security, quota)",
            id="unknown-key",
        ),
        pytest.param(
            '[environments.prod.isolation]\nquota = {pods = "many"}\n',
            "lamina.toml:9: [environments.prod.isolation] quota.pods: 'many' is not a Kubernetes quantity "
            '(like "500m", "2Gi", 4)',
            id="quantity",
        ),
        pytest.param(
            '[environments.prod.isolation]\nlimits = {maximum = {cpu = "1"}}\n',
            "lamina.toml:9: [environments.prod.isolation] limits: unknown kind 'maximum' "
            "(known: default, default_request, max, min)",
            id="limit-kind",
        ),
        pytest.param(
            '[environments.prod.isolation]\negress = [{cidr = "10.0.0.1/8"}]\n',
            "lamina.toml:9: [environments.prod.isolation] egress[0] cidr '10.0.0.1/8' is not a network "
            "like 10.0.0.0/8",
            id="cidr-host-bits",
        ),
        pytest.param(
            '[environments.prod.isolation]\negress = [{namespace = "obs", ports = [70000]}]\n',
            "lamina.toml:9: [environments.prod.isolation] egress[0] ports must be a list of port numbers "
            "(1-65535)",
            id="port",
        ),
        pytest.param(
            "[environments.prod.isolation]\ningress_from = [{ports = [80]}]\n",
            "lamina.toml:9: [environments.prod.isolation] ingress_from[0] needs cidr, namespace or labels",
            id="peer-without-selector",
        ),
        pytest.param(
            '[environments.prod.isolation]\npod_security = "strict"\n',
            "lamina.toml:9: [environments.prod.isolation] pod_security must be one of privileged, "
            "baseline, restricted",
            id="pod-security",
        ),
        pytest.param(
            "[environments.prod]\nisolaton = {}\n",
            "lamina.toml:9: unknown key 'isolaton' in [environments.prod] (known: description, extends, "
            "isolation, stage, upstream)",
            id="typo-in-environment",
        ),
    ],
)
def test_bad_isolation_names_its_line(write_repo: WriteRepo, extra: str, message: str) -> None:
    with pytest.raises(FleetError) as caught:
        settings(write_repo, "\n" + extra)
    assert str(caught.value) == message
