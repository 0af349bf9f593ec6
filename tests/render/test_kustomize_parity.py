"""lamina names and fills ConfigMaps exactly as the real `kubectl kustomize` (Kustomize v5.7) does."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar

from lamina.render import configmaps, folders, names
from lamina.resolve.repository import Repository

KUBECTL = Path(__file__).resolve().parents[2] / ".cache" / "bin" / "kubectl"

pytestmark = pytest.mark.skipif(
    not KUBECTL.exists(), reason="run scripts/install-kubectl.sh (make setup does) first"
)


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    # ruamel's safe loader reads a plain "=" as YAML 1.1's !!value tag; take scalars as text
    docs = YAML(typ="rt", pure=True).load_all(done.stdout)
    return [_plain(doc) for doc in docs if doc]


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, TaggedScalar):
        return str(node.value)
    if isinstance(node, bool) or node is None:
        return node
    return str(node) if isinstance(node, str) else node


def test_known_vector() -> None:
    data = {"model": "gpt-4o", "system_prompt.txt": "You are a helpful agent.\n"}
    assert names.configmap_suffix(data) == "kd6bt5cf49"


def test_example_fleet_folders_build_to_lamina_configmaps(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Repository(example_repo) as repo:
        for config in repo.resolve_all():
            rendered = configmaps.render_config(config, repo.source_revision(config))
            assert config.cluster is not None
            folder = out / config.cluster.name
            folders.write_folder(folder, folders.folder_files(rendered, []), folders.WriteReport())
            (built,) = kustomize(folder)
            expected = rendered.configmap()
            assert built["metadata"]["name"] == expected["metadata"]["name"]
            assert built["data"] == expected["data"]
            assert built["metadata"]["labels"] == expected["metadata"]["labels"]
            assert built["metadata"]["annotations"] == expected["metadata"]["annotations"]
            assert built["metadata"]["namespace"] == expected["metadata"]["namespace"]
            assert built.get("immutable") is True


def _build_many(tmp_path: Path, maps: list[dict[str, str]]) -> list[str]:
    """Kustomize names for many data maps in one `kubectl kustomize` run."""
    folder = tmp_path / "many"
    folder.mkdir(exist_ok=True)
    generators = []
    for index, data in enumerate(maps):
        files = []
        for key_index, (key, value) in enumerate(sorted(data.items())):
            path = folder / f"m{index}-{key_index}"
            path.write_bytes(value.encode("utf-8"))
            files.append(f"{key}={path.name}")
        generators.append({"name": f"cm{index}", "files": files})
    yaml = YAML()
    with (folder / "kustomization.yaml").open("w") as handle:
        yaml.dump({"configMapGenerator": generators}, handle)
    built = kustomize(folder)
    by_prefix = {doc["metadata"]["name"].rsplit("-", 1)[0]: doc for doc in built}
    assert len(by_prefix) == len(maps)
    results = []
    for index, data in enumerate(maps):
        doc = by_prefix[f"cm{index}"]
        assert doc.get("data", {}) == data
        results.append(doc["metadata"]["name"].rsplit("-", 1)[1])
    return results


EDGE_CASES = [
    {"a.json": '{"html": "<b>&</b>"}'},
    {"unicode.txt": "Grüße, 你好, emoji 🚀, line sep \u2028 para sep \u2029 end\n"},
    {"empty.txt": ""},
    {"controls.txt": "tab\there\r\nbell\x07 formfeed\x0c backspace\x08 escape\x1b"},
    {"quote.txt": 'back\\slash "quoted"'},
    {f"key-{i:03d}.txt": f"value {i}\n" for i in range(150)},
    {"prompt.txt": "You are helpful.\n" * 20_000},
]


def test_edge_cases_match_kustomize(tmp_path: Path) -> None:
    kustomize_names = _build_many(tmp_path, EDGE_CASES)
    assert [names.configmap_suffix(data) for data in EDGE_CASES] == kustomize_names


# Keys that YAML reads as numbers or keywords come back from Kustomize's own YAML as
# non-strings, which it then cannot encode (lamina refuses such file names, see configmaps.py).
_keys = st.from_regex(r"[a-zA-Z][-._a-zA-Z0-9]{0,19}", fullmatch=True).filter(
    lambda k: configmaps._YAML_NOT_STRING.match(k) is None
)
# Kustomize reads files as UTF-8 text (no NUL, no lone surrogates) and its YAML writer refuses
# DEL, the C1 controls and U+FFFE/U+FFFF (lamina refuses those too, see configmaps.py).
_text = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\x00\ufffe\uffff" + "".join(map(chr, range(0x7F, 0xA0))),
    ),
    max_size=200,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(_keys, _text, min_size=1, max_size=6), min_size=1, max_size=8))
def test_random_data_maps_match_kustomize(tmp_path: Path, maps: list[dict[str, str]]) -> None:
    import shutil

    shutil.rmtree(tmp_path / "many", ignore_errors=True)
    assert [names.configmap_suffix(data) for data in maps] == _build_many(tmp_path, maps)


def test_equals_sign_value_matches_kustomize(tmp_path: Path) -> None:
    maps = [{"A": "="}, {"B": "= x"}]
    assert [names.configmap_suffix(data) for data in maps] == _build_many(tmp_path, maps)
