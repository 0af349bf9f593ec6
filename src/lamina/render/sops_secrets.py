"""The Secret of a target's SOPS keys: decrypted in memory, sent to the cluster, nowhere else.

For an API cluster the Secret ``<fleet>-secrets-<hash>`` is built from the decrypted values and
sent as the request body; nothing else (outcome, actions, logs, the database) ever holds them.
For a directory cluster (the GitOps hand-off) the folder gets the same Secret as a manifest
encrypted by sops for the source file's recipients; Flux decrypts it in the cluster.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from lamina.errors import InputError
from lamina.render import configmaps
from lamina.render.configmaps import RenderedConfig
from lamina.secrets import sops

ANNOTATION_DIGEST = "lamina.dev/sops-digest"
MANIFEST_SUFFIX = ".enc.yaml"


def _read(root: Path, path: str) -> bytes:
    try:
        return (root / path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the SOPS file: {exc.strerror}") from None


def digest(rendered: RenderedConfig, root: Path) -> str:
    """What the Secret holds, as a digest of the encrypted files and the keys taken (no values)."""
    parts = [str(ref) for ref in rendered.sops]
    parts += [f"{path}={hashlib.sha256(_read(root, path)).hexdigest()}" for path in _paths(rendered)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _paths(rendered: RenderedConfig) -> list[str]:
    return sorted({ref.path for ref in rendered.sops})


def _metadata(rendered: RenderedConfig, root: Path) -> dict[str, Any]:
    labels = {
        key: rendered.labels[key]
        for key in (configmaps.MANAGED_BY, configmaps.LABEL_ENVIRONMENT, configmaps.LABEL_CLUSTER)
    }
    return {
        "name": rendered.secret_name,
        "namespace": rendered.namespace,
        "labels": labels,
        "annotations": {ANNOTATION_DIGEST: digest(rendered, root)},
    }


def secret_body(rendered: RenderedConfig, root: Path) -> dict[str, Any]:
    """The Secret with the decrypted values (base64, as the API keeps them). Send it, drop it.

    Raises:
        OutsideError: sops could not decrypt a file (its path and sops's reason).
        InputError: a key is missing from its file, or two files give one data key.
    """
    data: dict[str, str] = {}
    owners: dict[str, str] = {}
    for path in _paths(rendered):
        values = sops.decrypt(path, _read(root, path))
        for ref in rendered.sops:
            if ref.path != path:
                continue
            if ref.key not in values:
                raise InputError(f"{path}: SOPS file has no key {ref.key!r}")
            key = sops.data_key(ref.key)
            if key in owners and owners[key] != path:
                raise InputError(f"{owners[key]} and {path} both give Secret key {key!r}; rename one")
            owners[key] = path
            data[key] = base64.b64encode(values[ref.key].encode("utf-8")).decode("ascii")
        del values
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _metadata(rendered, root),
        "data": data,
    }


def manifest_name(rendered: RenderedConfig) -> str:
    """The file name of the encrypted Secret manifest in a cluster folder."""
    return f"{rendered.secret_name}{MANIFEST_SUFFIX}"


def encrypted_manifest(rendered: RenderedConfig, root: Path) -> bytes:
    """The Secret as a manifest whose ``data`` sops encrypted for the source files' recipients."""
    from lamina.render import yamltext

    body = secret_body(rendered, root)
    plain = yamltext.dump_simple(body).encode()
    del body
    source = sops.inspect(_paths(rendered)[0], _read(root, _paths(rendered)[0]))
    return sops.encrypt_manifest(plain, source)


def manifest_digest(text: bytes) -> str | None:
    """The digest annotation of an encrypted manifest (kept in clear by sops), or None."""
    for line in text.decode("utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if stripped.startswith(f"{ANNOTATION_DIGEST}:"):
            return stripped.split(":", 1)[1].strip().strip("'\"")
    return None


def preflight(rendered: list[RenderedConfig], root: Path) -> None:
    """Prove every SOPS file these targets use decrypts, before anything is written anywhere.

    Raises:
        OutsideError: sops could not decrypt one (exit 3, naming the file and sops's reason).
    """
    paths = sorted({ref.path for one in rendered for ref in one.sops})
    for path in paths:
        values = sops.decrypt(path, _read(root, path))
        del values


def folder_manifest(rendered: RenderedConfig, folder: Path, root: Path) -> bytes | None:
    """The encrypted Secret manifest a cluster folder should hold (None: no SOPS keys).

    sops encrypts with fresh randomness each time, so a manifest already in the folder whose
    digest annotation still matches is kept byte for byte: an unchanged fleet renders unchanged.
    """
    if not rendered.sops:
        return None
    existing = folder / manifest_name(rendered)
    if existing.is_file():
        text = existing.read_bytes()
        if manifest_digest(text) == digest(rendered, root):
            return text
    return encrypted_manifest(rendered, root)
