"""A resolved config as a value: its hash and file texts belong to its own data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lamina


def test_a_copy_with_other_data_hashes_its_own_data(example_repo: Path) -> None:
    config = lamina.resolve(example_repo, "production-eu/prod-eu-1")
    before = config.config_hash
    changed = replace(config, data={**config.data, "extra": 1})
    assert changed.config_hash == lamina.config_hash(changed.data)
    assert changed.config_hash != before
    assert config.config_hash == before == lamina.config_hash(config.data)


def test_file_texts_are_found_in_the_data_when_the_resolver_did_not_give_them(example_repo: Path) -> None:
    config = lamina.resolve(example_repo, "production-eu/prod-eu-1")
    assert config.files()
    assert replace(config, _file_texts=None).files() == config.files()


def test_a_target_at_a_revision_keeps_its_config(example_repo: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        now = repo.resolve("production-eu/prod-eu-1")
        at_head = repo.resolve("production-eu/prod-eu-1@HEAD")
    assert str(at_head.target) == "production-eu/prod-eu-1@HEAD"
    assert (at_head.config_hash, at_head.files()) == (now.config_hash, now.files())
