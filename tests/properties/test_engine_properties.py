"""Laws of the engine, checked on generated input (hypothesis).

- resolving is deterministic and does not depend on the order files were created in, nor on
  files that are not config (sub-folders, kustomization.yaml, notes);
- a rendered folder, built by the real ``kubectl kustomize``, carries the resolved config;
- ``diff`` is symmetric and composes (the round trip itself lives in tests/core/test_diffs.py);
- the audit chain verifies after any sequence of appends and fails after any single edit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from sqlalchemy import select, update

from lamina.core import hashing
from lamina.core.diffs import ABSENT, Change, apply_changes, diff
from lamina.errors import LaminaError
from lamina.render import folders
from lamina.resolve.repository import Repository
from lamina.store import audit
from lamina.store.database import Database
from lamina.store.models import AuditRecord

KUBECTL = Path(__file__).resolve().parents[2] / ".cache" / "bin" / "kubectl"
TARGET = "prod/c1"
LAMINA_TOML = """\
[fleet]
name = "props"
promotion = ["dev", "prod"]

[clusters.c1]
environment = "prod"
namespace   = "agents"
"""

# -- generated layers --------------------------------------------------------------------------

# Characters the rendered agent-config.json does not survive `kubectl kustomize` with (known
# bugs, see test_kustomize_round_trips_characters_json_leaves_raw below).
AWKWARD = "\x7f\x85\u2028\u2029\ufffe\uffff" + "".join(map(chr, range(0x80, 0xA0)))

# no "$" (directives, interpolation) and no null (YAML's "remove this key"): plain config values
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="$" + AWKWARD), max_size=12)
_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
_keys = st.sampled_from(["agent", "model", "tokens", "tools", "name", "limits", "a", "b", "ü-key", "x.y"])
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_keys, children, min_size=1, max_size=3)
    ),
    max_leaves=12,
)
_tables = st.dictionaries(_keys, _values, min_size=1, max_size=4)
_file_names = st.lists(
    st.sampled_from(["00-first", "agent", "b", "tools", "zz-last", "Upper"]),
    min_size=1,
    max_size=3,
    unique=True,
)


@st.composite
def layer_files(draw: st.DrawFn, folder: str) -> dict[str, str]:
    """A layer of one to three config files, each JSON or YAML (JSON text is YAML too)."""
    files = {}
    for name in draw(_file_names):
        suffix = draw(st.sampled_from([".json", ".yaml"]))
        # ensure_ascii=False: YAML reads a JSON surrogate-pair escape as two lone surrogates (a
        # known bug, tests/hostile/corpus.py yaml-surrogate-pair-escape)
        files[f"{folder}/{name}{suffix}"] = json.dumps(draw(_tables), ensure_ascii=False)
    return files


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, str]:
    """lamina.toml plus base, the prod overlay and the c1 cluster layer."""
    return {
        "lamina.toml": LAMINA_TOML,
        **draw(layer_files("base")),
        **draw(layer_files("overlays/prod")),
        **draw(layer_files("clusters/c1")),
    }


NOT_CONFIG = {
    "base/prompts/notes.toml": "this = [is not config",
    "base/kustomization.yaml": "resources: [nope]\n",
    "overlays/prod/README.md": "# not config\n",
    "clusters/c1/sub/deeper.json": '{"ignored": true}',
}


def write(root: Path, files: dict[str, str], order: list[str]) -> Path:
    for rel in order:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[rel])
    return root


def outcome(root: Path) -> tuple[str, Any]:
    """The resolved config and its hash, or the error it ends with (also a deterministic outcome)."""
    try:
        with Repository(root) as repo:
            config = repo.resolve(TARGET)
            return config.config_hash, config.data
    except LaminaError as exc:
        return "error", str(exc)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder for one hypothesis example (tmp_path is shared by all examples of a test)."""
    with tempfile.TemporaryDirectory(prefix="lamina-props-") as folder:
        yield Path(folder)


def _fresh(scratch: Path, name: str) -> Path:
    path = scratch / name
    shutil.rmtree(path, ignore_errors=True)
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=fleets(), data=st.data())
def test_resolve_ignores_creation_order_and_files_that_are_not_config(
    scratch: Path, files: dict[str, str], data: st.DataObject
) -> None:
    names = sorted(files)
    shuffled = data.draw(st.permutations(names), label="creation order")
    first = write(_fresh(scratch, "sorted"), files, names)
    second = write(_fresh(scratch, "shuffled"), {**files, **NOT_CONFIG}, [*NOT_CONFIG, *shuffled])
    expected = outcome(first)
    assert outcome(first) == expected  # the same repository twice
    assert outcome(second) == expected


# -- render, then the real kustomize --------------------------------------------------------------


def kustomize(folder: Path) -> list[Any]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in YAML(typ="safe", pure=True).load_all(done.stdout) if doc]


# Kustomize reads files as UTF-8 text and its YAML writer refuses DEL, the C1 controls and
# U+FFFE/U+FFFF in a file's text (lamina refuses those in referenced files, see configmaps.py)
_prompts = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\x00\ufffe\uffff" + "".join(map(chr, range(0x7F, 0xA0))),
    ),
    max_size=300,
)


@st.composite
def renderable_fleets(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    """Layers that cannot conflict (each writes its own top-level table) and a referenced prompt."""
    base = {**draw(_tables), "prompt": {"file": "prompts/system.txt"}}
    prompt = draw(_prompts)
    files = {
        "lamina.toml": LAMINA_TOML,
        "base/agent.json": json.dumps(base),
        "overlays/prod/patch.yaml": json.dumps({"overlay": draw(_tables)}, ensure_ascii=False),
        "clusters/c1.json": json.dumps({"cluster": draw(_tables)}),
        "base/prompts/system.txt": prompt,
    }
    return files, prompt


@pytest.mark.skipif(not KUBECTL.exists(), reason="run scripts/install-kubectl.sh (make setup does) first")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fleet=renderable_fleets())
def test_kustomize_builds_the_resolved_config_from_the_rendered_folder(
    scratch: Path, fleet: tuple[dict[str, str], str]
) -> None:
    files, prompt = fleet
    root = write(_fresh(scratch, "repo"), files, sorted(files))
    out = _fresh(scratch, "out")
    with Repository(root) as repo:
        config = repo.resolve(TARGET)
        folders.render_fleet(repo, out, use_cache=False, workers=1)
    (configmap,) = kustomize(out / "c1")
    assert configmap["data"]["system.txt"] == prompt
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["namespace"] == "agents"
    shipped = json.loads(configmap["data"]["agent-config.json"])
    assert hashing.canonical_json(shipped).decode() == hashing.canonical_json(config.data).decode()


# -- diff -----------------------------------------------------------------------------------------

_any_keys = st.text(max_size=4)  # "", "$x", dots, unicode: keys lamina never parses again
_trees = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=4),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_any_keys, children, max_size=3)
    ),
    max_leaves=15,
)


def _mirror(change: Change) -> Change:
    return Change(change.path, change.b, change.a)


@settings(max_examples=200, deadline=None)
@given(_trees, _trees)
def test_diff_backwards_is_diff_forwards_mirrored(a: Any, b: Any) -> None:
    backwards = diff(b, a)
    assert [c.path for c in backwards] == [c.path for c in diff(a, b)]
    assert [(c.a, c.b) for c in backwards] == [(m.a, m.b) for m in map(_mirror, diff(a, b))]
    assert hashing.canonical_json(apply_changes(b, backwards)) == hashing.canonical_json(a)


@settings(max_examples=200, deadline=None)
@given(_trees, _trees, _trees)
def test_diffs_compose(a: Any, b: Any, c: Any) -> None:
    through_b = apply_changes(apply_changes(a, diff(a, b)), diff(b, c))
    assert hashing.canonical_json(through_b) == hashing.canonical_json(c)
    for change in diff(a, c):
        assert change.a is not ABSENT or change.b is not ABSENT


# -- the audit chain --------------------------------------------------------------------------------

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
_details = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        _json_leaves,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=6,
    ),
    max_size=4,
)
_appends = st.lists(
    st.fixed_dictionaries(
        {
            "actor": st.text(min_size=1, max_size=20),
            "action": st.sampled_from(
                ["promotion.request", "promotion.approve", "apply", "pin", "emergency"]
            ),
            "environment": st.none() | st.sampled_from(["dev", "staging", "production-eu"]),
            "subject": st.none() | st.text(max_size=20),
            "detail": _details,
            "minutes": st.integers(min_value=0, max_value=10**6),
            "microseconds": st.integers(min_value=0, max_value=999_999),
        }
    ),
    min_size=1,
    max_size=8,
)
FIELDS = ["at", "actor", "action", "environment", "subject", "detail", "prev_hash", "hash"]


def _edited(field: str, old: Any) -> Any:
    """A value for field that differs from old however the database stores it."""
    if field == "at":
        return old + timedelta(seconds=1)
    if field in ("prev_hash", "hash"):
        return ("1" if old[0] == "0" else "0") + old[1:]
    if field == "detail":
        return {**old, "\u2063edited": True}
    if field == "environment":
        return "x" if old is None else old + "x"
    return "x" if old is None else old + "x"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(appends=_appends, data=st.data())
def test_audit_chain_verifies_after_appends_and_fails_after_any_single_edit(
    scratch: Path, appends: list[dict[str, Any]], data: st.DataObject
) -> None:
    path = _fresh(scratch, "db") / "state.db"
    path.parent.mkdir()
    db = Database(f"sqlite:///{path}")
    try:
        for entry in appends:
            at = T0 + timedelta(minutes=entry["minutes"], microseconds=entry["microseconds"])
            db.run(
                lambda s, e=entry, at=at: audit.append(
                    s,
                    actor=e["actor"],
                    action=e["action"],
                    at=at,
                    environment=e["environment"],
                    subject=e["subject"],
                    detail=e["detail"],
                )
            )
        intact = db.read(audit.verify)
        assert (intact.ok, intact.rows) == (True, len(appends))

        seq = data.draw(st.integers(min_value=1, max_value=len(appends)), label="row")
        field = data.draw(st.sampled_from(FIELDS), label="field")
        row = db.read(lambda s: s.execute(select(AuditRecord).where(AuditRecord.seq == seq)).scalar_one())
        new = _edited(field, getattr(row, field))
        db.run(lambda s: s.execute(update(AuditRecord).where(AuditRecord.seq == seq).values({field: new})))

        broken = db.read(audit.verify)
        assert not broken.ok
        assert broken.first_broken == seq
    finally:
        db.dispose()


@pytest.mark.skipif(not KUBECTL.exists(), reason="run scripts/install-kubectl.sh (make setup does) first")
@pytest.mark.parametrize(
    "char",
    [
        pytest.param("\x7f", id="DEL"),
        pytest.param("\x85", id="NEL"),
        pytest.param("\x9f", id="C1-control"),
        pytest.param("\u2028", id="line-separator"),
        pytest.param("\u2029", id="paragraph-separator"),
        pytest.param("\ufffe", id="U+FFFE"),
    ],
)
def test_kustomize_round_trips_characters_json_leaves_raw(scratch: Path, char: str) -> None:
    files = {
        "lamina.toml": LAMINA_TOML,
        "base/agent.json": json.dumps({"agent": {"greeting": f"a{char}b"}}),
    }
    root = write(_fresh(scratch, "repo"), files, sorted(files))
    out = _fresh(scratch, "out")
    with Repository(root) as repo:
        config = repo.resolve(TARGET)
        folders.render_fleet(repo, out, use_cache=False, workers=1)
    (configmap,) = kustomize(out / "c1")
    assert json.loads(configmap["data"]["agent-config.json"]) == config.data
