"""Planning a change on real git repositories: which targets are resolved, which are touched, and how."""

from __future__ import annotations

from pathlib import Path

import pytest

import lamina
from conftest import WriteRepo, commit_all, git
from lamina.core.diffs import ABSENT
from lamina.core.paths import format_path
from lamina.errors import InputError, UnknownTargetError
from lamina.plan.changes import changed_files
from lamina.plan.planning import plan_revisions
from lamina.plan.results import Plan, TargetPlan

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[environments.prod-eu]
extends = "prod"
upstream = "dev"

[clusters.dev-1]
environment = "dev"

[clusters.prod-1]
environment = "prod"

[clusters.prod-2]
environment = "prod"

[clusters.eu-1]
environment = "prod-eu"
"""

FILES = {
    "lamina.toml": FLEET,
    "base/agent.toml": """
        [agent]
        provider = "openai"
        model = "small"
        system_prompt = { file = "prompts/system.txt" }
        api_key = { secret = "openai/api-key" }
        """,
    "base/prompts/system.txt": "Be brief.\nBe kind.\n",
    "base/guardrails.toml": """
        [guardrails]
        pii_redaction = true
        toxicity_threshold = 0.7
        max_tool_calls = 12
        blocked_topics = ["legal", "medical"]
        """,
    "base/tools.toml": """
        [[tools]]
        name = "search"
        endpoint = "https://search.example.com"

        [[tools]]
        name = "crm"
        endpoint = "https://crm.example.com"
        """,
    "overlays/prod/agent-patch.toml": """
        [agent]
        model = "large"   # the quality bar was measured on it

        [guardrails]
        max_tool_calls = 10   # bounded cost
        """,
    "overlays/prod-eu/agent-patch.toml": """
        [guardrails]
        max_tool_calls = 8   # EU starts tighter
        """,
    "clusters/prod-1.toml": 'region = "us-east-1"   # where it runs\n',
    "clusters/prod-2.toml": 'region = "us-west-2"   # where it runs\n',
    "clusters/eu-1.toml": 'region = "eu-west-1"   # where it runs\n',
    "policies/order.toml": """
        [[ordered]]
        key = "guardrails.max_tool_calls"
        direction = "non-increasing"
        """,
}

ALL = ["dev/dev-1", "prod/prod-1", "prod/prod-2", "prod-eu/eu-1"]


@pytest.fixture
def repo(write_repo: WriteRepo) -> Path:
    """The fleet above, committed once; the working tree is clean."""
    root = write_repo(FILES)
    commit_all(root, "fleet")
    return root


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def touched(plan: Plan) -> list[str]:
    return [str(target.target) for target in plan.touched]


def target(plan: Plan, name: str) -> TargetPlan:
    return next(t for t in plan.touched if str(t.target) == name)


def changes(plan: Plan, name: str) -> dict[str, tuple[object, object]]:
    return {format_path(c.path): (c.a, c.b) for c in target(plan, name).changes}


# -- which targets --------------------------------------------------------------------------------


def test_nothing_changed(repo: Path) -> None:
    plan = plan_revisions(repo)
    assert (plan.touched, plan.changed_files, plan.resolved, plan.total) == ((), (), 0, 4)
    assert plan.to_side.label == "working tree" and plan.to_side.commit is None
    assert plan.from_side.commit == git(repo, "rev-parse", "HEAD")


def test_a_base_change_touches_every_target(repo: Path) -> None:
    edit(repo, "base/guardrails.toml", "pii_redaction = true", "pii_redaction = false")
    plan = plan_revisions(repo)
    assert plan.changed_files == ("base/guardrails.toml",)
    assert touched(plan) == ALL
    assert plan.resolved == 4
    assert changes(plan, "prod/prod-1") == {"guardrails.pii_redaction": (True, False)}


def test_one_cluster_file_touches_and_resolves_only_that_target(repo: Path) -> None:
    edit(repo, "clusters/prod-2.toml", "us-west-2", "us-west-1")
    plan = plan_revisions(repo)
    assert touched(plan) == ["prod/prod-2"]
    assert plan.resolved == 1
    assert plan.summary_json()["resolved"] == 1
    assert changes(plan, "prod/prod-2") == {"region": ("us-west-2", "us-west-1")}


def test_an_overlay_change_reaches_the_environments_that_extend_it(repo: Path) -> None:
    edit(repo, "overlays/prod/agent-patch.toml", 'model = "large"', 'model = "larger"')
    plan = plan_revisions(repo)
    assert touched(plan) == ["prod/prod-1", "prod/prod-2", "prod-eu/eu-1"]
    assert plan.resolved == 3


def test_a_new_untracked_file_in_a_layer_folder_counts(repo: Path) -> None:
    write(repo, "overlays/prod-eu/tools-patch.toml", "[agent]\ntemperature = 0.1   # steady\n")
    plan = plan_revisions(repo)
    assert plan.changed_files == ("overlays/prod-eu/tools-patch.toml",)
    assert (touched(plan), plan.resolved) == (["prod-eu/eu-1"], 1)


def test_a_git_ignored_file_in_a_layer_folder_counts(repo: Path) -> None:
    write(repo, ".gitignore", "*.local.toml\n")
    commit_all(repo, "ignore local overrides")
    write(repo, "overlays/dev/mine.local.toml", '[agent]\nmodel = "experimental"   # trying it out\n')
    plan = plan_revisions(repo)  # resolution reads it, so the plan must see it
    assert plan.changed_files == ("overlays/dev/mine.local.toml",)
    assert (touched(plan), plan.resolved) == (["dev/dev-1"], 1)


def test_a_layer_file_that_resolves_the_same_is_resolved_but_not_touched(repo: Path) -> None:
    edit(repo, "clusters/prod-1.toml", "# where it runs", "# where it runs, said differently")
    plan = plan_revisions(repo)
    assert (touched(plan), plan.resolved) == ([], 1)


def test_files_no_target_reads_resolve_nothing(repo: Path) -> None:
    write(repo, "README.md", "notes\n")  # untracked, outside the inputs
    write(repo, "schema/agent.schema.json", "{}\n")  # untracked input, read by no layer
    edit(repo, "policies/order.toml", "non-increasing", "non-decreasing")
    plan = plan_revisions(repo)
    assert plan.changed_files == ("policies/order.toml", "schema/agent.schema.json")
    assert (plan.touched, plan.resolved) == ((), 0)


def test_a_file_referenced_from_outside_its_folder(repo: Path) -> None:
    write(repo, "shared/eu-notice.txt", "GDPR applies.\nBe careful.\n")
    edit(
        repo,
        "clusters/eu-1.toml",
        "# where it runs",
        '# where it runs\nnotice = { file = "../shared/eu-notice.txt" }',
    )
    commit_all(repo, "EU notice")
    write(repo, "shared/eu-notice.txt", "GDPR applies.\nBe very careful.\n")
    plan = plan_revisions(repo)
    assert plan.changed_files == ("shared/eu-notice.txt",)
    assert (touched(plan), plan.resolved) == (["prod-eu/eu-1"], 1)
    assert target(plan, "prod-eu/eu-1").flag_names == ("prompt-changed",)


def test_a_moved_file_counts_under_both_names(repo: Path) -> None:
    (repo / "clusters/retired").mkdir()
    git(repo, "mv", "clusters/prod-1.toml", "clusters/retired/prod-1.toml")
    plan = plan_revisions(repo)
    assert plan.changed_files == ("clusters/prod-1.toml", "clusters/retired/prod-1.toml")
    assert (touched(plan), plan.resolved) == (["prod/prod-1"], 1)
    assert changes(plan, "prod/prod-1") == {"region": ("us-east-1", ABSENT)}


def test_a_broken_change_is_reported_with_its_place(repo: Path) -> None:
    write(repo, "clusters/prod-2.yaml", "region: us-west-1\n")
    with pytest.raises(InputError, match=r"^clusters/prod-2\.yaml: cluster 'prod-2' has several layer files"):
        plan_revisions(repo)


# -- pins -----------------------------------------------------------------------------------------


def test_a_pinned_environment_does_not_see_a_base_change(repo: Path) -> None:
    pinned = git(repo, "rev-parse", "HEAD")
    write(repo, "lamina.lock", f'[environments.prod]\nrevision = "{pinned}"\n')
    commit_all(repo, "pin prod")
    edit(repo, "base/agent.toml", 'provider = "openai"', 'provider = "azure-openai"')
    plan = plan_revisions(repo)
    # prod is pinned; prod-eu extends prod but has no pin of its own, so it reads base/ here
    assert touched(plan) == ["dev/dev-1", "prod-eu/eu-1"]
    assert plan.resolved == 2


def test_moving_a_pin_touches_that_environment_only(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    write(repo, "lamina.lock", f'[environments.prod]\nrevision = "{first}"\n')
    commit_all(repo, "pin prod")
    edit(repo, "base/agent.toml", 'provider = "openai"', 'provider = "azure-openai"')
    second = commit_all(repo, "azure")
    write(repo, "lamina.lock", f'[environments.prod]\nrevision = "{second}"\n')
    plan = plan_revisions(repo)
    assert plan.changed_files == ("lamina.lock",)
    assert (touched(plan), plan.resolved) == (["prod/prod-1", "prod/prod-2"], 2)
    assert target(plan, "prod/prod-1").flag_names == ("model-changed",)


# -- between commits, added and removed targets ---------------------------------------------------


def test_between_two_commits(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    edit(repo, "overlays/prod-eu/agent-patch.toml", "max_tool_calls = 8", "max_tool_calls = 20")
    second = commit_all(repo, "looser EU")
    write(repo, "clusters/dev-1.toml", 'region = "local"\n')  # uncommitted: not part of the plan

    plan = plan_revisions(repo, first, second)
    assert (plan.from_side.commit, plan.to_side.commit, plan.to_side.label) == (first, second, second)
    assert (touched(plan), plan.resolved) == (["prod-eu/eu-1"], 1)
    assert target(plan, "prod-eu/eu-1").flag_names == ("guardrail-loosened",)
    assert plan_revisions(repo, "HEAD~1", "HEAD").touched == plan.touched
    assert touched(plan_revisions(repo)) == ["dev/dev-1"]


def test_between_commits_ignores_a_broken_working_tree(repo: Path) -> None:
    edit(repo, "base/agent.toml", 'provider = "openai"', 'provider = "azure-openai"')
    commit_all(repo, "azure")
    write(repo, "lamina.toml", "[fleet\n")
    assert touched(plan_revisions(repo, "HEAD~1", "HEAD")) == ALL
    with pytest.raises(InputError, match=r"lamina\.toml"):
        plan_revisions(repo)


def test_a_new_and_a_removed_cluster(repo: Path) -> None:
    fleet = (repo / "lamina.toml").read_text()
    fleet = fleet.replace("[clusters.prod-2]", "[clusters.prod-3]")
    write(repo, "lamina.toml", fleet)
    plan = plan_revisions(repo)
    assert plan.total == 5
    assert plan.resolved == 5  # lamina.toml changed: every target may have
    added, removed = target(plan, "prod/prod-3"), target(plan, "prod/prod-2")
    assert (added.status, added.from_hash is None, added.to_hash is not None) == ("added", True, True)
    assert (removed.status, removed.from_hash is not None, removed.to_hash is None) == ("removed", True, True)
    assert {format_path(c.path) for c in added.changes} == {"agent", "guardrails", "tools"}
    assert all(c.a is ABSENT for c in added.changes) and all(c.b is ABSENT for c in removed.changes)
    assert (added.flags, removed.flags) == ((), ())
    by_env = {env.environment: (env.targets, env.touched) for env in plan.environments}
    assert by_env == {"dev": (1, 0), "prod": (3, 2), "prod-eu": (1, 0)}


# -- flags on real layers -------------------------------------------------------------------------


def test_each_flag_from_real_layers(repo: Path) -> None:
    edit(repo, "overlays/prod/agent-patch.toml", 'model = "large"', 'model = "huge"')
    edit(repo, "base/prompts/system.txt", "Be kind.", "Be kind and exact.")
    edit(repo, "overlays/prod/agent-patch.toml", "max_tool_calls = 10", "max_tool_calls = 11")
    write(
        repo,
        "overlays/prod/tools-patch.toml",
        '[tools]\n"$merge_by" = "name"\n'
        '"$items" = [{ name = "crm", endpoint = "https://crm.v2.example.com" }]\n',
    )
    edit(repo, "base/agent.toml", '"openai/api-key"', '"vault:kv/agents#openai"')
    plan = plan_revisions(repo)
    prod = target(plan, "prod/prod-1")
    assert {flag.name: [format_path(p) for p in flag.paths] for flag in prod.flags} == {
        "model-changed": ["agent.model"],
        "prompt-changed": ["agent.system_prompt"],
        "guardrail-loosened": ["guardrails.max_tool_calls"],
        "tool-endpoint-changed": ["tools[crm].endpoint"],
        "secret-ref-changed": ["agent.api_key"],
    }
    # prod-eu keeps its own max_tool_calls = 8 and gets the rest through prod
    assert target(plan, "prod-eu/eu-1").flag_names == (
        "model-changed",
        "prompt-changed",
        "tool-endpoint-changed",
        "secret-ref-changed",
    )
    assert target(plan, "dev/dev-1").flag_names == ("prompt-changed", "secret-ref-changed")
    assert plan.flag_counts() == {
        "model-changed": 3,
        "prompt-changed": 4,
        "guardrail-loosened": 2,
        "tool-endpoint-changed": 3,
        "secret-ref-changed": 4,
    }


def test_tightening_raises_no_guardrail_flag(repo: Path) -> None:
    edit(repo, "base/guardrails.toml", "toxicity_threshold = 0.7", "toxicity_threshold = 0.6")
    edit(repo, "base/guardrails.toml", '["legal", "medical"]', '["legal", "medical", "financial"]')
    edit(repo, "overlays/prod/agent-patch.toml", "max_tool_calls = 10", "max_tool_calls = 9")
    plan = plan_revisions(repo)
    assert touched(plan) == ALL
    assert all(t.flags == () for t in plan.touched)


def test_removing_the_ordered_rule_does_not_hide_a_loosening(repo: Path) -> None:
    (repo / "policies/order.toml").unlink()
    write(repo, "lamina.toml", FLEET + '\n[plan]\nguardrails = ["nothing.*"]\n')
    edit(repo, "overlays/prod-eu/agent-patch.toml", "max_tool_calls = 8", "max_tool_calls = 9")
    plan = plan_revisions(repo)
    assert target(plan, "prod-eu/eu-1").flag_names == ("guardrail-loosened",)


def test_plan_guardrail_globs_must_be_strings(repo: Path) -> None:
    write(repo, "lamina.toml", FLEET + "\n[plan]\nguardrails = [1]\n")
    with pytest.raises(
        InputError, match=r"lamina\.toml:\d+: \[plan\] guardrails must be a list of key globs"
    ):
        plan_revisions(repo)


# -- JSON, hashes, errors -------------------------------------------------------------------------


def test_json_shape(repo: Path) -> None:
    edit(repo, "base/prompts/system.txt", "Be kind.", "Be kind and exact.")
    edit(repo, "clusters/prod-1.toml", 'region = "us-east-1"', 'zone = "a"')
    data = plan_revisions(repo).to_json()
    assert set(data) == {"from", "to", "targets", "summary", "changed_files"}
    assert data["to"] == {"label": "working tree", "commit": None}
    prod = next(t for t in data["targets"] if t["target"] == "prod/prod-1")
    assert set(prod) >= {"target", "from_hash", "to_hash", "changes", "flags"}
    by_path = {c["path"]: c for c in prod["changes"]}
    assert by_path["region"] == {"path": "region", "a": "us-east-1"}
    assert by_path["zone"] == {"path": "zone", "b": "a"}
    assert by_path["agent.system_prompt"]["diff"] == [
        "--- prod/prod-1@HEAD",
        "+++ prod/prod-1",
        "@@ -1,2 +1,2 @@",
        " Be brief.",
        "-Be kind.",
        "+Be kind and exact.",
    ]
    assert prod["flags"] == ["prompt-changed"]
    assert data["summary"] == {
        "targets": 4,
        "touched": 4,
        "untouched": 0,
        "resolved": 4,
        "files_changed": 2,
        "environments": [
            {"environment": "dev", "targets": 1, "touched": 1},
            {"environment": "prod", "targets": 2, "touched": 2},
            {"environment": "prod-eu", "targets": 1, "touched": 1},
        ],
        "flags": {"prompt-changed": 4},
    }


def test_hashes_are_the_config_hashes(repo: Path) -> None:
    edit(repo, "clusters/prod-1.toml", 'region = "us-east-1"', 'region = "ünïcode ✓"\n"ключ" = 1.5')
    plan = plan_revisions(repo)
    with lamina.Repository(repo) as now, lamina.Repository(repo, "HEAD") as before:
        assert target(plan, "prod/prod-1").to_hash == now.resolve("prod/prod-1").config_hash
        assert target(plan, "prod/prod-1").from_hash == before.resolve("prod/prod-1").config_hash


def test_a_plain_folder_is_refused(write_repo: WriteRepo) -> None:
    root = write_repo(FILES)
    with pytest.raises(InputError, match="is not a git repository; lamina plan compares git revisions"):
        plan_revisions(root)


def test_a_repository_without_commits_is_refused(write_repo: WriteRepo) -> None:
    root = write_repo(FILES)
    git(root, "init", "-q", "-b", "main")
    with pytest.raises(InputError, match="no commits yet"):
        plan_revisions(root)


def test_an_unknown_revision(repo: Path) -> None:
    with pytest.raises(UnknownTargetError, match="unknown git revision 'nope'"):
        plan_revisions(repo, "nope")


def test_changed_files_in_a_config_folder_inside_a_bigger_repository(tmp_path: Path) -> None:
    root = tmp_path / "mono" / "agents"
    for rel, text in FILES.items():
        write(root, rel, text.replace("\n        ", "\n").strip() + "\n")
    write(tmp_path / "mono", "service/main.py", "print()\n")
    commit_all(tmp_path / "mono", "monorepo")
    edit(root, "clusters/eu-1.toml", "eu-west-1", "eu-central-1")
    write(tmp_path / "mono", "service/main.py", "print(1)\n")
    first = git(tmp_path / "mono", "rev-parse", "HEAD")
    assert changed_files(root, first, None) == ("clusters/eu-1.toml",)
    plan = plan_revisions(root)
    assert (touched(plan), plan.resolved) == (["prod-eu/eu-1"], 1)
