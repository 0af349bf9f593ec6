"""GitOps folders: one per cluster, which ``kubectl kustomize`` builds into lamina's ConfigMap.

Each folder holds ``agent-config.json``, the referenced files and a ``kustomization.yaml``
whose ``configMapGenerator`` produces the same ConfigMap (same name, same data) that lamina
would apply itself. Files are rewritten only when their bytes change, so re-rendering an
unchanged fleet touches nothing and git (and Argo CD, and Flux) see no change.

``render --out DIR`` changes nothing in DIR until every target has rendered: the worker
processes write the new files into a staging folder (``.DIR.<pid>.rendering``), beside DIR on
a first render, which then becomes DIR with one rename, and inside DIR on a later one, which
then moves each changed file into place with one rename and removes the files that are no
longer rendered. Files with the same bytes (the prompt files every target shares) are hard
links to one file. A render that fails or is interrupted before that leaves DIR as it was,
and the staging folder is removed (after a kill, by the next render).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamina.core import collector, hashing
from lamina.core.targets import TargetRef
from lamina.render import cache, configmaps, flagger, isolation, sops_secrets, workloads
from lamina.render.configmaps import RenderedConfig
from lamina.resolve.repository import Repository

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
    listed = list(dict.fromkeys(isolation.file_name(obj) for obj in rendered.kept_objects()))
    listed += list(resources)
    listed += [external_file(obj) for obj in rendered.external_secrets()]
    if rendered.secret_name is not None:
        listed.append(sops_secrets.manifest_name(rendered))  # encrypted by sops; Flux decrypts it
    if listed:
        body["resources"] = listed
    if resources and _sizing_patch(rendered) is not None:  # the workload is part of this build
        body["patches"] = [{"path": workloads.PATCH_FILE}]
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


def _sizing_patch(rendered: RenderedConfig) -> dict[str, Any] | None:
    if rendered.workload is None:
        return None
    return workloads.folder_patch(rendered.workload, rendered.sizing, rendered.sized_container())


def external_file(obj: dict[str, Any]) -> str:
    """The file name of an ExternalSecret in a cluster folder."""
    return f"externalsecret-{obj['metadata']['name']}.yaml"


def folder_files(
    rendered: RenderedConfig,
    resources: Sequence[str],
    secret_manifest: bytes | None = None,
    extra: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """Every file of a cluster's folder, by name (with the encrypted Secret manifest, when given).

    Args:
        extra: more object files (the Flagger objects of :mod:`lamina.render.flagger`), listed
            in the kustomization's ``resources``.
    """
    from lamina.render import yamltext

    extra = extra or {}
    resources = [*resources, *sorted(extra)]
    files = {name: text.encode("utf-8") for name, text in rendered.data.items()}
    files.update(extra)
    if secret_manifest is not None:
        files[sops_secrets.manifest_name(rendered)] = secret_manifest
    for obj in rendered.external_secrets():
        files[external_file(obj)] = yamltext.dump_simple(obj).encode()
    streams: dict[str, list[str]] = {}
    for obj in rendered.kept_objects():  # one file per group: fewer files in a thousand folders
        streams.setdefault(isolation.file_name(obj), []).append(yamltext.dump_simple(obj))
    for name, documents in streams.items():
        files[name] = "---\n".join(documents).encode()
    patch = _sizing_patch(rendered) if resources else None
    if patch is not None:
        files[workloads.PATCH_FILE] = yamltext.dump_simple(patch).encode()
    header = (
        f"{MARKER} {rendered.config.fleet_name!r}, target {rendered.config.target}.\n"
        "# Do not edit: change the config repository and render again.\n"
    )
    files[KUSTOMIZATION] = (header + yamltext.dump_simple(kustomization(rendered, resources))).encode()
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
    # a temporary file beside the target, then one rename: readers see old or new, never half
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_fleet(
    repo: Repository,
    out: Path | None,
    environments: Sequence[str] = (),
    resources: Sequence[str] = (),
    advance: Callable[[int], None] = lambda done: None,
    workers: int | None = None,
    use_cache: bool = True,
) -> tuple[WriteReport, list[str]]:
    """Render every cluster folder of the fleet (or of environments).

    Args:
        out: write ``out/<cluster>/``; None renders each directory cluster into its own
            ``directory`` and skips the others.
        advance: called with the number of targets just finished (progress display).
        workers: processes to render in; None picks by fleet size and cores.
        use_cache: skip the work when nothing changed since the last render (render/cache.py).

    Returns:
        What changed on disk, and the names of the clusters rendered.
    """
    refs = repo.targets(environments)
    request = {
        "version": _version(),
        "out": str(out.resolve()) if out is not None else None,
        "environments": list(environments),
        "resources": list(resources),
        "head": repo.head(),
    }
    key = json.dumps(request["out"])
    previous = cache.load(repo.root, key) if use_cache else None
    if previous is not None:
        referenced = previous.get("referenced", [])
        # the outputs first: a folder removed or edited since is found at its first file
        if cache.outputs_intact(previous.get("outputs", [])) and previous.get(
            "fingerprint"
        ) == cache.fingerprint(repo.root, request, referenced):
            advance(len(refs))
            return (
                WriteReport(unchanged=[entry[0] for entry in previous["outputs"]]),
                list(previous.get("clusters", [])),
            )
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(refs) >= PARALLEL_FROM else 1
    staging = Staging.begin(out) if out is not None else None
    try:
        if workers > 1 and hasattr(os, "fork"):
            result = _render_in_processes(repo, refs, out, resources, advance, workers, staging)
        else:
            result = _render_targets(repo, refs, out, resources, advance, None, staging)
        rendered, clusters, referenced_files = result
        if staging is not None:
            report, outputs = staging.finish(rendered)
        else:
            report = _write_planned(rendered)
            outputs = cache.output_stats([*report.written, *report.unchanged]) if use_cache else []
    finally:
        if staging is not None:
            staging.discard()
    if use_cache:
        cache.save(
            repo.root,
            key,
            {
                "fingerprint": cache.fingerprint(repo.root, request, referenced_files),
                "referenced": referenced_files,
                "outputs": outputs,
                "clusters": clusters,
            },
        )
    return report, clusters


PARALLEL_FROM = 200  # below this many targets, starting processes costs more than it saves
_CHUNK = 50


Planned = list[tuple[Path, dict[str, bytes]]]
"""Folders to write and their files: every target is rendered before anything is written, so
a broken layer leaves the previous render whole instead of half replaced."""


@dataclass
class Staged:
    """One cluster folder as a worker left it in the staging folder (no file bytes: the
    workers wrote them, so they never travel back to the parent process)."""

    cluster: str
    written: list[tuple[str, int, int]]
    """Files staged because they are new or changed: name, size, mtime (ns)."""
    unchanged: list[tuple[str, int, int]]
    """Files already in DIR with the same bytes: name, size, mtime (ns)."""
    stale: list[str]
    """Files in DIR's folder that the render no longer makes."""


class Staging:
    """The folder beside DIR that a render writes into before anything in DIR changes."""

    SUFFIX = ".rendering"

    def __init__(self, out: Path, stage: Path, fresh: bool) -> None:
        self.out = out
        self.stage = stage
        self.fresh = fresh
        """DIR did not exist: the staging folder becomes DIR with one rename."""
        self._copies: dict[bytes, tuple[Path, int, int]] = {}
        """Digest of bytes staged by this process -> the first file holding them, its size, mtime."""

    @classmethod
    def begin(cls, out: Path) -> Staging:
        """Make an empty staging folder for out (and remove those of renders that were killed)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(out)
        fresh = not os.path.lexists(out)
        # beside DIR when it becomes DIR; inside DIR otherwise, so the files move within one
        # file system even when DIR is a mount point (a container's volume)
        stage = (out.parent if fresh else out) / f".{out.name}.{os.getpid()}{cls.SUFFIX}"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
        return cls(out, stage, fresh=fresh)

    def put(self, cluster: str, files: Mapping[str, bytes]) -> Staged:
        """Stage cluster's folder: write each file that differs from DIR's into the stage."""
        staged = self.stage / cluster
        os.mkdir(staged)
        written: list[tuple[str, int, int]] = []
        unchanged: list[tuple[str, int, int]] = []
        stale: list[str] = []
        current = None if self.fresh else self.out / cluster
        if current is not None and current.is_dir():
            for name in sorted(os.listdir(current)):
                if name not in files and (current / name).is_file():
                    stale.append(name)
        for name, content in sorted(files.items()):
            same = _same_bytes(current / name, content) if current is not None else None
            if same is not None:
                unchanged.append((name, *same))
            else:
                written.append((name, *self._write(staged / name, content)))
        return Staged(cluster, written, unchanged, stale)

    def _write(self, path: Path, content: bytes) -> tuple[int, int]:
        """Stage one file; bytes staged before (the prompts every target shares) become a hard
        link to the first file that holds them: making a file costs this machine's file system
        twenty times a link, and git, Kustomize, Argo CD and Flux read the same bytes."""
        digest = hashlib.blake2b(content, digest_size=32).digest()
        first = self._copies.get(digest)
        if first is not None:
            try:
                os.link(first[0], path)
            except OSError:
                pass  # no hard links here, or too many to one file: a file of its own
            else:
                return first[1], first[2]
        size, mtime = _write_new(path, content)
        self._copies[digest] = (path, size, mtime)
        return size, mtime

    def finish(self, staged: Sequence[Staged]) -> tuple[WriteReport, list[list[Any]]]:
        """Move the staged files into DIR; what changed, and the outputs for the render cache."""
        report = WriteReport()
        outputs: list[list[Any]] = []
        if self.fresh:
            os.rename(self.stage, self.out)  # one step: DIR is absent, then whole
        for entry in staged:
            folder = self.out / entry.cluster
            if not self.fresh and entry.written:
                if not os.path.lexists(folder):
                    os.rename(self.stage / entry.cluster, folder)
                else:
                    for name, _, _ in entry.written:
                        os.replace(self.stage / entry.cluster / name, folder / name)
            for name, size, mtime in entry.written:
                report.written.append(str(folder / name))
                outputs.append([str(folder / name), size, mtime])
            for name, size, mtime in entry.unchanged:
                report.unchanged.append(str(folder / name))
                outputs.append([str(folder / name), size, mtime])
            for name in entry.stale:
                (folder / name).unlink(missing_ok=True)
                report.removed.append(str(folder / name))
        outputs.sort()
        return report, outputs

    def discard(self) -> None:
        """Remove what is left of the staging folder (all of it when the render failed)."""
        shutil.rmtree(self.stage, ignore_errors=True)


def _remove_abandoned(out: Path) -> None:
    """Remove staging folders beside and inside out whose render process is gone (killed)."""
    prefix = f".{out.name}."
    for place in (out.parent, out):
        try:
            names = os.listdir(place)
        except OSError:
            continue
        for name in names:
            if not (name.startswith(prefix) and name.endswith(Staging.SUFFIX)):
                continue
            pid = name[len(prefix) : -len(Staging.SUFFIX)]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            shutil.rmtree(place / name, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process renders now; any folder it left earlier is finished
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: leave its folder alone
    return True


def _same_bytes(path: Path, content: bytes) -> tuple[int, int] | None:
    """(size, mtime) of path when it is a file holding exactly content, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(content):
            return None  # a different size: no need to read it
        if os.read(fd, len(content) + 1) != content:
            return None
        return info.st_size, info.st_mtime_ns
    except OSError:
        return None
    finally:
        os.close(fd)


def _write_new(path: Path, content: bytes) -> tuple[int, int]:
    """Write a new file in the staging folder; its (size, mtime)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        info = os.fstat(fd)
    finally:
        os.close(fd)
    return info.st_size, info.st_mtime_ns


def _render_targets(
    repo: Repository,
    refs: Sequence[TargetRef],
    out: Path | None,
    resources: Sequence[str],
    advance: Callable[[int], None],
    writer: hashing.PrettyJson | None = None,
    staging: Staging | None = None,
) -> tuple[Any, list[str], list[str]]:
    """Render refs; with staging, write each folder into it (see :class:`Staging`), else keep
    the files in memory (``Planned``) for :func:`_write_planned`."""
    planned: Planned = []
    staged: list[Staged] = []
    clusters: list[str] = []
    referenced: set[str] = set()
    writer = writer or hashing.PrettyJson()
    for ref in refs:
        config = repo.resolve(ref)
        assert config.cluster is not None
        if out is not None:
            folder = out / config.cluster.name
        elif config.cluster.directory is not None:
            folder = repo.root / config.cluster.directory
        else:
            advance(1)
            continue
        rendered = configmaps.render_target(repo.fleet.settings, config, repo.source_revision(config), writer)
        manifest = sops_secrets.folder_manifest(rendered, folder, repo.root)
        extra = flagger.cluster_files(repo.fleet.settings, config.cluster)
        files = folder_files(rendered, resources, manifest, extra)
        if staging is not None:
            staged.append(staging.put(config.cluster.name, files))
        else:
            planned.append((folder, files))
        clusters.append(config.cluster.name)
        referenced.update(config.files())
        referenced.update(ref.path for ref in rendered.sops)
        advance(1)
    return (staged if staging is not None else planned), clusters, sorted(referenced)


def _write_planned(planned: Planned) -> WriteReport:
    report = WriteReport()
    for folder, files in planned:
        write_folder(folder, files, report)
    return report


# The repository and request a forked worker renders with; set in the parent just before the
# fork, so the children inherit parsed files and merged environments instead of redoing them.
_FORKED: tuple[Repository, Path | None, Sequence[str], hashing.PrettyJson, Staging | None] | None = None


def _render_chunk(refs: Sequence[TargetRef]) -> tuple[Any, list[str], list[str]]:
    assert _FORKED is not None
    repo, out, resources, writer, staging = _FORKED  # the writer lives on across a worker's chunks
    with collector.paused():  # a chunk's objects are short-lived and hold no cycles
        return _render_targets(repo, refs, out, resources, lambda done: None, writer, staging)


def _render_in_processes(
    repo: Repository,
    refs: Sequence[TargetRef],
    out: Path | None,
    resources: Sequence[str],
    advance: Callable[[int], None],
    workers: int,
    staging: Staging | None = None,
) -> tuple[Any, list[str], list[str]]:
    global _FORKED
    import multiprocessing

    repo.prepare_for_fork([ref.environment for ref in refs])
    _FORKED = (repo, out, resources, hashing.PrettyJson(), staging)
    size = max(_CHUNK, len(refs) // (workers * 4))
    chunks = [refs[i : i + size] for i in range(0, len(refs), size)]
    planned: list[Any] = []
    clusters: list[str] = []
    referenced: set[str] = set()
    # the parsed repository is shared with the workers page by page until someone writes to a
    # page; the collector's passes write to every object's header, so the inherited objects
    # are frozen out of its passes while the workers run
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part, (chunk_planned, chunk_clusters, chunk_files) in zip(
                chunks, pool.imap(_render_chunk, chunks), strict=True
            ):
                planned.extend(chunk_planned)
                clusters.extend(chunk_clusters)
                referenced.update(chunk_files)
                advance(len(part))
    finally:
        _FORKED = None
        gc.unfreeze()
    return planned, clusters, sorted(referenced)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lamina")
    except PackageNotFoundError:
        return "unknown"
