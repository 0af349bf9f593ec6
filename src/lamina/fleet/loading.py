"""Read and check ``lamina.toml``: every impossible fleet is an error naming file:line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lamina.core import collector
from lamina.core.names import describe_bad_label, is_dns_label
from lamina.core.paths import KeyPath
from lamina.errors import FleetError, Place
from lamina.fleet import rollout_settings
from lamina.fleet import settings as fleet_settings
from lamina.fleet.model import Cluster, Environment, Fleet
from lamina.source import documents
from lamina.source.trees import Tree

FLEET_FILE = "lamina.toml"

_KUBERNETES_VERSION = re.compile(r"1\.\d+(\.\d+)?")
_FLEET_KEYS = {"name", "promotion"}
_ENVIRONMENT_KEYS = {"extends", "upstream", "stage", "description", "isolation"}
_CLUSTER_KEYS = {
    "environment",
    "context",
    "kubeconfig",
    "namespace",
    "labels",
    "directory",
    "secrets",
    "suspended",
    "description",
    "kubernetes_version",
}


def load_fleet(tree: Tree) -> Fleet:
    """Parse and check lamina.toml from tree.

    Raises:
        ParseError: lamina.toml is not valid TOML.
        FleetError: it names unknown environments, cycles, bad names or bad values.
    """
    if not tree.is_file(FLEET_FILE):
        raise FleetError(f"no {FLEET_FILE} in the repository ({tree.label})", FLEET_FILE)
    raw = tree.read_bytes(FLEET_FILE)
    with collector.paused():  # linear in the clusters: see core/collector.py
        doc = documents.parse_document(FLEET_FILE, raw)
        return _FleetReader(doc).read(tree)


class _FleetReader:
    def __init__(self, doc: documents.Document) -> None:
        self.doc = doc
        self.data = doc.data

    def fail(self, message: str, path: KeyPath) -> FleetError:
        return FleetError(message, self.doc.place(path))

    def table(self, path: KeyPath) -> Mapping[str, Any]:
        node: Any = self.data
        for part in path:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if not isinstance(node, dict):
            raise self.fail(f"[{'.'.join(map(str, path))}] must be a table", path)
        return node

    def string(self, table: Mapping[str, Any], key: str, path: KeyPath) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{key} must be a string", (*path, key))
        return value

    def name(self, name: str, path: KeyPath, what: str) -> str:
        if not is_dns_label(name):
            raise self.fail(f"{what} name {describe_bad_label(name)}", path)
        return name

    def read(self, tree: Tree) -> Fleet:
        fleet = self.table(("fleet",))
        for key in fleet:
            if key not in _FLEET_KEYS:
                raise self.fail(
                    f"unknown key {key!r} in [fleet] (known: {', '.join(sorted(_FLEET_KEYS))})",
                    ("fleet", key),
                )
        fleet_name = fleet.get("name")
        if not isinstance(fleet_name, str) or not fleet_name:
            raise self.fail("[fleet] name is required and must be a string", ("fleet",))
        self.name(fleet_name, ("fleet", "name"), "fleet")
        promotion = fleet.get("promotion", [])
        if not isinstance(promotion, list) or not all(isinstance(p, str) for p in promotion):
            raise self.fail("promotion must be a list of environment names", ("fleet", "promotion"))
        if len(set(promotion)) != len(promotion):
            raise self.fail("promotion names an environment twice", ("fleet", "promotion"))

        env_tables = self.table(("environments",))
        names = list(dict.fromkeys([*promotion, *env_tables]))
        for index, env in enumerate(promotion):
            self.name(env, ("fleet", "promotion", index), "environment")
        raw_envs: dict[str, dict[str, Any]] = {}
        for env in env_tables:
            self.name(env, ("environments", env), "environment")
            table = self.table(("environments", env))
            for key in table:
                if key not in _ENVIRONMENT_KEYS:
                    raise self.fail(
                        f"unknown key {key!r} in [environments.{env}] "
                        f"(known: {', '.join(sorted(_ENVIRONMENT_KEYS))})",
                        ("environments", env, key),
                    )
            raw_envs[env] = dict(table)

        upstreams: dict[str, str | None] = {}
        extends: dict[str, str | None] = {}
        for env in names:
            table = raw_envs.get(env, {})
            path: KeyPath = ("environments", env)
            upstream = self.string(table, "upstream", path)
            if upstream is None and env in promotion and promotion.index(env) > 0:
                upstream = promotion[promotion.index(env) - 1]
            parent = self.string(table, "extends", path)
            for key, value in (("upstream", upstream), ("extends", parent)):
                if value is not None and value not in names:
                    where = (*path, key) if key in table else ("fleet", "promotion")
                    raise self.fail(f"{key} names unknown environment {value!r}", where)
            upstreams[env] = upstream
            extends[env] = parent
        self.no_cycle(extends, "extends")
        self.no_cycle(upstreams, "upstream")

        environments: dict[str, Environment] = {}
        for env in names:
            root = env
            parent_env = extends[root]
            while parent_env is not None:
                root, parent_env = parent_env, extends[parent_env]
            stage = self.string(raw_envs.get(env, {}), "stage", ("environments", env)) or root
            environments[env] = Environment(env, extends[env], upstreams[env], stage)

        clusters = {name: self.cluster(name, environments) for name in self.table(("clusters",))}
        self.check_overlays(tree, environments)
        settings = fleet_settings.load(self.doc, environments)
        rollout_settings.check_flagger_queries(
            self.doc, settings.rollout, settings.analyses, clusters.values()
        )
        return Fleet(
            name=fleet_name,
            environments=environments,
            clusters=clusters,
            promotion=tuple(promotion),
            settings=settings,
            document=self.doc,
        )

    def no_cycle(self, edges: Mapping[str, str | None], key: str) -> None:
        for start in sorted(edges):
            seen = [start]
            current = edges[start]
            while current is not None:
                if current in seen:
                    loop = " -> ".join([*seen[seen.index(current) :], current])
                    where: KeyPath = ("environments", current, key)
                    if where not in self.doc.lines:
                        where = ("fleet", "promotion")
                    raise self.fail(f"cycle in {key}: {loop}", where)
                seen.append(current)
                current = edges[current]

    def cluster(self, name: str, environments: Mapping[str, Environment]) -> Cluster:
        path: KeyPath = ("clusters", name)
        self.name(name, path, "cluster")
        table = self.table(path)
        for key in table:
            if key not in _CLUSTER_KEYS:
                raise self.fail(
                    f"unknown key {key!r} in [clusters.{name}] (known: {', '.join(sorted(_CLUSTER_KEYS))})",
                    (*path, key),
                )
        env = self.string(table, "environment", path)
        if env is None:
            raise self.fail(f"cluster {name!r} needs an environment", path)
        if env not in environments:
            raise self.fail(f"cluster {name!r} names unknown environment {env!r}", (*path, "environment"))
        context = self.string(table, "context", path)
        directory = self.string(table, "directory", path)
        if context is not None and directory is not None:
            raise self.fail(f"cluster {name!r} sets both context and directory; choose one", path)
        if directory is not None:
            try:
                from lamina.source.trees import normalize

                directory = normalize(directory) or "."
            except Exception:
                raise self.fail(
                    f"directory {directory!r} must be a relative path inside the repository",
                    (*path, "directory"),
                ) from None
        namespace = self.string(table, "namespace", path) or "default"
        self.name(namespace, (*path, "namespace"), "namespace")
        labels_raw = table.get("labels", {})
        if not isinstance(labels_raw, dict):
            raise self.fail("labels must be a table", (*path, "labels"))
        labels: dict[str, str] = {}
        for key, value in labels_raw.items():
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise self.fail(f"label {key!r} must be a string", (*path, "labels", key))
            labels[key] = str(value)
        secrets = table.get("secrets", [])
        if not isinstance(secrets, list) or any(type(s) is not str for s in secrets):
            raise self.fail("secrets must be a list of strings", (*path, "secrets"))
        version = self.string(table, "kubernetes_version", path) or "1.35"
        if not _KUBERNETES_VERSION.fullmatch(version):
            raise self.fail(
                f'kubernetes_version {version!r} must look like "1.35"', (*path, "kubernetes_version")
            )
        suspended = table.get("suspended", False)
        if not isinstance(suspended, bool):
            raise self.fail("suspended must be true or false", (*path, "suspended"))
        return Cluster(
            name=name,
            environment=env,
            namespace=namespace,
            context=context,
            kubeconfig=self.string(table, "kubeconfig", path),
            directory=directory,
            labels=labels,
            secrets=tuple(secrets),
            suspended=suspended,
            kubernetes_version=version,
        )

    def check_overlays(self, tree: Tree, environments: Mapping[str, Environment]) -> None:
        for entry in tree.list_dir("overlays"):
            if entry.is_dir and entry.name not in environments:
                known = ", ".join(sorted(environments)) or "none"
                raise FleetError(
                    f"overlay for unknown environment {entry.name!r} (known: {known})",
                    Place(f"overlays/{entry.name}/"),
                )
