"""The example fleet resolves end to end through the library."""

from __future__ import annotations

from pathlib import Path

import lamina


def test_example_fleet_resolves_every_target(example_repo: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        configs = list(repo.resolve_all())
    assert [str(c.target) for c in configs] == [
        "development/local-dev",
        "staging/staging-us-1",
        "production/prod-us-1",
        "production/prod-us-2",
        "production-eu/prod-eu-1",
    ]
    eu = configs[-1]
    assert eu.data["agent"]["provider"] == "azure-openai"
    assert eu.data["guardrails"]["max_tool_calls"] == 8
    assert eu.data["agent"]["api_key"] == {"secret": "openai/api-key"}
    assert len({c.config_hash for c in configs}) == 5
