"""Rendering a whole fleet: the same bytes serially or in worker processes, and a cache that
skips work only when nothing it depends on changed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

import lamina
from lamina.errors import InputError
from lamina.render import folders, yamltext


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_worker_processes_write_the_same_files_as_one_process(example_repo: Path, tmp_path: Path) -> None:
    with lamina.Repository(example_repo) as repo:
        serial, serial_clusters = folders.render_fleet(repo, tmp_path / "a", workers=1, use_cache=False)
    with lamina.Repository(example_repo) as repo:
        forked, forked_clusters = folders.render_fleet(repo, tmp_path / "b", workers=2, use_cache=False)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert len(serial.written) == len(forked.written) == 15
    assert sorted(serial_clusters) == sorted(forked_clusters)


def render(repo_root: Path, out: Path) -> folders.WriteReport:
    with lamina.Repository(repo_root) as repo:
        report, _ = folders.render_fleet(repo, out)
    return report


def test_unchanged_fleet_is_answered_from_the_cache(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = render(example_repo, out)
    assert len(first.written) == 15
    assert (example_repo / ".lamina" / "render-cache.json").is_file()
    second = render(example_repo, out)
    assert second.written == []
    assert len(second.unchanged) == 15


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse clocks: make the change visible
        os.utime(path, ns=(time.time_ns(), before + 1_000_000))


def test_a_changed_cluster_file_is_rendered_again(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(example_repo, out)
    patch = example_repo / "clusters" / "prod-eu-1.toml"
    _touch_later(patch, patch.read_text() + "\n[agent]\nmax_tokens = 700   # shorter EU answers\n")
    report = render(example_repo, out)
    assert {Path(p).parent.name for p in report.written} == {"prod-eu-1"}


def test_a_new_overlay_file_is_noticed(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(example_repo, out)
    time.sleep(0.01)
    (example_repo / "overlays" / "staging" / "zz-extra.toml").write_text(
        "[agent]\nmax_tokens = 900   # staging answers shorter too\n"
    )
    report = render(example_repo, out)
    assert {Path(p).parent.name for p in report.written} == {"staging-us-1"}


def test_an_output_edited_by_hand_is_rendered_again(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(example_repo, out)
    edited = out / "prod-us-1" / "agent-config.json"
    _touch_later(edited, "{}\n")
    report = render(example_repo, out)
    assert report.written == [str(edited)]


def _break_prod_eu_1(repo_root: Path) -> None:
    """A cluster whose prompt file name cannot be a ConfigMap key: resolves, then fails to render."""
    (repo_root / "clusters" / "prompts").mkdir()
    (repo_root / "clusters" / "prompts" / "eu prompt.txt").write_text("Answer in the customer's language.\n")
    patch = repo_root / "clusters" / "prod-eu-1.toml"
    _touch_later(patch, patch.read_text() + '\n[agent]\nsystem_prompt = { file = "prompts/eu prompt.txt" }\n')


def _leftovers(out: Path) -> list[str]:
    places = [out.parent, *([out] if out.is_dir() else [])]
    return sorted(
        p.name for place in places for p in place.iterdir() if p.name.endswith(folders.Staging.SUFFIX)
    )


@pytest.mark.parametrize(
    "workers", [pytest.param(1, id="one-process"), pytest.param(2, id="worker-processes")]
)
def test_a_render_that_fails_leaves_the_folder_as_it_was(
    example_repo: Path, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "out"
    render(example_repo, out)
    before = {name: (content, (out / name).stat().st_mtime_ns) for name, content in snapshot(out).items()}
    other = example_repo / "clusters" / "prod-us-2.toml"  # a change that renders well, staged first
    _touch_later(other, other.read_text() + "\n[agent]\nmax_tokens = 650\n")
    _break_prod_eu_1(example_repo)
    with pytest.raises(InputError) as caught, lamina.Repository(example_repo) as repo:
        folders.render_fleet(repo, out, workers=workers, use_cache=False)
    assert (
        str(caught.value)
        == "clusters/prompts/eu prompt.txt: file name 'eu prompt.txt' cannot be a ConfigMap key"
    )
    assert {
        name: (content, (out / name).stat().st_mtime_ns) for name, content in snapshot(out).items()
    } == before
    assert _leftovers(out) == []


def test_a_first_render_that_fails_makes_no_folder(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _break_prod_eu_1(example_repo)
    with pytest.raises(InputError), lamina.Repository(example_repo) as repo:
        folders.render_fleet(repo, out, workers=1, use_cache=False)
    assert not out.exists()
    assert _leftovers(out) == []


def test_a_prompt_kustomize_cannot_write_is_refused_at_its_line(example_repo: Path, tmp_path: Path) -> None:
    prompt = example_repo / "base" / "prompts" / "system_prompt.txt"
    prompt.write_text(prompt.read_text() + "A line with a DEL \x7f in it.\n")
    lines = prompt.read_text().count("\n")
    for _ in range(2):  # the second time the check is remembered: the same answer
        with pytest.raises(InputError) as caught, lamina.Repository(example_repo) as repo:
            folders.render_fleet(repo, tmp_path / "out", workers=1, use_cache=False)
        assert str(caught.value) == (
            f"base/prompts/system_prompt.txt:{lines}: holds character U+007F, which Kustomize cannot "
            "write into a ConfigMap"
        )


def test_files_with_the_same_bytes_are_one_file_until_one_is_edited(
    example_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    render(example_repo, out)
    prompts = sorted(out.glob("*/system_prompt.txt"))
    assert len(prompts) == 5
    assert len({p.stat().st_ino for p in prompts}) == 1  # one file, five names
    assert len({p.stat().st_ino for p in out.glob("*/agent-config.json")}) == 5
    _touch_later(prompts[0], "edited by hand\n")  # in place: every name shows the edit
    report = render(example_repo, out)
    assert sorted(report.written) == [str(p) for p in prompts]
    assert {p.read_text() for p in prompts} == {
        (example_repo / "base" / "prompts" / "system_prompt.txt").read_text()
    }


def test_a_staging_folder_left_by_a_killed_render_is_removed(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead = subprocess.Popen(["sleep", "0"])  # a process that no longer runs
    dead.wait()
    left = tmp_path / f".out.{dead.pid}{folders.Staging.SUFFIX}"
    (left / "prod-us-1").mkdir(parents=True)
    (left / "prod-us-1" / "agent-config.json").write_text("{\n")
    report = render(example_repo, out)
    assert len(report.written) == 15
    assert _leftovers(out) == []
    assert json.loads((out / "prod-us-1" / "agent-config.json").read_text())
    inside = out / f".out.{dead.pid}{folders.Staging.SUFFIX}"  # where a later render stages
    (inside / "prod-us-1").mkdir(parents=True)
    with lamina.Repository(example_repo) as repo:
        again, _ = folders.render_fleet(repo, out, use_cache=False)
    assert again.written == []
    assert _leftovers(out) == []


def test_a_file_the_render_no_longer_makes_is_removed(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    render(example_repo, out)
    stale = out / "prod-us-1" / "old-prompt.txt"
    stale.write_text("from an earlier render\n")
    with lamina.Repository(example_repo) as repo:
        report, _ = folders.render_fleet(repo, out, use_cache=False)
    assert report.removed == [str(stale)]
    assert report.written == []
    assert not stale.exists()


_plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | _plain_text
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.dictionaries(_plain_text, inner, max_size=4)
        | st.lists(st.dictionaries(_plain_text, inner, max_size=3) | _scalars, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(_plain_text, _values, max_size=5))
def test_simple_yaml_reads_back_as_written(data: dict[str, object]) -> None:
    assert YAML(typ="safe", pure=True).load(yamltext.dump_simple(data)) == (data or None)
