"""Bad input ends with one line ``error: <where>: <what>`` on stderr, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_support import run_lamina as lamina

ANSI_ESCAPE = "\x1b"


@dataclass(frozen=True)
class Link:
    """A symlink to write into the repository."""

    target: str


Files = dict[str, str | bytes | Link]

LAMINA_TOML = """\
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[clusters.c1]
environment = "prod"
directory   = "out/c1"
"""

BASE: Files = {
    "lamina.toml": LAMINA_TOML,
    "base/agent.toml": '[agent]\nmodel = "small"\ntokens = 100\ntools = ["a", "b"]\n',
    "base/prompts/system.txt": "Be nice.\n",
    "overlays/dev/agent-patch.toml": "[agent]\ntokens = 50   # cheap\n",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)


def make_repo(root: Path, files: Files) -> Path:
    for rel, content in {**BASE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            path.symlink_to(content.target)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "fleet")
    return root


def alias_bomb() -> str:
    entries = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    entries += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "{" + ", ".join(entries) + "}\n"


PATCH = "overlays/prod/agent-patch"
DEPTH = "nested deeper than 64 levels ([limits] max_depth)"

BAD_INPUT = [
    # -- malformed files -------------------------------------------------------------------
    pytest.param(
        {f"{PATCH}.toml": '[agent\nmodel = "x"\n'},
        ["build", "prod"],
        f"{PATCH}.toml:1:7: invalid TOML: Expected ']' at the end of a table declaration",
        id="malformed-toml",
    ),
    pytest.param(
        {f"{PATCH}.yaml": "agent:\n  model: [big, bigger\n"},
        ["build", "prod"],
        f"{PATCH}.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        id="malformed-yaml",
    ),
    pytest.param(
        {f"{PATCH}.json": '{"agent": {"model": \n'},
        ["build", "prod"],
        f"{PATCH}.json:2:1: invalid JSON: Expecting value",
        id="malformed-json",
    ),
    pytest.param(
        {"lamina.toml": '[fleet]\nname = "demo"\n[clusters.c1\n'},
        ["envs"],
        "lamina.toml:3:13: invalid TOML: Expected ']' at the end of a table declaration",
        id="malformed-lamina-toml",
    ),
    pytest.param(
        {"clusters/c1.yaml": "memory:\n\turl: x\n"},
        ["build", "prod/c1"],
        "clusters/c1.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token",
        id="tab-in-cluster-layer-yaml",
    ),
    pytest.param(
        {"base/agent.toml": b'[agent]\nmodel = "caf\xe9"\n'},
        ["build", "dev"],
        "base/agent.toml:2:13: not valid UTF-8 (byte 0xe9)",
        id="invalid-utf8",
    ),
    pytest.param(
        {f"{PATCH}.toml": b'\xef\xbb\xbf[agent]\nmodel = "big"\n'},
        ["build", "prod"],
        f"{PATCH}.toml:1:1: file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM",
        id="byte-order-mark",
    ),
    pytest.param(
        {f"{PATCH}.toml": "a = " + "[" * 3000 + "1" + "]" * 3000 + "\n"},
        ["build", "prod"],
        f"{PATCH}.toml:1: {DEPTH}",
        id="toml-nested-past-the-recursion-limit",
    ),
    # -- merging ---------------------------------------------------------------------------
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nmodel = { name = "big" }\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: type conflict at agent.model: this sets a table, base/agent.toml:2 sets a string "
        '(use {"$replace" = ...} to change the type)',
        id="type-conflict",
    ),
    pytest.param(
        {"clusters/c1.toml": "[agent.tools]\nx = 1\n"},
        ["build", "prod/c1"],
        "clusters/c1.toml:1: type conflict at agent.tools: this sets a table, "
        'base/agent.toml:4 sets an array (use {"$replace" = ...} to change the type)',
        id="type-conflict-in-cluster-layer-with-an-array",
    ),
    pytest.param(
        {f"{PATCH}.toml": '[agent]\ntools = { "$appendd" = ["c"] }\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: unknown directive '$appendd' at agent.tools "
        "(known: $append, $delete, $merge_by with $items, $prepend, $replace)",
        id="unknown-directive",
    ),
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nmodel = { "$delete" = "yes" }\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: agent.model: $delete must be true",
        id="bad-directive-value",
    ),
    # -- names -----------------------------------------------------------------------------
    pytest.param(
        {},
        ["build", "staging"],
        "lamina.toml: unknown environment 'staging' (known: dev, prod)",
        id="unknown-environment",
    ),
    pytest.param(
        {}, ["build", "prod/c9"], "lamina.toml: unknown cluster 'c9' (known: c1)", id="unknown-cluster"
    ),
    pytest.param(
        {},
        ["explain", "dev/c1", "agent.model"],
        "lamina.toml:6: cluster 'c1' belongs to environment 'prod', not 'dev'",
        id="cluster-of-another-environment",
    ),
    pytest.param(
        {}, ["explain", "prod", "agent.colour"], "no layer of prod sets 'agent.colour'", id="unknown-key"
    ),
    pytest.param(
        {},
        ["build", "prod/c1/x"],
        "target 'prod/c1/x' must be written ENV, ENV/CLUSTER or ENV/CLUSTER@REV",
        id="malformed-target",
    ),
    pytest.param(
        {}, ["clusters", "--selector", "a,,b"], "selector 'a,,b' has an empty clause", id="malformed-selector"
    ),
    pytest.param(
        {"lamina.toml": LAMINA_TOML.replace('"prod"\ndirectory', '"qa"\ndirectory')},
        ["envs"],
        "lamina.toml:6: cluster 'c1' names unknown environment 'qa'",
        id="cluster-names-unknown-environment",
    ),
    pytest.param(
        {
            "lamina.toml": LAMINA_TOML
            + '\n[environments.dev]\nextends = "prod"\n\n[environments.prod]\nextends = "dev"\n'
        },
        ["envs"],
        "lamina.toml:10: cycle in extends: dev -> prod -> dev",
        id="extends-cycle",
    ),
    pytest.param(
        {"overlays/qa/agent-patch.toml": "[agent]\n"},
        ["envs"],
        "overlays/qa/: overlay for unknown environment 'qa' (known: dev, prod)",
        id="overlay-for-unknown-environment",
    ),
    pytest.param(
        {"lamina.lock": '[environments.qa]\nrevision = "' + "a" * 40 + '"\n'},
        ["envs"],
        "lamina.lock:1: pin for unknown environment 'qa'",
        id="lock-pins-unknown-environment",
    ),
    # -- interpolation and references ------------------------------------------------------
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nmodel = "${config.agent.name}"\nname = "${config.agent.model}"\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: reference cycle: config.agent.model -> config.agent.name -> config.agent.model",
        id="interpolation-cycle",
    ),
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nmodel = "${nope.x}"\n'},
        ["build", "prod/c1"],
        f"{PATCH}.toml:2: agent.model: unknown name ${{nope.x}} (known: config.<key>, cluster.name, "
        "cluster.namespace, env.name, env.stage, fleet.name, cluster.labels.<key>)",
        id="unknown-interpolation-name",
    ),
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nprompt = { file = "../../../../etc/passwd" }\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: agent.prompt: file reference: path 'overlays/prod/../../../../etc/passwd' "
        "leaves the repository",
        id="file-reference-dot-dot-escape",
    ),
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nprompt = { file = "/etc/passwd" }\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: agent.prompt: file reference: path '/etc/passwd' is absolute; "
        "paths must stay inside the repository",
        id="file-reference-absolute",
    ),
    pytest.param(
        {
            "overlays/prod/prompt.txt": Link("/etc/passwd"),
            f"{PATCH}.toml": '[agent]\nprompt = { file = "prompt.txt" }\n',
        },
        ["build", "prod"],
        f"{PATCH}.toml:2: agent.prompt: file reference: overlays/prod/prompt.txt resolves outside the "
        "repository (symlink escape)",
        id="file-reference-symlink-escape",
    ),
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nprompt = { file = "missing.txt" }\n'},
        ["build", "prod"],
        f"{PATCH}.toml:2: agent.prompt: file reference: overlays/prod/missing.txt: no such file",
        id="file-reference-missing",
    ),
    # -- hostile YAML ----------------------------------------------------------------------
    pytest.param(
        {"overlays/prod/bomb.yaml": alias_bomb()},
        ["build", "prod"],
        "overlays/prod/bomb.yaml:1: YAML expands to more than 200000 values (an alias bomb?) "
        "([limits] max_nodes)",
        id="yaml-alias-bomb",
    ),
    pytest.param(
        {f"{PATCH}.yaml": 'agent:\n  model: !!python/object/apply:os.system ["touch pwned"]\n'},
        ["build", "prod"],
        f"{PATCH}.yaml:2: custom YAML tag !!python/object/apply:os.system is not allowed",
        id="yaml-custom-tag",
    ),
    pytest.param(
        {f"{PATCH}.yaml": "agent:\n  model: big\n---\nagent:\n  model: bigger\n"},
        ["build", "prod"],
        f"{PATCH}.yaml:3: holds several YAML documents; lamina reads one per file",
        id="yaml-several-documents",
    ),
    # -- duplicate keys --------------------------------------------------------------------
    pytest.param(
        {f"{PATCH}.toml": '[agent]\nmodel = "a"\nmodel = "b"\n'},
        ["build", "prod"],
        f"{PATCH}.toml:3:12: invalid TOML: Cannot overwrite a value",
        id="duplicate-key-toml",
    ),
    pytest.param(
        {f"{PATCH}.yaml": "agent:\n  model: a\n  model: b\n"},
        ["build", "prod"],
        f'{PATCH}.yaml:3:3: invalid YAML: duplicate key "model"',
        id="duplicate-key-yaml",
    ),
    pytest.param(
        {f"{PATCH}.json": '{"agent": {"model": "a",\n  "model": "b"}}\n'},
        ["build", "prod"],
        f"{PATCH}.json:2: duplicate key 'model'",
        id="duplicate-key-json",
    ),
    # -- revisions -------------------------------------------------------------------------
    pytest.param(
        {}, ["build", "prod@no-such-branch"], "unknown git revision 'no-such-branch'", id="unknown-revision"
    ),
    pytest.param(
        {},
        ["diff", "prod", "prod@deadbeef"],
        "unknown git revision 'deadbeef'",
        id="unknown-revision-in-diff",
    ),
    pytest.param(
        {},
        ["build", "prod@--output=x"],
        "unknown git revision '--output=x'",
        id="revision-that-looks-like-an-option",
    ),
]


@pytest.mark.parametrize(("files", "args", "message"), BAD_INPUT)
def test_bad_input_is_one_error_line_and_exit_2(
    tmp_path: Path, files: Files, args: list[str], message: str
) -> None:
    root = make_repo(tmp_path / "repo", files)
    done = lamina("--repo", root, *args)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr == f"error: {message}\n"
    assert done.stdout == ""
    assert done.returncode == 2


def test_bad_input_without_a_file_has_no_place(tmp_path: Path) -> None:
    done = lamina("envs", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr
        == "error: no lamina.toml here or in any parent folder (use --repo DIR or set LAMINA_REPO)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["build"], id="missing-argument"),
        pytest.param(["build", "prod", "--format", "xml"], id="bad-option-value"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    root = make_repo(tmp_path / "repo", {})
    done = lamina("--repo", root, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() != ""


def test_piped_output_has_no_ansi_escape_codes(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    runs = [(["init", str(root)], lamina("init", root))]
    with (root / "overlays/production/agent-patch.toml").open("a") as patch:
        patch.write("\n[feature_flags]\nstreaming = false\n")  # an undocumented override for parity
    for args in [
        ["envs"],
        ["clusters"],
        ["clusters", "--selector", "wave=2"],
        ["build", "production-eu/prod-eu-1"],
        ["build", "production", "--format", "yaml"],
        ["build", "production", "--format", "toml"],
        ["explain", "production-eu/prod-eu-1", "guardrails.max_tool_calls"],
        ["diff", "development", "production"],
        ["diff", "production", "production"],
        ["parity"],
        ["parity", "--strict"],
        ["build", "nowhere"],
    ]:
        runs.append((args, lamina("--repo", root, *args)))
    assert [done.returncode for _, done in runs] == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2]
    for args, done in runs:
        assert ANSI_ESCAPE not in done.stdout, args
        assert ANSI_ESCAPE not in done.stderr, args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build"], "error: lamina build: missing argument 'TARGET' (see lamina build -h)"),
        (["build", "--nope", "x"], "error: lamina build: no such option '--nope' (see lamina build -h)"),
        (["no-such-verb"], "error: lamina: no such command 'no-such-verb' (see lamina -h)"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    done = lamina(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == expected + "\n"
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        pytest.param([], "Usage: lamina [OPTIONS] COMMAND [ARGS]...", id="lamina"),
        pytest.param(["promote"], "Usage: lamina promote [OPTIONS] COMMAND [ARGS]...", id="a group"),
    ],
)
def test_a_command_alone_prints_its_help_and_succeeds(tmp_path: Path, args: list[str], usage: str) -> None:
    """As `git` or `kubectl` alone: the help on stdout, not an error."""
    done = lamina(*args, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(usage + "\n")
    assert "Commands:" in done.stdout
