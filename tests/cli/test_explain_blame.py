"""``lamina explain TARGET KEY --blame``: who last changed each line that set the key, and when."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cli_support import run_lamina as lamina
from conftest import WriteRepo

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[clusters.prod-1]
environment = "prod"
"""

AUTHORS = {
    "alice": ("base/agent.toml", '[agent]\nmodel = "small"\n', "2026-01-02T03:04:05Z"),
    "bob": ("overlays/prod/agent.toml", '[agent]\n# bigger in prod\nmodel = "big"\n', "2026-02-03T04:05:06Z"),
    "carol": ("clusters/prod-1.toml", '[agent]\n\n# eu capacity\nmodel = "huge"\n', "2026-03-04T05:06:07Z"),
}


def commit_as(root: Path, name: str, path: str, text: str, when: str) -> str:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)
    identity = ["-c", f"user.name={name.title()}", "-c", f"user.email={name}@example.com"]
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), *identity, "commit", "-q", "-m", f"{name}: {path}"], check=True, env=env
    )
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def test_blame_names_three_authors_one_per_layer(write_repo: WriteRepo) -> None:
    root = write_repo({"lamina.toml": FLEET})
    subprocess.run(["git", "-C", str(root), "init", "-q", "-b", "main"], check=True)
    commits = {name: commit_as(root, name, *spec) for name, spec in AUTHORS.items()}
    done = lamina("explain", "prod/prod-1", "agent.model", "--blame", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    layers = json.loads(done.stdout)["layers"]
    assert [(layer["file"], layer["line"], layer["blame"]) for layer in layers] == [
        (
            path,
            text.splitlines().index(next(line for line in text.splitlines() if line.startswith("model"))) + 1,
            {
                "commit": commits[name],
                "author": name.title(),
                "email": f"{name}@example.com",
                "date": when,
                "summary": f"{name}: {path}",
            },
        )
        for name, (path, text, when) in AUTHORS.items()
    ]
    table = lamina("explain", "prod/prod-1", "agent.model", "--blame", cwd=root).stdout
    assert f"{commits['carol'][:10]} Carol 2026-03-04T05:06:07Z" in table
    # an edit not yet committed says so, rather than naming the last committer
    (root / "clusters/prod-1.toml").write_text('[agent]\nmodel = "other"\n')
    layers = json.loads(
        lamina("explain", "prod/prod-1", "agent.model", "--blame", "--json", cwd=root).stdout
    )["layers"]
    assert layers[-1]["blame"]["commit"] is None
    assert layers[-1]["blame"]["author"] == "not committed yet"
    assert layers[0]["blame"]["author"] == "Alice"
