"""GitOps folders: one per cluster, which ``kubectl kustomize`` builds into lamina's ConfigMap.

Each folder holds ``agent-config.json``, the referenced files and a ``kustomization.yaml``
whose ``configMapGenerator`` produces the same ConfigMap (same name, same data) that lamina
would apply itself. Files are rewritten only when their bytes change, so re-rendering an
unchanged fleet touches nothing and git (and Argo CD, and Flux) see no change.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.render.configmaps import RenderedConfig

KUSTOMIZATION = "kustomization.yaml"
MARKER = "# Rendered by lamina from fleet"


@dataclass
class WriteReport:
    """What a render changed on disk."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def kustomization(rendered: RenderedConfig, resources: Sequence[str]) -> dict[str, Any]:
    """The kustomization whose configMapGenerator builds rendered's ConfigMap."""
    body: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": rendered.namespace,
    }
    if resources:
        body["resources"] = list(resources)
    body["configMapGenerator"] = [
        {
            "name": rendered.base_name,
            "files": list(rendered.data),
            "options": {
                "labels": dict(rendered.labels),
                "annotations": dict(rendered.annotations),
                "immutable": True,
            },
        }
    ]
    return body


def folder_files(rendered: RenderedConfig, resources: Sequence[str]) -> dict[str, bytes]:
    """Every file of a cluster's folder, by name."""
    from lamina.render import yamltext

    files = {name: text.encode("utf-8") for name, text in rendered.data.items()}
    header = (
        f"{MARKER} {rendered.config.fleet_name!r}, target {rendered.config.target}.\n"
        "# Do not edit: change the config repository and render again.\n"
    )
    files[KUSTOMIZATION] = (header + yamltext.dump(kustomization(rendered, resources))).encode()
    return files


def write_folder(folder: Path, files: Mapping[str, bytes], report: WriteReport) -> None:
    """Make folder hold exactly files; rewrite only what changed, each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in sorted(files.items()):
        path = folder / name
        try:
            if path.is_file() and path.read_bytes() == content:
                report.unchanged.append(str(path))
                continue
        except OSError:
            pass
        _atomic_write(path, content)
        report.written.append(str(path))
    for stale in sorted(folder.iterdir()):
        if stale.is_file() and stale.name not in files:
            stale.unlink()
            report.removed.append(str(stale))


def prune(out: Path, keep: Iterable[str], report: WriteReport) -> None:
    """Remove cluster folders lamina rendered earlier for clusters no longer in the fleet."""
    wanted = set(keep)
    if not out.is_dir():
        return
    for folder in sorted(out.iterdir()):
        if not folder.is_dir() or folder.name in wanted:
            continue
        marker = folder / KUSTOMIZATION
        if marker.is_file() and marker.read_text(errors="replace").startswith(MARKER):
            shutil.rmtree(folder)
            report.removed.append(str(folder))


def _atomic_write(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
