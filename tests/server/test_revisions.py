"""The clone a server serves follows its remote, even past a revision whose lamina.toml is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import commit_all, git, seeded_remote
from lamina.errors import InputError
from lamina.resolve.repository import Repository
from lamina.server import revisions


@pytest.fixture
def seed_and_clone(tmp_path: Path) -> tuple[Path, Path]:
    remote, seed = seeded_remote(tmp_path, '\n[git]\nfetch_interval = "1h"\n')
    clone = tmp_path / "served"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    return seed, clone


def test_a_broken_lamina_toml_is_served_and_the_fix_fetched_after_it(
    seed_and_clone: tuple[Path, Path],
) -> None:
    seed, clone = seed_and_clone
    fetched: list[str | None] = []
    sync = revisions.GitSync(clone, {}, lambda revision, _branch: fetched.append(revision))
    assert sync.sync().fetched
    fleet = seed / "lamina.toml"
    good = fleet.read_text()
    fleet.write_text(good.replace("[fleet]", "[fleet", 1))
    broken = commit_all(seed, "a typo")
    git(seed, "push", "-q", "origin", "main")

    assert sync.sync().after == broken
    with pytest.raises(InputError):
        Repository(clone)  # what the clone serves now does not load
    assert sync.settings().remote == "origin"  # [git] as the revision before said

    fleet.write_text(good)
    fixed = commit_all(seed, "the typo fixed")
    git(seed, "push", "-q", "origin", "main")
    synced = sync.sync()

    assert (synced.before, synced.after, synced.fetched) == (broken, fixed, True)
    assert fetched[1:] == [broken, fixed]
    assert sync.failures == 0
