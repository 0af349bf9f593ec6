"""``lamina audit --env --actor --action --since``."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import run_lamina as lamina


def test_audit_filters_on_the_command_line(example_repo: Path) -> None:
    for user, env in (("ann@example.com", "production"), ("bob@example.com", "staging")):
        done = lamina(
            "freeze", env, "--until", "2h", "--reason", "r", cwd=example_repo, env={"LAMINA_USER": user}
        )
        assert done.returncode == 0, done.stderr

    def rows(*args: str) -> list[tuple[str, str | None]]:
        done = lamina("audit", "--json", *args, cwd=example_repo)
        assert done.returncode == 0, done.stderr
        return [(row["actor"], row["environment"]) for row in json.loads(done.stdout)]

    assert rows("--actor", "bob@example.com") == [("bob@example.com", "staging")]
    assert rows("--env", "production") == [("ann@example.com", "production")]
    assert len(rows("--since", "1h")) == 2
    assert rows("--since", "2999-01-01T00:00:00Z") == []
    table = lamina("audit", "--actor", "ann@example.com", cwd=example_repo).stdout
    assert "reason=r; until=" in table  # the freeze's reason and end, at a glance
    done = lamina("audit", "--since", "last week", cwd=example_repo)
    assert (done.returncode, done.stderr) == (
        2,
        "error: --since 'last week' is neither an ISO 8601 time nor a duration like '7d'\n",
    )
