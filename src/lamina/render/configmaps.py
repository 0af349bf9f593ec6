"""A target's ConfigMap: the resolved config and its referenced files, named as Kustomize names it."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lamina.core import hashing
from lamina.core.paths import format_path
from lamina.errors import InputError
from lamina.fleet.isolation_settings import Isolation
from lamina.fleet.secret_settings import SecretStore
from lamina.fleet.settings import FleetSettings
from lamina.render import external, isolation, names, workloads
from lamina.resolve.resolved import ResolvedConfig
from lamina.secrets import sops as sops_files

CONFIG_KEY = "agent-config.json"
MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_ENVIRONMENT = "lamina.dev/environment"
LABEL_CLUSTER = "lamina.dev/cluster"
LABEL_HASH = "lamina.dev/config-hash"
ANNOTATION_REVISION = "lamina.dev/revision"
ANNOTATION_BASE = "lamina.dev/base-revision"
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+\Z")
# Kustomize's YAML writer refuses DEL, the C1 controls and U+FFFE/U+FFFF, so a file holding
# them would render here but fail in Argo CD or Flux; refuse it up front.
_YAML_NOT_STRING = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*\.?[0-9_]*)(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
    r"|[yY]|yes|Yes|YES|[nN]|no|No|NO|on|On|ON|off|Off|OFF)$"
)
_UNWRITABLE = re.compile("[\x7f-\x9f\ufffe\uffff]")


@functools.lru_cache(maxsize=256)
def _first_unwritable(text: str) -> int | None:
    """Where text holds a character Kustomize cannot write (None: nowhere); remembered, as a
    fleet's targets share their prompt files."""
    bad = _UNWRITABLE.search(text)
    return None if bad is None else bad.start()


@dataclass(frozen=True)
class RenderedConfig:
    """What lamina ships for one target."""

    config: ResolvedConfig
    base_name: str
    data: Mapping[str, str]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    namespace: str
    sops: tuple[sops_files.SopsRef, ...] = ()  # the SOPS keys the target references (names only)
    store: SecretStore | None = None
    external: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """``vault:`` reference -> (Secret name, key) its ExternalSecret makes (``[secrets.<env>] store``)."""
    isolation: Isolation | None = None
    """The environment's ``[environments.<env>.isolation]``, if any."""
    workload: str | None = None
    """``[render] workload`` (``deployment/agent``), if any."""
    container: str | None = None
    """``[render] container``: the workload's container that is sized (default: the workload's name)."""
    sizing: workloads.Sizing = field(default_factory=workloads.Sizing)
    """The target's ``[workload]`` table: replicas, resources, autoscaling."""

    @property
    def name(self) -> str:
        """``<fleet>-config-<kustomize suffix>``."""
        return f"{self.base_name}-{names.configmap_suffix(self.data)}"

    @property
    def secret_name(self) -> str | None:
        """``<fleet>-secrets-<hash>``: the Secret of the target's SOPS keys (None: it has none)."""
        return sops_files.secret_name(self.config.fleet_name, self.sops) if self.sops else None

    def external_secrets(self) -> list[dict[str, Any]]:
        """The ExternalSecrets of the target (none without ``[secrets.<env>] store``)."""
        if self.store is None:
            return []
        refs = [ref for _, ref in self.config.secret_refs()]
        labels = {k: self.labels[k] for k in (MANAGED_BY, LABEL_ENVIRONMENT, LABEL_CLUSTER)}
        return external.external_secrets(self.config.fleet_name, self.namespace, refs, self.store, labels)

    def isolation_objects(self) -> list[dict[str, Any]]:
        """Namespace, ResourceQuota, LimitRange and NetworkPolicies (none without isolation)."""
        if self.isolation is None:
            return []
        labels = {k: self.labels[k] for k in (MANAGED_BY, LABEL_ENVIRONMENT, LABEL_CLUSTER)}
        return isolation.objects(self.config.fleet_name, self.namespace, self.isolation, labels)

    def autoscaler(self) -> dict[str, Any] | None:
        """The workload's HorizontalPodAutoscaler (None without ``[workload] autoscaling``)."""
        if self.workload is None:
            return None
        labels = {k: self.labels[k] for k in (MANAGED_BY, LABEL_ENVIRONMENT, LABEL_CLUSTER)}
        hpa = workloads.autoscaler(self.config.fleet_name, self.workload, self.namespace, self.sizing, labels)
        return None if hpa is None else isolation.stamped(hpa)

    def sized_container(self) -> str:
        """The container ``[workload] resources`` go to."""
        return self.container or (self.workload or "").partition("/")[2]

    def kept_objects(self) -> list[dict[str, Any]]:
        """Every object lamina keeps beside the ConfigMap: isolation first, then the autoscaler
        (built once per rendered target; treat them as read-only)."""
        cached: list[dict[str, Any]] | None = self.__dict__.get("_kept")
        if cached is None:
            hpa = self.autoscaler()
            cached = [*self.isolation_objects(), *([hpa] if hpa is not None else [])]
            object.__setattr__(self, "_kept", cached)  # a memo on a frozen value
        return list(cached)

    def configmap(self) -> dict[str, Any]:
        """The ConfigMap object (immutable: a change makes a new name, and the workload rolls)."""
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": dict(self.labels),
                "annotations": dict(self.annotations),
            },
            "immutable": True,
            "data": dict(self.data),
        }


def configmap_data(config: ResolvedConfig, writer: hashing.PrettyJson | None = None) -> dict[str, str]:
    """``agent-config.json`` (canonical, indented) and one key per referenced file.

    Raises:
        InputError: two referenced files share a name, or a name is not a valid data key.
    """
    data = {CONFIG_KEY: (writer or hashing.PrettyJson()).dumps(config.data)}
    owners: dict[str, str] = {}
    for path, text in config.files().items():
        key = posixpath.basename(path)
        if not _DATA_KEY.match(key) or key == CONFIG_KEY:
            raise InputError(f"{path}: file name {key!r} cannot be a ConfigMap key")
        if key in owners:
            raise InputError(
                f"{config.target}: {owners[key]} and {path} would both be ConfigMap key {key!r}; rename one"
            )
        bad = _first_unwritable(text)
        if bad is not None:
            line = text.count("\n", 0, bad) + 1
            raise InputError(
                f"{path}:{line}: holds character U+{ord(text[bad]):04X}, which Kustomize cannot "
                "write into a ConfigMap"
            )
        if _YAML_NOT_STRING.match(key):
            raise InputError(
                f"{path}: file name {key!r} reads as a YAML number or keyword, which Kustomize "
                "cannot use as a ConfigMap key; rename it"
            )
        owners[key] = path
        data[key] = text
    return dict(sorted(data.items()))


def render_target(
    settings: FleetSettings,
    config: ResolvedConfig,
    revision: str | None,
    writer: hashing.PrettyJson | None = None,
) -> RenderedConfig:
    """:func:`render_config` with what lamina.toml sets for the target's environment (its
    External Secrets store, isolation, the workload sized): the one way every path (apply,
    drift, render, rollouts) renders a target, so all of them ship the same objects."""
    environment = config.environment.name
    return render_config(
        config,
        revision,
        writer,
        store=settings.secrets.get(environment),
        isolation=settings.isolation.get(environment),
        workload=settings.render.workload,
        container=settings.render.container,
    )


def render_config(
    config: ResolvedConfig,
    revision: str | None,
    writer: hashing.PrettyJson | None = None,
    store: SecretStore | None = None,
    isolation: Isolation | None = None,
    workload: str | None = None,
    container: str | None = None,
) -> RenderedConfig:
    """The ConfigMap lamina ships for a cluster target.

    Args:
        config: a resolved ``ENV/CLUSTER`` target.
        revision: the git commit the config came from (None: not a git repository).
        writer: reuse one across the targets of a fleet to encode shared tables once.
        store: the environment's ``[secrets.<env>]`` External Secrets store, if any.
        isolation: the environment's ``[environments.<env>.isolation]``, if any.
        workload: ``[render] workload``, which ``[workload]`` sizing applies to.
        container: ``[render] container``, the container sized.

    Raises:
        InputError: a ``[workload]`` value of the wrong shape (at the layer's file:line).
    """
    if config.cluster is None:
        raise InputError(f"{config.target}: rendering needs a cluster target (ENV/CLUSTER)")
    labels = {
        MANAGED_BY: "lamina",
        LABEL_ENVIRONMENT: config.environment.name,
        LABEL_CLUSTER: config.cluster.name,
        LABEL_HASH: config.short_hash,
    }
    annotations = {
        ANNOTATION_REVISION: revision or "working-tree",
        ANNOTATION_BASE: config.base_revision or revision or "working-tree",
    }
    data = configmap_data(config, writer)
    # walking a thousand configs for references costs; the encoded config says if there are any
    text = data[CONFIG_KEY]
    with_sops = f'"{sops_files.PREFIX}' in text
    refs = [ref for _, ref in config.secret_refs()] if with_sops or store is not None else []
    return RenderedConfig(
        config=config,
        base_name=f"{config.fleet_name}-config",
        data=data,
        labels=labels,
        annotations=annotations,
        namespace=config.cluster.namespace,
        sops=_sops_refs(refs),
        store=store,
        external=external.targets(config.fleet_name, refs) if store is not None else {},
        isolation=isolation,
        workload=workload,
        container=container,
        sizing=workloads.sizing(config) if workloads.KEY in config.data else workloads.Sizing(),
    )


def _sops_refs(refs: list[str]) -> tuple[sops_files.SopsRef, ...]:
    """The ``sops:`` references among refs, each once, sorted."""
    found = {sops_files.SopsRef.parse(ref) for ref in refs if sops_files.is_sops_ref(ref)}
    return tuple(sorted(found, key=str))


def env_name(key: str) -> str:
    """The environment variable a secret at config key gets by default (``agent.api_key`` ->
    ``AGENT_API_KEY``)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper()
    return name if name and not name[0].isdigit() else f"_{name}"


def secret_env(rendered: RenderedConfig, names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every secret reference of the target as a container ``env`` entry with ``secretKeyRef``.

    A ``name/key`` reference points at that Kubernetes Secret; a ``sops:`` one at the Secret
    lamina makes of the target's SOPS keys; a ``vault:`` one at its ExternalSecret's target
    (only where ``[secrets.<env>] store`` renders one). Never a value.

    Args:
        names: ``[render.env]``: config key -> variable name (else derived from the key path).

    Raises:
        InputError: two references would set one variable.
    """
    names = names or {}
    entries: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    for path, ref in rendered.config.secret_refs():
        key = format_path(path)
        target = _secret_target(rendered, ref)
        if target is None:
            continue
        name = names.get(key) or env_name(key)
        if name in owners and entries[name]["valueFrom"]["secretKeyRef"] != target:
            raise InputError(
                f"{rendered.config.target}: {owners[name]} and {key} would both set ${name}; "
                "name one in [render.env]"
            )
        owners[name] = key
        entries[name] = {"name": name, "valueFrom": {"secretKeyRef": target}}
    return [entries[name] for name in sorted(entries)]


def _secret_target(rendered: RenderedConfig, ref: str) -> dict[str, str] | None:
    if sops_files.is_sops_ref(ref):
        assert rendered.secret_name is not None
        return {"name": rendered.secret_name, "key": sops_files.data_key(sops_files.SopsRef.parse(ref).key)}
    if ref.startswith("vault:"):
        target = rendered.external.get(ref)
        return None if target is None else {"name": target[0], "key": target[1]}
    secret, _, key = ref.partition("/")
    return {"name": secret, "key": key}


def workload_patch(
    workload: str,
    rendered: RenderedConfig,
    container: str | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A strategic-merge patch pointing ``kind/name``'s config volume at the new ConfigMap, and
    giving its container (``container``, default: the workload's name) each secret as env.

    The pod template's annotation carries the config hash, so the rollout is visible and a
    change always rolls the pods, as Kustomize's name-reference rewriting does.
    """
    kind, _, name = workload.partition("/")
    kinds = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}
    if kind.lower() not in kinds or not name:
        raise InputError(
            f"[render] workload {workload!r} must be deployment/NAME, statefulset/NAME or daemonset/NAME"
        )
    pod: dict[str, Any] = {"volumes": [{"name": "agent-config", "configMap": {"name": rendered.name}}]}
    entries = secret_env(rendered, env)
    sized, resources = workloads.pod_fields(rendered.sizing, container or name)
    entry: dict[str, Any] = {"name": container or name, **resources}
    if entries:
        entry["env"] = entries
    if len(entry) > 1:
        pod["containers"] = [entry]
    metadata: dict[str, Any] = {"name": name, "namespace": rendered.namespace}
    if not rendered.sizing.empty:
        metadata["annotations"] = {
            workloads.ANNOTATION_SIZING: workloads.sizing_hash(workloads.wanted(rendered.sizing))
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kinds[kind.lower()],
        "metadata": metadata,
        "spec": {
            **sized,
            "template": {
                "metadata": {"annotations": {LABEL_HASH: rendered.config.short_hash}},
                "spec": pod,
            },
        },
    }
