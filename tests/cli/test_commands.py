"""The ``lamina`` command, run for real as a subprocess on the ``lamina init`` example."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from cli_support import run_lamina as lamina
from conftest import unguard

TARGETS = [
    "development/local-dev",
    "staging/staging-us-1",
    "production/prod-us-1",
    "production/prod-us-2",
    "production-eu/prod-eu-1",
]


def ok(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = lamina(*args, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`lamina init` output, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("cli") / "fleet"
    done = lamina("init", root)
    assert done.returncode == 0, done.stderr
    yield root
    assert git(root, "status", "--porcelain") == "", "a read-only test changed the example"


@pytest.fixture
def fleet(example: Path, tmp_path: Path) -> Path:
    """A private copy of the example (with its git history) that a test may change."""
    root = tmp_path / "fleet"
    shutil.copytree(example, root, symlinks=True)
    return root


# -- init --------------------------------------------------------------------------------


def test_init_writes_a_committed_example(tmp_path: Path) -> None:
    root = tmp_path / "agent-configs"
    out = ok("init", root)
    written = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts]
    assert (
        out == f"wrote {len(written)} files to {root} and committed them\nnext: lamina --repo {root} envs\n"
    )
    for rel in [
        "lamina.toml",
        "base/agent.toml",
        "base/tools.toml",
        "base/guardrails.toml",
        "base/prompts/system_prompt.txt",
        "overlays/development/agent-patch.toml",
        "overlays/staging/agent-patch.toml",
        "overlays/production/agent-patch.toml",
        "overlays/production-eu/agent-patch.toml",
        "clusters/prod-eu-1.toml",
        "schema/agent.schema.json",
        "policies/production.toml",
    ]:
        assert (root / rel).is_file(), rel
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "rev-list", "--count", "HEAD") == "2"  # the example, then its pins
    first = git(root, "rev-list", "--max-parents=0", "HEAD")
    lock = (root / "lamina.lock").read_text()
    for env in ("staging", "production", "production-eu"):
        assert f'[environments.{env}]\nrevision = "{first}"' in lock
    assert "development" not in lock
    assert git(root, "rev-parse", "--show-toplevel") == str(root.resolve())


def test_init_without_git(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    out = ok("init", root, "--no-git")
    assert out.startswith("wrote ")
    assert out.endswith(f" files to {root}\nnext: lamina --repo {root} envs\n")
    assert (root / "lamina.toml").is_file()
    assert not (root / ".git").exists()


def test_init_refuses_to_overwrite_a_fleet(example: Path) -> None:
    before = (example / "lamina.toml").read_bytes()
    done = lamina("init", example)
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr == f"error: {example / 'lamina.toml'}: a fleet already lives here; not overwriting it\n"
    )
    assert (example / "lamina.toml").read_bytes() == before


# -- envs and clusters ---------------------------------------------------------------------


def test_envs_json(example: Path) -> None:
    first = git(example, "rev-list", "--max-parents=0", "HEAD")  # lamina init pins all but development
    assert json.loads(ok("--repo", example, "envs", "--json")) == [
        {
            "name": "development",
            "stage": "development",
            "extends": None,
            "upstream": None,
            "pin": None,
            "clusters": ["local-dev"],
        },
        {
            "name": "staging",
            "stage": "staging",
            "extends": None,
            "upstream": "development",
            "pin": first,
            "clusters": ["staging-us-1"],
        },
        {
            "name": "production",
            "stage": "production",
            "extends": None,
            "upstream": "staging",
            "pin": first,
            "clusters": ["prod-us-1", "prod-us-2"],
        },
        {
            "name": "production-eu",
            "stage": "production",
            "extends": "production",
            "upstream": "staging",
            "pin": first,
            "clusters": ["prod-eu-1"],
        },
    ]


def test_envs_table(example: Path) -> None:
    first = git(example, "rev-list", "--max-parents=0", "HEAD")[:12]
    rows = [line.split() for line in ok("--repo", example, "envs").splitlines()]
    assert rows == [
        ["ENVIRONMENT", "STAGE", "EXTENDS", "UPSTREAM", "PIN", "CLUSTERS"],
        ["development", "development", "-", "-", "working", "tree", "local-dev"],
        ["staging", "staging", "-", "development", first, "staging-us-1"],
        ["production", "production", "-", "staging", first, "prod-us-1,", "prod-us-2"],
        ["production-eu", "production", "production", "staging", first, "prod-eu-1"],
    ]


def test_envs_show_the_pinned_base_revision(fleet: Path) -> None:
    head = git(fleet, "rev-parse", "HEAD")
    (fleet / "lamina.lock").write_text(
        f'[environments.production]\nrevision = "{head}"\nset_at = "2026-11-28T10:00:00+00:00"\n'
    )
    pins = {row["name"]: row["pin"] for row in json.loads(ok("--repo", fleet, "envs", "--json"))}
    assert pins == {"development": None, "staging": None, "production": head, "production-eu": None}
    rows = {line.split()[0]: line.split() for line in ok("--repo", fleet, "envs").splitlines()}
    assert rows["production"][4] == head[:12]


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        pytest.param(None, [t.split("/")[1] for t in TARGETS], id="all"),
        pytest.param("region=us-east-1", ["staging-us-1", "prod-us-1"], id="equals"),
        pytest.param("wave=2,region!=eu-west-1", ["prod-us-2"], id="two-clauses"),
        pytest.param("wave", [t.split("/")[1] for t in TARGETS], id="exists"),
        pytest.param("!wave", [], id="does-not-exist"),
    ],
)
def test_clusters_json_with_selector(example: Path, selector: str | None, names: list[str]) -> None:
    args = ["--repo", str(example), "clusters", "--json"]
    if selector is not None:
        args += ["--selector", selector]
    rows = json.loads(ok(*args))
    assert [row["name"] for row in rows] == names


def test_clusters_json_shape(example: Path) -> None:
    rows = json.loads(ok("--repo", example, "clusters", "--json", "-l", "region=eu-west-1"))
    checks = rows[0].pop("checks")
    assert (checks["reachable"], checks["version"], checks["namespace_present"]) == (True, "directory", False)
    assert rows == [
        {
            "name": "prod-eu-1",
            "environment": "production-eu",
            "namespace": "ai-agents",
            "kind": "directory",
            "context": None,
            "directory": "out/prod-eu-1",
            "labels": {"region": "eu-west-1", "wave": "2"},
            "suspended": False,
            "health": "ok (directory, not rendered yet)",
        }
    ]


def test_clusters_table_with_selector(example: Path) -> None:
    lines = ok("--repo", example, "clusters", "--selector", "region=us-east-1").splitlines()
    assert lines[0].split() == ["CLUSTER", "ENVIRONMENT", "NAMESPACE", "WHERE", "LABELS", "HEALTH"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["staging-us-1", "staging", "ai-agents", "dir:out/staging-us-1"],
        ["prod-us-1", "production", "ai-agents", "dir:out/prod-us-1"],
    ]


# -- build ---------------------------------------------------------------------------------


def keys_sorted_everywhere(node: Any) -> bool:
    if isinstance(node, dict):
        return list(node) == sorted(node) and all(keys_sorted_everywhere(v) for v in node.values())
    if isinstance(node, list):
        return all(keys_sorted_everywhere(v) for v in node)
    return True


def canonical_sha256(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_build_json(example: Path) -> None:
    config = json.loads(ok("--repo", example, "build", "production-eu/prod-eu-1"))
    assert keys_sorted_everywhere(config)
    assert config["agent"]["provider"] == "azure-openai"
    assert config["agent"]["model"] == "gpt-4o"
    assert config["agent"]["api_key"] == {"secret": "openai/api-key"}
    assert config["agent"]["system_prompt"].startswith("You are the support assistant of Example Corp.\n")
    assert config["guardrails"]["max_tool_calls"] == 8
    assert config["guardrails"]["blocked_topics"][-1] == "customer profiling"
    assert config["memory"]["url"] == "redis://agent-memory-eu.ai-agents.svc:6379/0"
    assert config["observability"]["service_name"] == "support-agent-prod-eu-1"
    assert [tool["endpoint"] for tool in config["tools"] if tool["name"] == "crm"] == [
        "https://crm.eu.example.com/api"
    ]


@pytest.mark.parametrize("target", ["development/local-dev", "production-eu/prod-eu-1", "staging"])
def test_build_formats_agree_and_hash_is_sha256_of_canonical_json(example: Path, target: str) -> None:
    as_json = json.loads(ok("--repo", example, "build", target, "--format", "json"))
    as_yaml = YAML(typ="safe").load(ok("--repo", example, "build", target, "--format", "yaml"))
    as_toml = tomllib.loads(ok("--repo", example, "build", target, "--format", "toml"))
    assert as_yaml == as_json
    assert as_toml == as_json
    assert keys_sorted_everywhere(as_yaml)
    assert ok("--repo", example, "build", target, "--hash") == canonical_sha256(as_json) + "\n"


def test_build_default_format_is_json_and_hashes_differ_per_target(example: Path) -> None:
    assert json.loads(ok("--repo", example, "build", "production")) == json.loads(
        ok("--repo", example, "build", "production", "-o", "json")
    )
    hashes = {ok("--repo", example, "build", target, "--hash") for target in TARGETS}
    assert len(hashes) == len(TARGETS)


# -- explain -------------------------------------------------------------------------------


def test_explain_json_lists_every_layer_winner_last(example: Path) -> None:
    out = ok("--repo", example, "explain", "production-eu/prod-eu-1", "guardrails.max_tool_calls", "--json")
    assert json.loads(out) == {
        "target": "production-eu/prod-eu-1",
        "key": "guardrails.max_tool_calls",
        "value": 8,
        "layers": [
            {
                "layer": "base",
                "file": "base/guardrails.toml",
                "line": 6,
                "value": 12,
                "reason": None,
            },
            {
                "layer": "overlays/production",
                "file": "overlays/production/agent-patch.toml",
                "line": 8,
                "value": 10,
                "reason": "bounded cost per conversation",
            },
            {
                "layer": "overlays/production-eu",
                "file": "overlays/production-eu/agent-patch.toml",
                "line": 5,
                "value": 8,
                "reason": "EU launch starts tighter than US production",
            },
        ],
    }


def test_explain_json_cluster_layer(example: Path) -> None:
    out = ok("--repo", example, "explain", "production/prod-us-2", "feature_flags.streaming", "--json")
    assert json.loads(out) == {
        "target": "production/prod-us-2",
        "key": "feature_flags.streaming",
        "value": False,
        "layers": [
            {"layer": "base", "file": "base/agent.toml", "line": 24, "value": True, "reason": None},
            {
                "layer": "clusters/prod-us-2",
                "file": "clusters/prod-us-2.toml",
                "line": 2,
                "value": False,
                "reason": "us-west-2's load balancer buffers responses; streaming stalls there",
            },
        ],
    }


def test_explain_json_reason_from_the_comment_above(example: Path) -> None:
    out = json.loads(ok("--repo", example, "explain", "production-eu", "guardrails.blocked_topics", "--json"))
    assert out["value"] == ["medical diagnosis", "legal advice", "investment advice", "customer profiling"]
    assert [(layer["file"], layer["line"], layer["reason"]) for layer in out["layers"]] == [
        ("base/guardrails.toml", 7, None),
        ("overlays/production-eu/agent-patch.toml", 7, "GDPR: the agent must not profile customers."),
    ]


def test_explain_table(example: Path) -> None:
    lines = ok("--repo", example, "explain", "production", "agent.model").splitlines()
    assert lines[0] == 'production  agent.model = "gpt-4o"'
    assert lines[1].split() == ["LAYER", "WHERE", "VALUE", "REASON"]
    assert lines[2].split() == ["base", "base/agent.toml:7", '"gpt-4o-mini"', "overridden"]
    assert lines[3].split()[:3] == [
        "overlays/production",
        "overlays/production/agent-patch.toml:2",
        '"gpt-4o"',
    ]
    assert "the model the quality bar was measured on" in lines[3]
    assert lines[3].split()[-1] == "won"
    assert len(lines) == 4


# -- diff ----------------------------------------------------------------------------------


def test_diff_same_config_exits_0(example: Path) -> None:
    done = lamina("--repo", example, "diff", "production/prod-us-1", "production/prod-us-1", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        "a": "production/prod-us-1",
        "b": "production/prod-us-1",
        "changes": [],
    }
    done = lamina("--repo", example, "diff", "production", "production")
    assert (done.returncode, done.stdout) == (0, "production and production resolve to the same config\n")


def test_diff_different_configs_exits_1(example: Path) -> None:
    done = lamina("--repo", example, "diff", "production/prod-us-1", "production/prod-us-2", "--json")
    assert done.returncode == 1
    assert done.stderr == ""
    assert json.loads(done.stdout) == {
        "a": "production/prod-us-1",
        "b": "production/prod-us-2",
        "changes": [{"path": "feature_flags.streaming", "a": True, "b": False}],
    }
    done = lamina("--repo", example, "diff", "production/prod-us-1", "production/prod-us-2")
    assert done.returncode == 1
    assert done.stdout == (
        "--- production/prod-us-1\n+++ production/prod-us-2\n~ feature_flags.streaming: true -> false\n"
        "1 difference\n"
    )


def test_diff_json_leaves_out_a_missing_side(fleet: Path) -> None:
    with (fleet / "overlays/staging/agent-patch.toml").open("a") as patch:
        patch.write('\n[feature_flags]\nproactive_followup = { "$delete" = true }   # not in staging yet\n')
    (fleet / "overlays/development/extra.toml").write_text('[agent]\nnickname = "dev-bot"   # demo\n')
    done = lamina("--repo", fleet, "diff", "development", "staging", "--json")
    assert done.returncode == 1
    changes = {change["path"]: change for change in json.loads(done.stdout)["changes"]}
    assert changes["feature_flags.proactive_followup"] == {
        "path": "feature_flags.proactive_followup",
        "a": True,
    }
    assert changes["agent.nickname"] == {"path": "agent.nickname", "a": "dev-bot"}
    assert changes["agent.model"] == {"path": "agent.model", "a": "gpt-4o-mini", "b": "gpt-4o"}
    done = lamina("--repo", fleet, "diff", "staging", "development", "--json")
    changes = {change["path"]: change for change in json.loads(done.stdout)["changes"]}
    assert changes["agent.nickname"] == {"path": "agent.nickname", "b": "dev-bot"}
    assert all(set(change) <= {"path", "a", "b", "diff"} for change in changes.values())


# -- parity --------------------------------------------------------------------------------


def test_parity_strict_passes_on_the_example(example: Path) -> None:
    done = lamina("--repo", example, "parity", "--strict")
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].endswith(" differing keys, 0 undocumented overrides")


def test_parity_strict_fails_on_an_override_without_a_reason(fleet: Path) -> None:
    (fleet / "overlays/production/logging.toml").write_text(
        '# a note about the file, not about the key\n\n[observability]\nlog_level = "warning"\n'
    )
    done = lamina("--repo", fleet, "parity", "--strict")
    assert done.returncode == 1
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1].endswith(" differing keys, 2 undocumented overrides")
    assert lamina("--repo", fleet, "parity").returncode == 0  # without --strict it only reports
    report = json.loads(lamina("--repo", fleet, "parity", "--json").stdout)
    assert report["undocumented"] == 2
    [log_level] = [d for d in report["differences"] if d["path"] == "observability.log_level"]
    assert log_level["undocumented"] == ["production", "production-eu"]
    assert log_level["set_in"]["production"] == "overlays/production/logging.toml:4"


def test_parity_strict_passes_once_the_override_has_a_reason(fleet: Path) -> None:
    (fleet / "overlays/production/logging.toml").write_text(
        '[observability]\nlog_level = "warning"   # info logs cost too much at production volume\n'
    )
    assert lamina("--repo", fleet, "parity", "--strict").returncode == 0


# -- revisions -----------------------------------------------------------------------------


def test_target_at_revision_reads_every_layer_from_git(example: Path, fleet: Path) -> None:
    unguard(fleet)  # staging reads base/ from the working tree again
    overlay = fleet / "overlays/production/agent-patch.toml"
    overlay.write_text(overlay.read_text().replace('"gpt-4o"', '"gpt-5"'))
    base = fleet / "base/agent.toml"
    base.write_text(base.read_text().replace("max_tokens    = 1024", "max_tokens    = 2048"))

    def value(target: str, key: str) -> Any:
        return json.loads(ok("--repo", fleet, "explain", target, key, "--json"))["value"]

    assert value("production", "agent.model") == "gpt-5"
    assert value("production@HEAD", "agent.model") == "gpt-4o"
    assert value("staging", "agent.max_tokens") == 2048
    assert value("staging@HEAD", "agent.max_tokens") == 1024
    explained = json.loads(
        ok("--repo", fleet, "explain", "production/prod-us-1@HEAD", "agent.model", "--json")
    )
    assert explained["target"] == "production/prod-us-1@HEAD"

    git(fleet, "add", "-A")
    git(fleet, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "gpt-5")
    assert value("production@HEAD", "agent.model") == "gpt-5"
    assert value("production@HEAD~1", "agent.model") == "gpt-4o"
    first = git(fleet, "rev-list", "--max-parents=0", "HEAD")
    assert value(f"production@{first[:10]}", "agent.model") == "gpt-4o"

    done = lamina("--repo", fleet, "diff", "production@HEAD~1", "production@HEAD", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == {
        "a": "production@HEAD~1",
        "b": "production@HEAD",
        "changes": [{"path": "agent.model", "a": "gpt-4o", "b": "gpt-5"}],
    }
    old = ok("--repo", fleet, "build", "production/prod-us-1@HEAD~1", "--hash")
    new = ok("--repo", fleet, "build", "production/prod-us-1@HEAD", "--hash")
    assert old == ok("--repo", example, "build", "production/prod-us-1", "--hash")
    assert new == ok("--repo", fleet, "build", "production/prod-us-1", "--hash")
    assert old != new


# -- which repository ------------------------------------------------------------------------


@pytest.fixture
def other(tmp_path: Path) -> Path:
    root = tmp_path / "other"
    (root / "base").mkdir(parents=True)
    (root / "lamina.toml").write_text('[fleet]\nname = "other"\npromotion = ["dev", "prod"]\n')
    (root / "base/agent.toml").write_text('[agent]\nmodel = "tiny"\n')
    return root


def env_names(out: str) -> list[str]:
    return [row["name"] for row in json.loads(out)]


EXAMPLE_ENVS = ["development", "staging", "production", "production-eu"]


def test_repo_is_found_upward_from_the_working_folder(example: Path) -> None:
    assert env_names(ok("envs", "--json", cwd=example / "base/prompts")) == EXAMPLE_ENVS
    assert env_names(ok("envs", "--json", cwd=example)) == EXAMPLE_ENVS


def test_lamina_repo_beats_discovery(example: Path, other: Path) -> None:
    out = ok("envs", "--json", cwd=example / "overlays", env={"LAMINA_REPO": str(other)})
    assert env_names(out) == ["dev", "prod"]


def test_repo_option_beats_lamina_repo(example: Path, other: Path) -> None:
    out = ok("--repo", other, "envs", "--json", cwd=example, env={"LAMINA_REPO": str(example)})
    assert env_names(out) == ["dev", "prod"]


def test_relative_repo_option_is_relative_to_the_working_folder(other: Path) -> None:
    assert env_names(ok("--repo", "other", "envs", "--json", cwd=other.parent)) == ["dev", "prod"]


def test_no_repository_anywhere(tmp_path: Path) -> None:
    done = lamina("envs", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr
        == "error: no lamina.toml here or in any parent folder (use --repo DIR or set LAMINA_REPO)\n"
    )


def test_repo_option_without_lamina_toml(tmp_path: Path) -> None:
    done = lamina("--repo", tmp_path, "envs")
    assert done.returncode == 2
    assert done.stderr == f"error: {tmp_path}: no lamina.toml in this folder\n"
