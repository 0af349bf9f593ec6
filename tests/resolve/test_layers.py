"""Which files form a layer (SPEC section 2): the one rule resolution and plan both read."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import WriteRepo
from lamina.resolve import layers
from lamina.source.trees import WorkingTree

EXCLUDE = ("*.draft.toml", "overlays/dev/notes.yaml")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        pytest.param("agent.toml", True, id="toml"),
        pytest.param("agent.yaml", True, id="yaml"),
        pytest.param("agent.yml", True, id="yml"),
        pytest.param("agent.json", True, id="json"),
        pytest.param("AGENT.TOML", True, id="suffix-any-case"),
        pytest.param("system_prompt.txt", False, id="not-a-config-suffix"),
        pytest.param("kustomization.yaml", False, id="kustomization-yaml"),
        pytest.param("kustomization.yml", False, id="kustomization-yml"),
        pytest.param("Kustomization", False, id="kustomization-bare"),
        pytest.param("tools.draft.toml", False, id="excluded-by-name-glob"),
        pytest.param("notes.yaml", False, id="excluded-by-path-glob"),
    ],
)
def test_which_files_of_a_layer_folder_are_config(filename: str, expected: bool) -> None:
    assert layers.is_config("overlays/dev", filename, EXCLUDE) is expected


def test_a_path_glob_excludes_only_in_its_own_folder() -> None:
    assert layers.is_config("overlays/prod", "notes.yaml", EXCLUDE) is True


def test_layer_files_are_the_config_files_of_the_folder_in_name_order(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "overlays/dev/b.yaml": "x: 1\n",
            "overlays/dev/a.toml": "x = 1\n",
            "overlays/dev/kustomization.yaml": "resources: []\n",
            "overlays/dev/tools.draft.toml": "x = 1\n",
            "overlays/dev/prompts/extra.toml": "x = 1\n",
        }
    )
    tree = WorkingTree(Path(root))
    assert layers.config_files(tree, "overlays/dev", EXCLUDE) == (
        "overlays/dev",
        ["overlays/dev/a.toml", "overlays/dev/b.yaml"],
    )


def test_a_file_layer_is_itself_and_references_from_its_folder(write_repo: WriteRepo) -> None:
    root = write_repo({"clusters/eu-1.toml": "x = 1\n"})
    tree = WorkingTree(Path(root))
    assert layers.config_files(tree, "clusters/eu-1.toml", EXCLUDE) == ("clusters", ["clusters/eu-1.toml"])
    assert layers.config_files(tree, "clusters/us-1", EXCLUDE) is None
