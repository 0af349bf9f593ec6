"""Parity between environments: array items of named tables are paired by name."""

from __future__ import annotations

from conftest import WriteRepo
from lamina.core.paths import format_path
from lamina.reports import parity
from lamina.resolve.repository import Repository

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]
"""

BASE = """
[[tools]]
name = "search"
timeout_seconds = 5

[[tools]]
name = "kb"
timeout_seconds = 5
"""

PROD = """
[tools]
"$merge_by" = "name"

[[tools."$items"]]
name = "kb"
# INC-7: the kb is slow in prod
timeout_seconds = 9

[[tools."$items"]]
name = "crm"
timeout_seconds = 3
"""


def test_named_items_are_compared_by_name_with_their_reason(write_repo: WriteRepo) -> None:
    root = write_repo({"lamina.toml": FLEET, "base/tools.toml": BASE, "overlays/prod/tools.toml": PROD})
    with Repository(root) as repo:
        found = {format_path(difference.path): difference for difference in parity.parity(repo)}
    assert sorted(found) == ["tools[crm].name", "tools[crm].timeout_seconds", "tools[kb].timeout_seconds"]
    dev, prod = found["tools[kb].timeout_seconds"].sides
    assert (dev.value, prod.value) == (5, 9)
    assert (prod.where, prod.reason) == ("overlays/prod/tools.toml:7", "INC-7: the kb is slow in prod")
    dev, prod = found["tools[crm].name"].sides
    assert (dev.present, prod.present) == (False, True)
