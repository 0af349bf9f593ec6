"""The runner: per-repository work done once, every target checked, each shared problem once."""

from __future__ import annotations

from conftest import WriteRepo
from lamina.resolve.repository import Repository
from lamina.validate import runner

from .fleets import FLEET, LAMINA_TOML

POLICY = '[[policy]]\nname = "p"\nrule = "config.agent.temperature < 1.0"\n'


def test_schemas_and_policies_are_prepared_once_per_repository(write_repo: WriteRepo) -> None:
    root = write_repo({**FLEET, "policies/p.toml": POLICY, "schema/a.schema.json": '{"type": "object"}'})
    with Repository(root) as repo, Repository(root) as other:
        prepared = runner.prepare(repo)
        assert runner.prepare(repo) is prepared
        assert runner.prepare(other) is not prepared
        assert [p.policy.name for p in prepared.policies] == ["p"]
        assert [s.path for s in prepared.schemas] == ["schema/a.schema.json"]


def test_an_environment_without_clusters_is_checked_at_environment_level(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            **FLEET,
            "lamina.toml": LAMINA_TOML + '\n[environments.qa]\nupstream = "staging"\n',
            "policies/p.toml": POLICY,
            "overlays/qa/agent-patch.toml": "[agent]\ntemperature = 1.5   # chaos testing\n",
        }
    )
    with Repository(root) as repo:
        report = runner.run(repo)
    assert report.targets == ("staging/stg-1", "production/prod-1", "qa", "production-eu/eu-1")
    assert [str(d) for d in report.diagnostics] == [
        "overlays/qa/agent-patch.toml:2: qa: agent.temperature: policy p failed "
        "(policy 'p', policies/p.toml:1; agent.temperature is 1.5)"
    ]


def test_a_problem_in_a_shared_file_is_reported_once(write_repo: WriteRepo) -> None:
    root = write_repo({**FLEET, "base/vendor.toml": 'vendor_token = "abc"\n'})
    with Repository(root) as repo:
        problems = runner.validate(repo)
    assert [(p.check, str(p.place), p.target) for p in problems] == [
        ("credentials", "base/vendor.toml:1", None)
    ]
