"""Where layers are read from (SPEC sections 2 and 7): TARGET@REV, lamina.lock pins, plain folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import lamina
from conftest import WriteRepo, commit_all
from lamina.errors import FleetError, InputError, UnknownTargetError

FLEET = """
[fleet]
name = "demo"
promotion = ["dev", "prod"]

[clusters.dev-1]
environment = "dev"

[clusters.prod-1]
environment = "prod"
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def pin(root: Path, environment: str, revision: str) -> None:
    write(root, "lamina.lock", f'[environments.{environment}]\nrevision = "{revision}"\n')


@pytest.fixture
def history(write_repo: WriteRepo) -> tuple[Path, str, str]:
    """A repository with two commits (model v1, then v2) and v3 uncommitted in the working tree."""
    root = write_repo(
        {
            "lamina.toml": FLEET,
            "base/agent.toml": 'model = "v1"\nprompt = { file = "prompts/system.txt" }\n',
            "base/prompts/system.txt": "prompt v1\n",
            "overlays/prod/patch.toml": "max_tokens = 100\n",
            "clusters/prod-1.toml": 'region = "r1"\n',
        }
    )
    first = commit_all(root, "v1")
    write(root, "base/agent.toml", 'model = "v2"\nprompt = { file = "prompts/system.txt" }\n')
    write(root, "base/prompts/system.txt", "prompt v2\n")
    write(root, "overlays/prod/patch.toml", "max_tokens = 200\n")
    second = commit_all(root, "v2")
    write(root, "base/agent.toml", 'model = "v3"\nprompt = { file = "prompts/system.txt" }\n')
    write(root, "base/prompts/system.txt", "prompt v3\n")
    write(root, "overlays/prod/patch.toml", "max_tokens = 300\n")
    write(root, "clusters/prod-1.toml", 'region = "r3"\n')
    return root, first, second


# -- TARGET@REV ---------------------------------------------------------------------------------


def test_working_tree_is_the_default(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    with lamina.Repository(root) as repo:
        config = repo.resolve("prod/prod-1")
    assert config.data == {"model": "v3", "prompt": "prompt v3\n", "max_tokens": 300, "region": "r3"}
    assert config.revision is None


@pytest.mark.parametrize(
    ("rev", "expected"),
    [
        pytest.param("HEAD", {"model": "v2", "prompt": "prompt v2\n", "max_tokens": 200}, id="HEAD"),
        pytest.param("HEAD~1", {"model": "v1", "prompt": "prompt v1\n", "max_tokens": 100}, id="HEAD~1"),
        pytest.param("main", {"model": "v2", "prompt": "prompt v2\n", "max_tokens": 200}, id="branch"),
    ],
)
def test_target_at_revision_reads_every_layer_from_git(
    history: tuple[Path, str, str], rev: str, expected: dict[str, object]
) -> None:
    root, _, _ = history
    with lamina.Repository(root) as repo:
        config = repo.resolve(f"prod/prod-1@{rev}")
    assert config.data == {**expected, "region": "r1"}
    assert str(config.target) == f"prod/prod-1@{rev}"


def test_target_at_commit_id_reports_the_commit(history: tuple[Path, str, str]) -> None:
    root, first, second = history
    with lamina.Repository(root) as repo:
        old = repo.resolve(f"prod/prod-1@{first[:10]}")
        new = repo.resolve(f"prod/prod-1@{second}")
        now = repo.resolve("prod/prod-1")
    assert old.revision == old.base_revision == first
    assert new.revision == new.base_revision == second
    assert old.data["model"] == "v1"
    assert new.data["model"] == "v2"
    assert len({old.config_hash, new.config_hash, now.config_hash}) == 3


def test_revision_sees_files_deleted_since(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    (root / "clusters/prod-1.toml").unlink()
    with lamina.Repository(root) as repo:
        assert "region" not in repo.resolve("prod/prod-1").data
        assert repo.resolve("prod/prod-1@HEAD").data["region"] == "r1"


def test_revision_ignores_untracked_files(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    write(root, "overlays/prod/new.toml", 'extra = "untracked"\n')
    with lamina.Repository(root) as repo:
        assert repo.resolve("prod/prod-1").data["extra"] == "untracked"
        assert "extra" not in repo.resolve("prod/prod-1@HEAD").data


def test_revision_reads_lamina_toml_of_that_revision(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    write(root, "lamina.toml", FLEET + '\n[clusters.prod-2]\nenvironment = "prod"\n')
    with lamina.Repository(root) as repo:
        assert repo.resolve("prod/prod-2").data["model"] == "v3"
        with pytest.raises(UnknownTargetError):
            repo.resolve("prod/prod-2@HEAD")


def test_unknown_revision_is_error(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    with lamina.Repository(root) as repo, pytest.raises(UnknownTargetError) as info:
        repo.resolve("prod/prod-1@no-such-branch")
    assert info.value.exit_code == 2
    assert str(info.value) == "unknown git revision 'no-such-branch'"


def test_option_like_revision_is_refused(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    with lamina.Repository(root) as repo, pytest.raises(UnknownTargetError) as info:
        repo.resolve("prod/prod-1@--output=x")
    assert str(info.value) == "unknown git revision '--output=x'"


def test_config_repository_in_a_sub_folder_of_git(tmp_path: Path) -> None:
    top = tmp_path / "monorepo"
    root = top / "deploy" / "agents"
    write(root, "lamina.toml", FLEET)
    write(root, "base/agent.toml", 'model = "v1"\n')
    write(top, "base/agent.toml", 'model = "not-this-one"\n')
    commit_all(top, "v1")
    write(root, "base/agent.toml", 'model = "v2"\n')
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data == {"model": "v2"}
        assert repo.resolve("dev/dev-1@HEAD").data == {"model": "v1"}


# -- lamina.lock pins ---------------------------------------------------------------------------


def test_pin_reads_base_from_the_pinned_commit(history: tuple[Path, str, str]) -> None:
    root, first, _ = history
    pin(root, "prod", first)
    with lamina.Repository(root) as repo:
        config = repo.resolve("prod/prod-1")
    # base (and the prompt it references) from the pin; overlays and cluster from the working tree
    assert config.data == {"model": "v1", "prompt": "prompt v1\n", "max_tokens": 300, "region": "r3"}
    assert config.base_revision == first
    assert config.revision is None


def test_pin_applies_only_to_its_environment(history: tuple[Path, str, str]) -> None:
    root, first, _ = history
    pin(root, "prod", first)
    with lamina.Repository(root) as repo:
        assert repo.resolve("dev/dev-1").data == {"model": "v3", "prompt": "prompt v3\n"}
        assert repo.resolve("dev/dev-1").base_revision is None


def test_pin_of_environment_level_target(history: tuple[Path, str, str]) -> None:
    root, _, second = history
    pin(root, "prod", second)
    with lamina.Repository(root) as repo:
        assert repo.resolve("prod").data == {"model": "v2", "prompt": "prompt v2\n", "max_tokens": 300}


def test_committed_pin_is_read_at_a_revision(history: tuple[Path, str, str]) -> None:
    root, first, _ = history
    pin(root, "prod", first)
    commit_all(root, "pin prod")
    write(root, "lamina.lock", "")
    with lamina.Repository(root) as repo:
        assert repo.resolve("prod/prod-1").data["model"] == "v3"
        pinned = repo.resolve("prod/prod-1@HEAD")
    assert pinned.data == {"model": "v1", "prompt": "prompt v1\n", "max_tokens": 300, "region": "r3"}
    assert pinned.base_revision == first


def test_pin_of_unknown_commit_is_error(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    pin(root, "prod", "0123456789abcdef0123456789abcdef01234567")
    with lamina.Repository(root) as repo, pytest.raises(FleetError) as info:
        repo.resolve("prod/prod-1")
    assert (
        str(info.value) == "lamina.lock:2: pin of 'prod' names revision 0123456789ab which git does not have"
    )


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        pytest.param(
            '[environments.prod]\nrevision = "HEAD"\n',
            "lamina.lock:2: revision of 'prod' must be a full commit id",
            id="not-a-commit-id",
        ),
        pytest.param(
            '[environments.qa]\nrevision = "0123456789abcdef0123456789abcdef01234567"\n',
            "lamina.lock:1: pin for unknown environment 'qa'",
            id="unknown-environment",
        ),
    ],
)
def test_bad_lock_file_is_error(history: tuple[Path, str, str], lock: str, message: str) -> None:
    root, _, _ = history
    write(root, "lamina.lock", lock)
    with pytest.raises(FleetError) as info:
        lamina.Repository(root)
    assert str(info.value) == message


# -- plain folders ------------------------------------------------------------------------------


@pytest.fixture
def plain_folder(write_repo: WriteRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # never pick up a git repository that happens to enclose the temporary folder
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return write_repo(
        {
            "lamina.toml": FLEET,
            "base/agent.toml": 'model = "v1"\nprompt = { file = "prompts/system.txt" }\n',
            "base/prompts/system.txt": "prompt\n",
            "overlays/prod/patch.toml": "max_tokens = 100\n",
        }
    )


def test_plain_folder_resolves(plain_folder: Path) -> None:
    with lamina.Repository(plain_folder) as repo:
        config = repo.resolve("prod/prod-1")
    assert config.data == {"model": "v1", "prompt": "prompt\n", "max_tokens": 100}
    assert config.revision is None
    assert config.base_revision is None


def test_plain_folder_refuses_a_revision(plain_folder: Path) -> None:
    with lamina.Repository(plain_folder) as repo, pytest.raises(InputError) as info:
        repo.resolve("prod/prod-1@HEAD")
    assert info.value.exit_code == 2
    assert str(info.value) == f"{plain_folder} is not a git repository, so revision 'HEAD' cannot be read"


def test_plain_folder_refuses_pins(plain_folder: Path) -> None:
    pin(plain_folder, "prod", "0123456789abcdef0123456789abcdef01234567")
    with lamina.Repository(plain_folder) as repo, pytest.raises(FleetError) as info:
        repo.resolve("prod/prod-1")
    assert (
        str(info.value) == "lamina.lock:2: lamina.lock pins 'prod' but the repository is not a git repository"
    )
