"""Accept drift: write the live values of a drifted cluster into its cluster layer.

Instead of healing a change made by hand, ``lamina drift ENV/CLUSTER --adopt --reason T``
turns it into a reviewed git change: each differing field becomes an override in
``clusters/<name>.toml`` (or the cluster's folder), edited in place so comments and order
survive, with the reason written as the override's comment (which ``explain`` and
``parity`` then show). A field removed on the cluster becomes ``{"$delete" = true}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.core import diffs
from lamina.core.paths import KeyPath, get_path, parse_path
from lamina.core.states import DriftStatus
from lamina.drift.status import FILE_PREFIX, OBJECT_PREFIX, DriftReport
from lamina.errors import InputError, Refused
from lamina.source import documents
from lamina.source.edits import EditableFile, write_atomic


@dataclass(frozen=True)
class Adoption:
    """What adopting wrote."""

    file: str
    paths: tuple[str, ...]
    skipped: tuple[str, ...]


def layer_file(root: Path, cluster: str) -> Path:
    """The file an override of cluster goes into (created when the cluster has no layer)."""
    folder = root / "clusters" / cluster
    if folder.is_dir():
        candidates = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix in documents.CONFIG_SUFFIXES
        )
        return candidates[0] if candidates else folder / "adopted.toml"
    for suffix in documents.CONFIG_SUFFIXES:
        path = root / "clusters" / f"{cluster}{suffix}"
        if path.is_file():
            return path
    return root / "clusters" / f"{cluster}.toml"


def adopt(root: Path, report: DriftReport, reason: str) -> Adoption:
    """Write report's drifted live values into the cluster's layer, each with reason as its comment.

    Only fields changed by hand are adopted: an out-of-sync field holds what an earlier lamina
    render had (git moved on since), and writing it back would silently revert the newer commit.

    Raises:
        Refused: the cluster has not drifted (nothing to adopt).
        InputError: the reason is empty or spans lines.
    """
    drifted = [item for item in report.fields if item.status is DriftStatus.DRIFTED]
    if report.status is not DriftStatus.DRIFTED or not drifted:
        raise Refused(f"{report.target} is {report.status.value}: there is no drift to adopt")
    reason = reason.strip()
    if not reason or "\n" in reason:
        raise InputError("--reason must be one line of text explaining why the live values are accepted")
    path = layer_file(root, report.cluster)
    rel = path.relative_to(root).as_posix()
    raw = path.read_bytes().decode("utf-8") if path.is_file() else ""
    crlf = "\r\n" in raw  # a file with Windows line endings keeps them: one adoption, one line of diff
    text = raw.replace("\r\n", "\n")
    editable = EditableFile(rel, text)
    written: list[str] = []
    skipped = [item.path for item in report.fields if item.status is not DriftStatus.DRIFTED]
    for item in drifted:
        if item.path.startswith(FILE_PREFIX):
            skipped.append(item.path)  # a prompt file: its text is adopted through the config field
            continue
        if item.path.startswith(OBJECT_PREFIX):
            skipped.append(item.path)  # isolation and sizing: lamina.toml or [workload], by hand
            continue
        if report.live_config is None:
            skipped.append(item.path)  # what runs is not readable config
            continue
        key = parse_path(item.path)
        if any(not isinstance(part, str) for part in key):
            skipped.append(item.path)  # array items cannot be overridden one by one
            continue
        value: Any = {"$delete": True} if item.actual is diffs.ABSENT else _live_value(report, key)
        _set_with_comment(editable, key, value, reason)
        written.append(item.path)
    if not written:
        raise Refused(f"{report.target}: no field of this drift can be written as an override")
    path.parent.mkdir(parents=True, exist_ok=True)
    written_text = editable.text()
    write_atomic(path, written_text.replace("\n", "\r\n") if crlf else written_text)
    return Adoption(rel, tuple(written), tuple(skipped))


def _live_value(report: DriftReport, key: KeyPath) -> Any:
    # the report's fields are masked for people; the live value itself is what gets adopted
    assert report.live_config is not None
    return get_path(report.live_config, key)


def _set_with_comment(editable: EditableFile, key: KeyPath, value: Any, reason: str) -> None:
    comment = f"adopted from the live cluster: {reason}"
    if editable.kind == "toml":
        import tomlkit

        item = tomlkit.item(value)
        if isinstance(item, tomlkit.items.Table):
            item = tomlkit.inline_table()
            item.update(value)
        item.comment(comment)
        editable.set(key, item)
        return
    editable.set(key, value)
    if editable.kind in ("yaml", "yml"):
        parent = editable.doc
        for part in key[:-1]:
            parent = parent[part]
        parent.yaml_add_eol_comment(comment, key[-1])
