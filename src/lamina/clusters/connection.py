"""One Kubernetes API client per cluster, from the user's kubeconfig.

Credentials never live in the config repository: a cluster names a kubeconfig *context*,
and the kubeconfig comes from ``[clusters.X] kubeconfig`` (a path), else ``$KUBECONFIG``
(read once at the edge and passed in as :class:`KubeSettings`), else ``~/.kube/config``.
Inside a Kubernetes pod with none of these files (``lamina serve`` from the Helm chart in
deploy/), the pod's ServiceAccount is used: in-cluster config, the API server's address from
``$KUBERNETES_SERVICE_HOST`` and ``_PORT``, its token and CA from the folder Kubernetes mounts
(``$LAMINA_SERVICE_ACCOUNT_DIR`` names another, for a projected token mounted elsewhere).
Parsed kubeconfig files are cached, so a fleet of hundreds of contexts reads its file once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.clusters import faults
from lamina.errors import InputError
from lamina.fleet.model import Cluster
from lamina.fleet.settings import ApplySettings

DEFAULT_KUBECONFIG = "~/.kube/config"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
"""Where Kubernetes mounts a pod's ServiceAccount token and the cluster's CA."""
SERVICE_ACCOUNT_ENV = "LAMINA_SERVICE_ACCOUNT_DIR"
"""The variable naming another folder holding ``token`` and ``ca.crt``."""


@dataclass(frozen=True)
class KubeSettings:
    """How lamina reaches API clusters; built once by the caller (the CLI, the server, a test).

    Attributes:
        kubeconfig: the ``$KUBECONFIG`` value (paths joined with ``os.pathsep``), or None.
        repo_root: relative ``[clusters.X] kubeconfig`` paths are taken from here.
        timeout: seconds for connecting and for each response.
        retry: how temporary faults (429, 5xx) are retried.
        parallelism: clusters worked on at once inside a wave.
    """

    kubeconfig: str | None = None
    repo_root: Path = Path(".")
    timeout: float = 10.0
    retry: faults.RetryPolicy = field(default_factory=faults.RetryPolicy)
    parallelism: int = 8
    in_cluster: tuple[str, str] | None = None
    """``$KUBERNETES_SERVICE_HOST`` and ``_PORT`` when lamina runs in a pod (None elsewhere)."""
    service_account: Path = SERVICE_ACCOUNT
    """The folder of the ServiceAccount's ``token`` and the cluster's ``ca.crt`` (in-cluster config)."""

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], repo_root: Path, apply: ApplySettings
    ) -> KubeSettings:
        """Settings from the process environment and lamina.toml's ``[apply]`` table."""
        host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
        return cls(
            kubeconfig=environ.get("KUBECONFIG") or None,
            repo_root=repo_root,
            timeout=apply.timeout,
            parallelism=apply.parallelism,
            in_cluster=(host, port) if host and port else None,
            service_account=Path(environ.get(SERVICE_ACCOUNT_ENV) or SERVICE_ACCOUNT),
        )

    def kubeconfig_paths(self, cluster: Cluster) -> tuple[str, ...]:
        """The kubeconfig file(s) for cluster, most specific first."""
        if cluster.kubeconfig:
            path = Path(os.path.expanduser(cluster.kubeconfig))
            if not path.is_absolute():
                path = self.repo_root / path
            return (str(path),)
        if self.kubeconfig:
            return tuple(p for p in self.kubeconfig.split(os.pathsep) if p)
        return (os.path.expanduser(DEFAULT_KUBECONFIG),)


_CACHE: dict[tuple[str, ...], tuple[tuple[float, ...], Any]] = {}
_CACHE_LOCK = threading.Lock()


def _merged_config(paths: tuple[str, ...]) -> Any:
    """The merged kubeconfig of paths (a ConfigNode), parsed once while the files are unchanged."""
    from kubernetes.config import kube_config

    stamps = tuple(os.stat(p).st_mtime if os.path.exists(p) else -1.0 for p in paths)
    with _CACHE_LOCK:
        cached = _CACHE.get(paths)
        if cached is not None and cached[0] == stamps:
            return cached[1]
    existing = [p for p in paths if os.path.exists(p)]
    if not existing:
        raise faults.ClusterFault(faults.FaultKind.PERMANENT, f"no kubeconfig file at {', '.join(paths)}")
    merged = kube_config.KubeConfigMerger(os.pathsep.join(existing)).config  # type: ignore[no-untyped-call]
    with _CACHE_LOCK:
        _CACHE[paths] = (stamps, merged)
    return merged


class Connection:
    """An open client for one cluster; every call goes through :meth:`call` (counted, retried)."""

    def __init__(self, cluster: Cluster, api_client: Any, settings: KubeSettings) -> None:
        from kubernetes import client

        self.cluster = cluster
        self.settings = settings
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)
        self.version_api = client.VersionApi(api_client)
        self.requests = 0

    @property
    def namespace(self) -> str:
        """The cluster's namespace."""
        return self.cluster.namespace

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Call an API method with lamina's timeout; classify failures, retry temporary ones."""
        kwargs.setdefault("_request_timeout", (self.settings.timeout, self.settings.timeout))

        def once() -> Any:
            self.requests += 1
            return method(*args, **kwargs)

        return faults.call(self.cluster.name, self.settings.retry, once)

    def close(self) -> None:
        """Release the connection pool."""
        with contextlib.suppress(Exception):  # closing must never hide the real outcome
            self.api_client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(cluster: Cluster, settings: KubeSettings) -> Connection:
    """A client for cluster's kubeconfig context.

    Raises:
        ClusterFault: the kubeconfig is missing or has no such context (permanent).
    """
    from kubernetes.client import Configuration
    from kubernetes.config import kube_config
    from kubernetes.config.config_exception import ConfigException

    if cluster.context is None:
        raise InputError(f"cluster {cluster.name} has no kubeconfig context (it is a directory cluster)")
    paths = settings.kubeconfig_paths(cluster)
    configuration = type.__call__(Configuration)
    if settings.in_cluster is not None and not any(os.path.exists(p) for p in paths):
        _load_in_cluster(cluster, settings, configuration)
        from kubernetes.client import ApiClient

        configuration.retries = False
        return Connection(cluster, ApiClient(configuration=configuration), settings)
    merged = _merged_config(paths)
    try:
        loader = kube_config.KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=merged, active_context=cluster.context, config_base_path=None
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, KeyError, ValueError) as exc:
        raise faults.ClusterFault(
            faults.FaultKind.PERMANENT,
            f"kubeconfig context {cluster.context!r}: {str(exc).splitlines()[0]}",
            cluster.name,
        ) from None
    configuration.retries = False  # lamina retries itself, knowing which faults deserve it
    from kubernetes.client import ApiClient

    return Connection(cluster, ApiClient(configuration=configuration), settings)


def _load_in_cluster(cluster: Cluster, settings: KubeSettings, configuration: Any) -> None:
    """The pod's ServiceAccount token and CA, and the API server's address from the environment."""
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    assert settings.in_cluster is not None
    host, port = settings.in_cluster
    try:
        InClusterConfigLoader(  # type: ignore[no-untyped-call]
            token_filename=str(settings.service_account / "token"),
            cert_filename=str(settings.service_account / "ca.crt"),
            environ={"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port},
        ).load_and_set(configuration)
    except ConfigException as exc:
        raise faults.ClusterFault(
            faults.FaultKind.PERMANENT, f"in-cluster config: {str(exc).splitlines()[0]}", cluster.name
        ) from None
