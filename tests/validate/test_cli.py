"""``lamina validate`` run for real: exit codes, JSON and plain output, and no secret ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run_lamina as lamina
from conftest import WriteRepo

from .fleets import FLEET

CANARY_KEY = "sk-canary0123456789abcdefghijklmnop"
CANARY_REF_VALUES = {
    "OPENAI_API_KEY": "sk-refcanary-0123456789abcdefghij",
    "CRM_API_TOKEN": "crm-canary-4711",
}


def test_the_init_example_validates_clean(example_repo: Path) -> None:
    done = lamina("--repo", example_repo, "validate")
    assert (done.returncode, done.stdout, done.stderr) == (0, "5 targets valid\n", "")
    done = lamina("--repo", example_repo, "validate", "--json", "production", "production-eu")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "targets": 3, "problems": []}


def test_problems_exit_1_grouped_by_target(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            **FLEET,
            "policies/p.toml": '[[policy]]\nname = "cool"\nrule = "config.agent.temperature < 0.5"\n'
            'message = "keep it cool"\n',
            "clusters/eu-1.toml": "[agent]\ntemperature = 0.9   # warm\n",
            "base/zz.toml": '[agent]\nmodel = "large"\n',
        }
    )
    done = lamina("--repo", root, "validate")
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.splitlines() == [
        "production-eu/eu-1",
        "PLACE                 CHECK   KEY                PROBLEM",
        "clusters/eu-1.toml:2  policy  agent.temperature  keep it cool (policy 'cool', policies/p.toml:1; "
        "agent.temperature is 0.9)",
        "base",
        "PLACE           CHECK           KEY          PROBLEM",
        "base/zz.toml:2  lint (warning)  agent.model  base sets agent.model in base/agent.toml:2 too; "
        "base/zz.toml wins because files merge in name order; set it in one file",
        "2 problems in 3 targets",
    ]
    done = lamina("--repo", root, "validate", "--json", "production-eu")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["ok"], report["targets"]) == (False, 1)
    assert [(p["check"], p["severity"], p["target"], p["place"]) for p in report["problems"]] == [
        ("policy", "error", "production-eu/eu-1", "clusters/eu-1.toml:2"),
        ("lint", "warning", None, "base/zz.toml:2"),
    ]


@pytest.mark.parametrize(
    ("files", "args", "stderr"),
    [
        pytest.param(
            {"policies/p.toml": '# checks\n\n[[policy]]\nname = "broken"\nrule = "config.agent.model =="\n'},
            [],
            "error: policies/p.toml:3: policy 'broken': rule: "
            "not valid CEL: syntax error at line 1, column 20\n",
            id="cel-policy-that-does-not-compile",
        ),
        pytest.param(
            {"schema/agent.schema.json": '{"type": "object",\n "required": "agent"}\n'},
            [],
            "error: schema/agent.schema.json:2: not a valid JSON Schema (draft 2020-12) at required: "
            "'agent' is not of type 'array'\n",
            id="malformed-schema",
        ),
        pytest.param(
            {"lamina.toml": FLEET["lamina.toml"] + '\n[rollout]\nsteps = ["wave=0", "120%"]\n'},
            [],
            "error: lamina.toml:24: [rollout] steps: share '120%' must be more than 0% and at most 100%\n",
            id="rollout-share-over-100",
        ),
        pytest.param(
            {
                "lamina.toml": FLEET["lamina.toml"]
                + '\n[[analysis]]\nname = "health"\nprovider = { url_env = "PROM_URL" }\n'
                "[[analysis.metrics]]\nname = \"errors\"\nquery = 'sum(rate(errors_total[5m]) by (cluster)'\n"
                "max = 0.1\n"
            },
            [],
            "error: lamina.toml:28: [[analysis.metrics]] errors: query is not valid PromQL: "
            "unclosed left parenthesis\n",
            id="analysis-query-not-promql",
        ),
        pytest.param(
            {"lamina.toml": FLEET["lamina.toml"] + '\n[rollout]\nsteps = ["50%"]\nanalysis = "health"\n'},
            [],
            "error: lamina.toml:25: [rollout] analysis names unknown analysis 'health' "
            "(known: none declared)\n",
            id="rollout-unknown-analysis",
        ),
        pytest.param(
            {"lamina.toml": FLEET["lamina.toml"] + '\n[rollout]\nsteps = ["50%"]\ntimeout = "5 min"\n'},
            [],
            "error: lamina.toml:25: [rollout] timeout: '5 min' is not a duration like '10m', '1h30m', "
            "'1d12h', '30s' or '0'\n",
            id="rollout-bad-duration",
        ),
        pytest.param(
            {},
            ["prod"],
            "error: lamina.toml: unknown environment 'prod' (known: production, production-eu, staging)\n",
            id="unknown-environment",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_place(
    write_repo: WriteRepo, files: dict[str, str], args: list[str], stderr: str
) -> None:
    root = write_repo({**FLEET, **files})
    done = lamina("--repo", root, "validate", *args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", stderr)


@pytest.fixture
def canary_fleet(example_repo: Path) -> Path:
    """The example (which holds secret references) plus a plaintext key in the staging overlay."""
    patch = example_repo / "overlays/staging/agent-patch.toml"
    patch.write_text(patch.read_text() + f'\n[vendor]\nbackup_api_key = "{CANARY_KEY}"   # for the demo\n')
    return example_repo


def test_canary_no_output_carries_a_secret(canary_fleet: Path) -> None:
    done = lamina("--repo", canary_fleet, "validate", "--json", env=CANARY_REF_VALUES)
    assert done.returncode == 1
    problems = json.loads(done.stdout)["problems"]
    assert [(p["check"], p["place"], p["key"]) for p in problems] == [
        ("credentials", "overlays/staging/agent-patch.toml:15", "vendor.backup_api_key")
    ]
    outputs = [done.stdout + done.stderr]
    for args in (
        ["build", "staging/staging-us-1"],
        ["explain", "staging/staging-us-1", "agent.api_key", "--json"],
        ["diff", "staging/staging-us-1", "production/prod-us-1", "--json"],
    ):
        done = lamina("--repo", canary_fleet, *args, env=CANARY_REF_VALUES)
        assert done.returncode in (0, 1), done.stderr
        outputs.append(done.stdout + done.stderr)
    assert '"secret": "openai/api-key"' in outputs[1]  # references stay references
    for output in outputs:
        for value in CANARY_REF_VALUES.values():
            assert value not in output
    assert CANARY_KEY not in outputs[0]


def test_canary_build_explain_diff_mask_a_plaintext_key(canary_fleet: Path) -> None:
    for args in (
        ["build", "staging/staging-us-1"],
        ["explain", "staging/staging-us-1", "vendor.backup_api_key", "--json"],
        ["diff", "staging/staging-us-1", "production/prod-us-1", "--json"],
    ):
        done = lamina("--repo", canary_fleet, *args)
        assert CANARY_KEY not in done.stdout + done.stderr
