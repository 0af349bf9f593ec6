"""What the server needs to know, read once at the edge (the ``lamina serve`` command)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one server process.

    Attributes:
        database_url: the state database (None: the repository's .lamina/state.db).
        tokens_file: the bearer tokens file.
        environ: the process environment values the server may use (sink URLs, signing keys);
            passed in so no module reads os.environ by itself.
        rollout_interval: seconds between looks for running rollouts nobody drives (the server
            drives them); zero: the server drives none.
    """

    repo_root: Path
    tokens_file: Path | None
    database_url: str | None = None
    max_body_bytes: int = 1_000_000
    rollout_interval: float = 2.0
    environ: dict[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # never show environment values (they may hold webhook URLs)
        return f"ServerSettings(repo_root={self.repo_root!s}, tokens_file={self.tokens_file!s})"
