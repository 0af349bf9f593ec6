"""Real age keys (age-keygen) and files encrypted by the real sops, for tests of SOPS references."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from lamina.secrets import sops


@dataclass(frozen=True)
class AgeKey:
    """An age identity made by age-keygen: its file and its public recipient."""

    file: Path
    recipient: str

    def encrypt(self, plain: str, kind: str = "yaml") -> bytes:
        """plain (YAML or JSON text) encrypted by the real sops for this key."""
        done = subprocess.run(
            [
                sops.binary(),
                "encrypt",
                "--age",
                self.recipient,
                "--input-type",
                kind,
                "--output-type",
                kind,
                "/dev/stdin",
            ],
            input=plain.encode(),
            capture_output=True,
            check=True,
        )
        return done.stdout


def make_key(folder: Path) -> AgeKey:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "key.txt"
    subprocess.run(["age-keygen", "-o", str(path)], capture_output=True, check=True)
    recipient = subprocess.run(["age-keygen", "-y", str(path)], capture_output=True, check=True, text=True)
    return AgeKey(path, recipient.stdout.strip())
