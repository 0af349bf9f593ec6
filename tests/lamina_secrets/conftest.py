"""Fixtures for lamina.secrets (the folder is not named ``secrets``: that would hide the stdlib module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sops_support import AgeKey, make_key


@pytest.fixture
def age_key(tmp_path: Path) -> AgeKey:
    return make_key(tmp_path / "age")


@pytest.fixture
def other_key(tmp_path: Path) -> AgeKey:
    return make_key(tmp_path / "other-age")
