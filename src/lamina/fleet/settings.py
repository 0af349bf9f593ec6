"""Everything lamina.toml says beyond the fleet's shape, as typed values parsed once.

One dataclass per table, each field documented where it is declared; :func:`load` reads them
all when the fleet is loaded, so a malformed table is an error at its file:line whatever the
command, and callers read ``repo.fleet.settings.render.keep`` instead of re-parsing a dict.

====================  ================================================  ===========================
table                 what it sets                                      type
====================  ================================================  ===========================
``[render]``          the workload to roll, ConfigMaps kept, resources  :class:`RenderSettings`
``[render.argocd]``   the ApplicationSets of ``render --gitops argocd``  :class:`ArgoCDSettings`
``[render.flux]``     the Kustomizations of ``render --gitops flux``    :class:`FluxSettings`
``[apply]``           timeouts, parallelism, halting                    :class:`ApplySettings`
``[drift]``           ignored paths, the server's check interval        :class:`DriftSettings`
``[limits]``          bounds on hostile config files                    :class:`LimitsSettings`
``[layers]``          files that are not config                         :class:`LayersSettings`
``[plan]``            which keys are guardrails                         :class:`PlanSettings`
``[server]``          the tokens file, the dashboard's public address   :class:`ServerTable`
``[git]``             the remote pins are pushed to, fetches             :mod:`.git_settings`
``[promotion]``       gates, approvals, freezes                         :mod:`.promotion_settings`
``[alerts]``          alert sinks per environment                       :mod:`.alert_settings`
``[locks]``           keys only base/ may set                           :mod:`.lock_settings`
``[[migrations]]``    schema_version upgrades                           :mod:`.migration_settings`
``[secrets.<env>]``   External Secrets store per environment            :mod:`.secret_settings`
``[environments.<env>.isolation]`` namespace, quota, limits, network      :mod:`.isolation_settings`
``[rollout]``         steps, bake, analysis of ``apply --rollout``      :mod:`.rollout_settings`
``[[analysis]]``      metrics and bounds judging each rollout step      :mod:`.rollout_settings`
====================  ================================================  ===========================
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import timedelta

import msgspec

from lamina.fleet import (
    alert_settings,
    git_settings,
    isolation_settings,
    lock_settings,
    migration_settings,
    promotion_settings,
    rollout_settings,
    secret_settings,
)
from lamina.fleet.tables import TableReader
from lamina.source import scalars, trees
from lamina.source.documents import Document

DEFAULT_KEEP = 5
DEFAULT_GUARDRAIL_GLOBS = ("guardrails.*",)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
WORKLOAD_KINDS = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}
FLAGGER_TARGETS = ("deployment", "daemonset")  # the workload kinds a Flagger Canary can target

TOP_LEVEL = (
    "fleet",
    "environments",
    "clusters",
    "render",
    "apply",
    "drift",
    "limits",
    "layers",
    "plan",
    "server",
    "git",
    "promotion",
    "alerts",
    "locks",
    "migrations",
    "secrets",
    "rollout",
    "analysis",
)
"""The tables lamina.toml may hold."""


class ArgoCDSettings(msgspec.Struct, frozen=True):
    """``[render.argocd]``: how the ApplicationSets of ``render --gitops argocd`` look."""

    repo_url: str | None = None
    """The git URL Argo CD syncs (default: the config repository's ``origin`` remote)."""
    target_revision: str = "HEAD"
    project: str = "default"
    namespace: str = "argocd"
    """Where the ApplicationSets live."""


class FluxSettings(msgspec.Struct, frozen=True):
    """``[render.flux]``: how the Kustomizations of ``render --gitops flux`` look."""

    source: str | None = None
    """The GitRepository name (default: the fleet name)."""
    namespace: str = "flux-system"
    interval: str = "5m"
    remote_clusters: bool = False
    """Each Kustomization deploys through the Secret ``<cluster>-kubeconfig``."""
    decryption_secret: str = "sops-age"
    """The Secret (in ``namespace``) holding the age key Flux decrypts SOPS manifests with."""


class RenderSettings(msgspec.Struct, frozen=True):
    """``[render]``: what lamina ships besides the ConfigMap."""

    workload: str | None = None
    """``deployment/NAME`` (or statefulset, daemonset) whose config volume follows each new ConfigMap."""
    keep: int = DEFAULT_KEEP
    """lamina ConfigMaps of a target kept on a cluster for rollback."""
    resources: tuple[str, ...] = ()
    """Extra kustomization ``resources`` of every rendered folder."""
    argocd: ArgoCDSettings = msgspec.field(default_factory=ArgoCDSettings)
    flux: FluxSettings = msgspec.field(default_factory=FluxSettings)
    container: str | None = None
    """The workload's container that gets the secrets as env (default: the workload's name)."""
    env: Mapping[str, str] = msgspec.field(default_factory=dict)
    """``[render.env]``: config key path of a secret reference -> its environment variable name."""


class ApplySettings(msgspec.Struct, frozen=True):
    """``[apply]``: how lamina talks to clusters."""

    timeout: float = 10.0
    """Seconds for connecting and for each response."""
    parallelism: int = 8
    """Clusters worked on at once inside a wave."""
    halt_on_failure: bool = False
    """A wave with a failure stops the later waves (their clusters are reported skipped)."""


class DriftSettings(msgspec.Struct, frozen=True):
    """``[drift]``: what may differ, and how often the server checks."""

    ignore: tuple[str, ...] = ()
    """Globs of config paths allowed to differ (``feature_flags.*``)."""
    interval: timedelta = timedelta(minutes=5)
    """Time between the server's scheduled checks; zero turns them off."""
    jitter: float = 0.1
    """The most each wait is lengthened by, as a fraction of the interval."""


class LimitsSettings(msgspec.Struct, frozen=True):
    """``[limits]``: bounds that keep hostile config files from costing unbounded time or memory."""

    max_file_bytes: int = trees.DEFAULT_MAX_FILE_BYTES
    max_depth: int = scalars.DEFAULT_MAX_DEPTH
    max_nodes: int = scalars.DEFAULT_MAX_NODES


class LayersSettings(msgspec.Struct, frozen=True):
    """``[layers]``: which files of a layer folder are not config."""

    exclude: tuple[str, ...] = ()
    """Globs of file names (or repository paths) that are not config."""


class PlanSettings(msgspec.Struct, frozen=True):
    """``[plan]``: which keys ``plan`` treats as guardrails."""

    guardrails: tuple[str, ...] = DEFAULT_GUARDRAIL_GLOBS


class ServerTable(msgspec.Struct, frozen=True):
    """``[server]``: what the server reads from the repository."""

    tokens_file: str | None = None
    """The bearer tokens file, relative to the repository (default ``.lamina/tokens.toml``)."""
    public_url: str | None = None
    """The dashboard's address as people reach it (``https://lamina.example.com``): notices link
    to their page under it; without it they carry no link."""


class FleetSettings(msgspec.Struct, frozen=True):
    """Every table of lamina.toml beyond ``[fleet]``, ``[environments]`` and ``[clusters]``."""

    render: RenderSettings = msgspec.field(default_factory=RenderSettings)
    apply: ApplySettings = msgspec.field(default_factory=ApplySettings)
    drift: DriftSettings = msgspec.field(default_factory=DriftSettings)
    limits: LimitsSettings = msgspec.field(default_factory=LimitsSettings)
    layers: LayersSettings = msgspec.field(default_factory=LayersSettings)
    plan: PlanSettings = msgspec.field(default_factory=PlanSettings)
    server: ServerTable = msgspec.field(default_factory=ServerTable)
    git: git_settings.GitSettings = msgspec.field(default_factory=git_settings.GitSettings)
    promotion: promotion_settings.PromotionSettings = msgspec.field(
        default_factory=promotion_settings.PromotionSettings
    )
    alerts: alert_settings.AlertRoutes = msgspec.field(default_factory=alert_settings.AlertRoutes)
    locks: tuple[lock_settings.Lock, ...] = ()
    migrations: tuple[migration_settings.Migration, ...] = ()
    secrets: Mapping[str, secret_settings.SecretStore] = msgspec.field(default_factory=dict)
    isolation: Mapping[str, isolation_settings.Isolation] = msgspec.field(default_factory=dict)
    """``[environments.<env>.isolation]`` by environment (inherited along ``extends``)."""
    rollout: rollout_settings.RolloutSettings = msgspec.field(
        default_factory=rollout_settings.RolloutSettings
    )
    analyses: tuple[rollout_settings.Analysis, ...] = ()

    def analysis(self, name: str) -> rollout_settings.Analysis:
        """The ``[[analysis]]`` called name (load checked every name a rollout uses)."""
        return next(analysis for analysis in self.analyses if analysis.name == name)


def _server(doc: Document) -> ServerTable:
    table = TableReader(doc, ("server",), ("tokens_file", "public_url"))
    public_url = table.string("public_url")
    if public_url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
        raise table.fail(
            "[server] public_url must be an http(s) address like https://lamina.example.com, "
            f"not {public_url!r}",
            ("public_url",),
        )
    return ServerTable(tokens_file=table.string("tokens_file"), public_url=public_url)


def load(doc: Document, environments: Collection[str]) -> FleetSettings:
    """Read every settings table of lamina.toml.

    Raises:
        FleetError: an unknown table or key, or a value of the wrong type, at its file:line.
    """
    for key in doc.data:
        if key not in TOP_LEVEL:
            raise TableReader(doc, ()).fail(
                f"unknown table [{key}] in lamina.toml (known: {', '.join(sorted(TOP_LEVEL))})", (key,)
            )
    rollout, analyses = rollout_settings.load(doc, environments)
    promotion = promotion_settings.load(doc, environments)
    if promotion.verify is not None and promotion.verify not in {a.name for a in analyses}:
        known = ", ".join(sorted(a.name for a in analyses)) or "none declared"
        raise TableReader(doc, ("promotion",)).fail(
            f"[promotion] verify names unknown analysis {promotion.verify!r} (known: {known})", ("verify",)
        )
    render = _render(doc)
    if rollout.flagger is not None and (
        render.workload is None or render.workload.partition("/")[0].lower() not in FLAGGER_TARGETS
    ):
        raise TableReader(doc, ("rollout", "flagger")).fail(
            '[rollout.flagger] needs [render] workload = "deployment/NAME" or "daemonset/NAME": '
            "the workload Flagger's Canary moves"
        )
    return FleetSettings(
        render=render,
        apply=_apply(doc),
        drift=_drift(doc),
        limits=_limits(doc),
        layers=LayersSettings(TableReader(doc, ("layers",), ("exclude",)).strings("exclude", what="globs")),
        plan=PlanSettings(
            TableReader(doc, ("plan",), ("guardrails",)).strings(
                "guardrails", DEFAULT_GUARDRAIL_GLOBS, what="key globs"
            )
        ),
        server=_server(doc),
        git=git_settings.load(doc),
        promotion=promotion,
        alerts=alert_settings.load(doc, environments),
        locks=lock_settings.load(doc, environments),
        migrations=migration_settings.load(doc),
        secrets=secret_settings.load(doc, environments),
        isolation=isolation_settings.load(doc, environments),
        rollout=rollout,
        analyses=analyses,
    )


def _render(doc: Document) -> RenderSettings:
    table = TableReader(
        doc, ("render",), ("workload", "keep", "resources", "argocd", "flux", "container", "env")
    )
    workload = table.string("workload")
    if workload is not None:
        kind, _, name = workload.partition("/")
        if kind.lower() not in WORKLOAD_KINDS or not name:
            raise table.fail(
                f"[render] workload {workload!r} must be deployment/NAME, statefulset/NAME or daemonset/NAME",
                ("workload",),
            )
    argo = table.sub("argocd", ("repo_url", "target_revision", "project", "namespace"))
    flux = table.sub("flux", ("source", "namespace", "interval", "remote_clusters", "decryption_secret"))
    env_table = table.sub("env")
    env: dict[str, str] = {}
    for key in env_table.table:
        variable = env_table.string(key)
        if not variable or not ENV_NAME.match(variable):
            raise env_table.fail(
                f"[render.env] {key!r} must name an environment variable (A-Z, 0-9, _)", (key,)
            )
        env[key] = variable
    return RenderSettings(
        workload=workload,
        keep=table.integer("keep", DEFAULT_KEEP, minimum=1),
        resources=table.strings("resources", what="paths"),
        argocd=ArgoCDSettings(
            repo_url=argo.string("repo_url"),
            target_revision=argo.text("target_revision", "HEAD"),
            project=argo.text("project", "default"),
            namespace=argo.text("namespace", "argocd"),
        ),
        flux=FluxSettings(
            source=flux.string("source"),
            namespace=flux.text("namespace", "flux-system"),
            interval=flux.text("interval", "5m"),
            remote_clusters=flux.boolean("remote_clusters", False),
            decryption_secret=flux.text("decryption_secret", "sops-age"),
        ),
        container=table.string("container"),
        env=env,
    )


def _apply(doc: Document) -> ApplySettings:
    table = TableReader(doc, ("apply",), ("timeout", "parallelism", "halt_on_failure"))
    timeout = table.number("timeout", 10.0)
    if timeout <= 0:
        raise table.fail("[apply] timeout must be > 0", ("timeout",))
    return ApplySettings(
        timeout=timeout,
        parallelism=table.integer("parallelism", 8, minimum=1),
        halt_on_failure=table.boolean("halt_on_failure", False),
    )


def _drift(doc: Document) -> DriftSettings:
    table = TableReader(doc, ("drift",), ("ignore", "interval", "jitter"))
    interval = table.duration("interval", timedelta(minutes=5))
    assert interval is not None
    return DriftSettings(
        ignore=table.strings("ignore", what="path globs"),
        interval=interval,
        jitter=table.number("jitter", 0.1, 0.0, 1.0),
    )


def _limits(doc: Document) -> LimitsSettings:
    table = TableReader(doc, ("limits",), ("max_file_bytes", "max_depth", "max_nodes"))
    return LimitsSettings(
        max_file_bytes=table.integer("max_file_bytes", trees.DEFAULT_MAX_FILE_BYTES, minimum=1),
        max_depth=table.integer("max_depth", scalars.DEFAULT_MAX_DEPTH, minimum=1),
        max_nodes=table.integer("max_nodes", scalars.DEFAULT_MAX_NODES, minimum=1),
    )
