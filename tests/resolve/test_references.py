"""``{file = ...}`` and ``{secret = ...}`` values (SPEC section 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lamina
from conftest import WriteRepo, commit_all
from lamina.errors import InputError, ReferenceError_

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[clusters.dev-1]
environment = "dev"
"""

PROMPT = "You are a helpful support agent.\nBe brief.\n"


def repo_with(write_repo: WriteRepo, files: dict[str, str]) -> Path:
    return write_repo({"lamina.toml": FLEET, **files})


def resolve(root: Path, target: str = "dev/dev-1") -> lamina.ResolvedConfig:
    with lamina.Repository(root) as repo:
        return repo.resolve(target)


def reference_error(root: Path, target: str = "dev/dev-1") -> ReferenceError_:
    with lamina.Repository(root) as repo, pytest.raises(ReferenceError_) as info:
        repo.resolve(target)
    assert isinstance(info.value, InputError)
    assert info.value.exit_code == 2
    return info.value


# -- {file = ...} -------------------------------------------------------------------------------


def test_file_reference_becomes_the_file_text(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": '[agent]\nsystem_prompt = { file = "prompts/system.txt" }\n',
            "base/prompts/system.txt": PROMPT,
        },
    )
    config = resolve(root)
    assert config.data == {"agent": {"system_prompt": PROMPT}}
    assert config.files() == {"base/prompts/system.txt": PROMPT}


@pytest.mark.parametrize(
    ("layer_file", "text", "prompt_path"),
    [
        pytest.param(
            "overlays/dev/patch.toml",
            'prompt = { file = "prompts/dev.txt" }\n',
            "overlays/dev/prompts/dev.txt",
            id="overlay-folder",
        ),
        pytest.param(
            "clusters/dev-1.toml",
            'prompt = { file = "prompts/dev-1.txt" }\n',
            "clusters/prompts/dev-1.txt",
            id="cluster-file-layer",
        ),
        pytest.param(
            "clusters/dev-1/patch.yaml",
            "prompt:\n  file: prompts/dev-1.txt\n",
            "clusters/dev-1/prompts/dev-1.txt",
            id="cluster-folder-layer",
        ),
        pytest.param(
            "overlays/dev/patch.json",
            '{"prompt": {"file": "./prompts/../prompts/dev.txt"}}',
            "overlays/dev/prompts/dev.txt",
            id="json-normalized-path",
        ),
    ],
)
def test_file_reference_is_relative_to_the_layer_folder(
    write_repo: WriteRepo, layer_file: str, text: str, prompt_path: str
) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": 'prompt = { file = "prompts/base.txt" }\n',
            "base/prompts/base.txt": "base prompt\n",
            # decoys with the same name relative to other folders
            "prompts/dev.txt": "wrong: repository root\n",
            "base/prompts/dev.txt": "wrong: base\n",
            layer_file: text,
            prompt_path: "layer prompt\n",
        },
    )
    config = resolve(root)
    assert config.data == {"prompt": "layer prompt\n"}
    assert config.files() == {prompt_path: "layer prompt\n"}


def test_file_reference_inside_arrays(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/tools.toml": '[[tools]]\nname = "search"\nspec = { file = "tools/search.json" }\n',
            "base/tools/search.json": '{"type": "function"}\n',
        },
    )
    assert resolve(root).data == {"tools": [{"name": "search", "spec": '{"type": "function"}\n'}]}


def test_file_reference_to_a_symlink_inside_the_repository(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": 'prompt = { file = "prompts/current.txt" }\n',
            "base/prompts/v2.txt": PROMPT,
        },
    )
    os.symlink("v2.txt", root / "base/prompts/current.txt")
    assert resolve(root).data == {"prompt": PROMPT}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        pytest.param(
            "../../outside.txt",
            "base/agent.toml:3: agent.prompt: file reference: "
            "path 'base/../../outside.txt' leaves the repository",
            id="dot-dot-escape",
        ),
        pytest.param(
            "prompts/../../../outside.txt",
            "base/agent.toml:3: agent.prompt: file reference: "
            "path 'base/prompts/../../../outside.txt' leaves the repository",
            id="dot-dot-escape-after-folder",
        ),
        pytest.param(
            "/etc/hostname",
            "base/agent.toml:3: agent.prompt: file reference: "
            "path '/etc/hostname' is absolute; paths must stay inside the repository",
            id="absolute-path",
        ),
        pytest.param(
            "prompts/missing.txt",
            "base/agent.toml:3: agent.prompt: file reference: base/prompts/missing.txt: no such file",
            id="missing-file",
        ),
        pytest.param(
            "prompts",
            "base/agent.toml:3: agent.prompt: file reference: base/prompts: not a regular file",
            id="folder",
        ),
    ],
)
def test_bad_file_reference_is_error(write_repo: WriteRepo, ref: str, message: str) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": f'[agent]\nmodel = "small"\nprompt = {{ file = "{ref}" }}\n',
            "base/prompts/system.txt": PROMPT,
        },
    )
    (root.parent / "outside.txt").write_text("not for lamina\n")
    assert str(reference_error(root)) == message


def test_symlink_out_of_the_repository_is_error(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": '[agent]\nprompt = { file = "prompts/link.txt" }\n',
            "base/prompts/system.txt": PROMPT,
        },
    )
    outside = root.parent / "outside.txt"
    outside.write_text("not for lamina\n")
    os.symlink(outside, root / "base/prompts/link.txt")
    assert str(reference_error(root)) == (
        "base/agent.toml:2: agent.prompt: file reference: "
        "base/prompts/link.txt resolves outside the repository (symlink escape)"
    )


def test_relative_symlink_out_of_the_repository_is_error_at_a_revision(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": '[agent]\nprompt = { file = "prompts/link.txt" }\n',
            "base/prompts/system.txt": PROMPT,
        },
    )
    (root.parent / "outside.txt").write_text("not for lamina\n")
    os.symlink("../../../outside.txt", root / "base/prompts/link.txt")
    commit = commit_all(root)
    message = str(reference_error(root, "dev/dev-1@HEAD"))
    assert message == (
        "base/agent.toml:2: agent.prompt: file reference: "
        f"base/prompts/link.txt is a symlink that leaves the repository (at {commit[:12]})"
    )


def test_missing_file_in_overlay_names_the_overlay(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": 'prompt = { file = "prompts/system.txt" }\n',
            "base/prompts/system.txt": PROMPT,
            "overlays/dev/patch.yaml": "# the dev prompt\nprompt:\n  file: prompts/dev.txt\n",
        },
    )
    assert str(reference_error(root)) == (
        "overlays/dev/patch.yaml:2: prompt: file reference: overlays/dev/prompts/dev.txt: no such file"
    )


# -- {secret = ...} -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("openai/api-key", id="kubernetes-secret"),
        pytest.param("crm.tokens/API_TOKEN", id="dotted-name-upper-key"),
        pytest.param("vault:kv/agents#openai", id="vault"),
    ],
)
def test_secret_reference_stays_a_reference(write_repo: WriteRepo, ref: str) -> None:
    root = repo_with(write_repo, {"base/agent.toml": f'[agent]\napi_key = {{ secret = "{ref}" }}\n'})
    config = resolve(root)
    assert config.data == {"agent": {"api_key": {"secret": ref}}}
    assert config.secret_refs() == [(("agent", "api_key"), ref)]


def test_secret_reference_may_override_a_string_and_another_secret(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": 'api_key = "placeholder"\ntoken = { secret = "crm/token" }\n',
            "overlays/dev/patch.toml": 'api_key = { secret = "openai/api-key" }\n',
            "clusters/dev-1.toml": 'token = { secret = "vault:kv/dev#crm" }\n',
        },
    )
    assert resolve(root).data == {
        "api_key": {"secret": "openai/api-key"},
        "token": {"secret": "vault:kv/dev#crm"},
    }


def test_secret_reference_is_not_merged_into(write_repo: WriteRepo) -> None:
    root = repo_with(
        write_repo,
        {
            "base/agent.toml": 'api_key = { secret = "openai/api-key" }\n',
            "overlays/dev/patch.toml": '[api_key]\nsecret = "openai/api-key"\nextra = 1\n',
        },
    )
    with lamina.Repository(root) as repo, pytest.raises(InputError) as info:
        repo.resolve("dev/dev-1")
    assert str(info.value) == (
        "overlays/dev/patch.toml:1: type conflict at api_key: this sets a table, "
        'base/agent.toml:1 sets a string (use {"$replace" = ...} to change the type)'
    )


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("no-slash", id="no-key"),
        pytest.param("a/b/c", id="two-slashes"),
        pytest.param("Upper/key", id="upper-case-name"),
        pytest.param("/key", id="empty-name"),
        pytest.param("name/", id="empty-key"),
        pytest.param("vault:kv/agents", id="vault-without-key"),
        pytest.param("vault:kv/a#b#c", id="vault-two-hashes"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_secret_reference_is_error(write_repo: WriteRepo, ref: str) -> None:
    root = repo_with(
        write_repo, {"base/agent.toml": f'[agent]\nmodel = "x"\napi_key = {{ secret = "{ref}" }}\n'}
    )
    with lamina.Repository(root) as repo, pytest.raises(InputError) as info:
        repo.resolve("dev/dev-1")
    assert info.value.exit_code == 2
    assert str(info.value) == (
        f"base/agent.toml:3: agent.api_key: secret reference {ref!r} must be 'secret-name/key', "
        "'vault:path#key' or 'sops:file#key'"
    )
