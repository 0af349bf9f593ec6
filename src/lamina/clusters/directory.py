"""A directory cluster: a folder that holds what Argo CD or Flux syncs (the GitOps hand-off).

Applying writes the cluster's rendered folder (``agent-config.json``, the referenced files and
a ``kustomization.yaml`` whose configMapGenerator builds the same ConfigMap); reading takes
those files back; a directory cluster "has" the Secrets its ``[clusters.X] secrets`` declares.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lamina.clusters.health import DIRECTORY, Health
from lamina.clusters.live import LiveConfig
from lamina.clusters.outcomes import ApplyOptions, ApplyOutcome
from lamina.core.states import ApplyResult
from lamina.fleet.model import Cluster
from lamina.render import configmaps, flagger, folders, isolation, names, sops_secrets
from lamina.render.configmaps import RenderedConfig

_LABEL_LINE = re.compile(
    r"^\s{6,}(lamina\.dev/[a-z-]+|app\.kubernetes\.io/managed-by):\s*['\"]?([^'\"\s]+)", re.MULTILINE
)


class DirectoryDestination:
    """A cluster whose config is a folder of the repository (``[clusters.X] directory``)."""

    requests = 0  # no API: nothing to count

    def __init__(self, cluster: Cluster, repo_root: Path) -> None:
        assert cluster.directory is not None
        self.cluster = cluster
        self.folder = repo_root / cluster.directory
        self.root = repo_root

    def read(self, rendered: RenderedConfig, workload: str | None) -> LiveConfig | None:
        """The files of the folder (None when it holds no agent-config.json)."""
        del workload  # a folder holds one target and no workload
        found = read_folder(self.folder)
        desired = rendered.kept_objects()
        if found is None or not desired:
            return found
        return dataclasses.replace(found, objects=read_objects(self.folder, desired))

    def desired_layout(self, rendered: RenderedConfig, options: ApplyOptions) -> str:
        """The ``kustomization.yaml`` the folder should hold (its labels and name must match too)."""
        files = folders.folder_files(rendered, options.resources, extra=_extra(self.cluster, options))
        return files[folders.KUSTOMIZATION].decode("utf-8")

    def write(self, rendered: RenderedConfig, options: ApplyOptions, now: datetime.datetime) -> ApplyOutcome:
        """Make the folder hold exactly rendered's files; only changed files are rewritten."""
        del now
        manifest = sops_secrets.folder_manifest(rendered, self.folder, self.root)
        files = folders.folder_files(rendered, options.resources, manifest, _extra(self.cluster, options))
        folder = self.folder
        changed = [
            name
            for name, content in sorted(files.items())
            if not (folder / name).is_file() or (folder / name).read_bytes() != content
        ]
        stale = (
            sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in files)
            if folder.is_dir()
            else []
        )
        verb = "would write" if options.dry_run else "wrote"
        actions = [f"{verb} {folder / name}" for name in changed]
        actions += [f"{'would remove' if options.dry_run else 'removed'} {folder / name}" for name in stale]
        if options.dry_run:
            return ApplyOutcome.of(rendered, ApplyResult.DRY_RUN, actions=tuple(actions))
        if not changed and not stale:
            return ApplyOutcome.of(rendered, ApplyResult.UNCHANGED)
        try:
            folders.write_folder(folder, files, folders.WriteReport())
        except OSError as exc:
            return ApplyOutcome.of(rendered, ApplyResult.FAILED, detail=f"{folder}: {exc.strerror}")
        return ApplyOutcome.of(rendered, ApplyResult.APPLIED, actions=tuple(actions))

    def workload_rollout(self, workload: str) -> None:
        """None: the folder's GitOps controller rolls the workload; lamina cannot watch it."""
        del workload

    def health(self, clock: Callable[[], float] = time.perf_counter) -> Health:
        """Usable when the folder exists (a folder not rendered yet is said so)."""
        started = clock()
        exists = self.folder.is_dir()
        return Health(
            self.cluster.name,
            True,
            DIRECTORY,
            exists,
            clock() - started,
            None if exists else "folder not rendered yet",
        )

    def secret_keys(self, name: str) -> set[str] | None:
        """The keys of Secret name that ``[clusters.X] secrets`` declares, or None (no such Secret)."""
        keys = {
            key for ref in self.cluster.secrets for secret, _, key in [ref.partition("/")] if secret == name
        }
        return keys or None

    def close(self) -> None:
        """Nothing to release."""


def _extra(cluster: Cluster, options: ApplyOptions) -> Mapping[str, bytes] | None:
    return options.folder_extra(cluster) if options.folder_extra is not None else None


def read_folder(folder: Path) -> LiveConfig | None:
    """The files of a directory cluster's folder (None when it holds no agent-config.json)."""
    if not (folder / configmaps.CONFIG_KEY).is_file():
        return None
    data: dict[str, str] = {}
    newest = 0.0
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        newest = max(newest, path.stat().st_mtime)
        if (
            path.name == folders.KUSTOMIZATION
            or path.name.endswith(sops_secrets.MANIFEST_SUFFIX)
            or path.name.startswith("externalsecret-")
            or flagger.is_flagger_file(path.name)
            or isolation.is_object_file(path.name)
        ):
            continue  # the layout, and the encrypted Secret manifest: not ConfigMap data
        data[path.name] = path.read_text(encoding="utf-8", errors="replace")
    kustomization = folder / folders.KUSTOMIZATION
    text = kustomization.read_text(errors="replace") if kustomization.is_file() else ""
    labels = {key: value for key, value in _LABEL_LINE.findall(text)}
    when = datetime.datetime.fromtimestamp(newest, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return LiveConfig(
        name=None if not data else f"-{names.configmap_suffix(data)}",
        data=data,
        labels=labels,
        where=str(folder),
        changed_at=when,
        extra={folders.KUSTOMIZATION: text},
        revision=labels.get(configmaps.ANNOTATION_REVISION),  # the generator's annotations read alike
        base_revision=labels.get(configmaps.ANNOTATION_BASE),
    )


def read_objects(folder: Path, desired: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """``Kind/name`` -> the object the folder's files hold (None: not there, or unreadable)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    found: dict[str, dict[str, Any]] = {}
    for name in sorted({isolation.file_name(obj) for obj in desired}):
        try:
            documents = list(YAML(typ="safe").load_all((folder / name).read_text(encoding="utf-8")))
        except (OSError, YAMLError, UnicodeDecodeError):
            continue
        for doc in documents:
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict) and "kind" in doc:
                found.setdefault(isolation.key(doc), doc)
    return {isolation.key(obj): found.get(isolation.key(obj)) for obj in desired}
