"""A small fleet to break one rule at a time, and a way to validate it in-process."""

from __future__ import annotations

import pytest

from conftest import WriteRepo
from lamina.resolve.repository import Repository
from lamina.validate import runner

from .fleets import FLEET, Validate


@pytest.fixture
def validate(write_repo: WriteRepo) -> Validate:
    """Write FLEET plus the given files (None-free overrides) and return every problem as text."""

    def run(files: dict[str, str]) -> list[str]:
        root = write_repo({**FLEET, **files})
        with Repository(root) as repo:
            return [str(diagnostic) for diagnostic in runner.validate(repo)]

    return run
