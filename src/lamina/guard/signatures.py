"""Decisions signed with an SSH key: a name proven without a server.

On the command line, ``--sign-with KEY`` (or ``$LAMINA_SIGNING_KEY``) signs the decision with
``ssh-keygen -Y sign`` over a canonical text of exactly what is decided (the action, the
request and its config hashes, or the targets and hashes a ``--force`` ships, and the reason)
in the namespace ``lamina-decision``; lamina then verifies it with ``ssh-keygen -Y verify``
against ``[promotion] allowed_signers`` (git's allowed-signers format: ``name key-type key``)
for the claimed name. A signature binds to its content: it cannot be replayed for another
request or other hashes.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lamina.errors import InputError, OutsideError, RuleRefused

NAMESPACE = "lamina-decision"


def payload(action: str, actor: str, subject: Mapping[str, Any]) -> bytes:
    """The canonical text a decision's signature covers."""
    body = {"action": action, "actor": actor, **subject}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(key: Path, message: bytes) -> str:
    """An SSH signature of message made with the private key at key.

    Raises:
        InputError: the key cannot be used.
        OutsideError: ssh-keygen is missing.
    """
    if not key.is_file():
        raise InputError(f"--sign-with {key}: no such key file")
    done = _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", NAMESPACE], message)
    if done.returncode != 0 or "BEGIN SSH SIGNATURE" not in done.stdout.decode("utf-8", "replace"):
        reason = _first_line(done.stderr) or "ssh-keygen refused to sign"
        raise InputError(f"--sign-with {key}: cannot sign: {reason}")
    return done.stdout.decode("ascii")


def verify(allowed_signers: Path, identity: str, message: bytes, signature: str) -> None:
    """Return when signature is identity's signature of message by allowed_signers; raise otherwise.

    Raises:
        RuleRefused: the signature is not identity's (or the file does not list identity).
        InputError: allowed_signers is missing.
    """
    if not allowed_signers.is_file():
        raise InputError(f"[promotion] allowed_signers: no file at {allowed_signers}")
    with tempfile.NamedTemporaryFile("w", suffix=".sig", encoding="ascii") as sig:
        sig.write(signature)
        sig.flush()
        done = _ssh_keygen(
            ["-Y", "verify", "-f", str(allowed_signers), "-I", identity, "-n", NAMESPACE, "-s", sig.name],
            message,
        )
    if done.returncode != 0:
        raise RuleRefused(
            f"the SSH signature is not {identity}'s by {allowed_signers.name} "
            f"({_first_line(done.stderr) or _first_line(done.stdout) or 'verification failed'})"
        )


def _ssh_keygen(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["ssh-keygen", *args], input=stdin, capture_output=True, check=False, timeout=30
        )
    except FileNotFoundError:
        raise OutsideError("ssh-keygen is not installed (it signs and verifies decisions)") from None
    except subprocess.TimeoutExpired:
        raise OutsideError(
            "ssh-keygen did not answer within 30 s (does the key need a passphrase?)"
        ) from None


def _first_line(raw: bytes) -> str:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
