"""Hostile input through the real CLI: one clear error line with its place, the exit code SPEC
section 9 asks for, bounded time and memory, and nothing written.

Each case of :mod:`tests.hostile.corpus` runs ``lamina --repo DIR ...`` in a child process
limited to 1.5 GiB of address space and the case's timeout, in the repository folder (so a
YAML tag that ran ``touch pwned`` would leave a file the snapshot sees).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cli_support import Ran, run_lamina
from conftest import commit_all

from .corpus import BASE, CASES, OUTSIDE_FILES, Case, Fifo, Files, Link

MEMORY_LIMIT = 3 * 2**29  # 1.5 GiB
STATE_FOLDER = ".lamina"
SQLITE_SIDECARS = ("-wal", "-shm", "-journal", ".lock")


def write_files(root: Path, files: Files, outside: Path) -> None:
    for rel, content in {**BASE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            path.symlink_to(content.target.format(outside=outside))
        elif isinstance(content, Fifo):
            os.mkfifo(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under root: kind and content hash (never opening pipes or following links)."""
    entries: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = "link " + os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = "dir"
            elif stat.S_ISREG(info.st_mode) and rel.startswith(STATE_FOLDER + "/"):
                # never open a database file: closing any descriptor of it drops this process's
                # POSIX locks on it, and a case may be holding one (a locked database)
                entries[rel] = f"file {info.st_size} bytes, mtime {info.st_mtime_ns}"
            elif stat.S_ISREG(info.st_mode):
                entries[rel] = "file " + hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                entries[rel] = f"special {stat.S_IFMT(info.st_mode):o}"
    return entries


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What the command wrote: lamina's state folder may appear, but what was in it stays."""
    found = []
    for rel in sorted(before.keys() | after.keys()):
        if before.get(rel) == after.get(rel):
            continue
        in_state = rel == STATE_FOLDER or rel.startswith(STATE_FOLDER + "/")
        if in_state and (rel not in before or rel.endswith(SQLITE_SIDECARS)):
            continue
        found.append(f"{rel}: {before.get(rel, 'absent')} -> {after.get(rel, 'absent')}")
    return found


def lamina(root: Path, args: tuple[str, ...], timeout: float) -> Ran:
    return run_lamina("--repo", root, *args, cwd=root, timeout=timeout, memory_limit=MEMORY_LIMIT)


@pytest.mark.parametrize("case", CASES)
def test_hostile_input(tmp_path: Path, case: Case) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for rel, text in OUTSIDE_FILES.items():
        (outside / rel).write_text(text)
    root = tmp_path / "repo"
    write_files(root, case.files, outside)
    if case.git:
        commit_all(root, "fleet")
    with case.setup(root) if case.setup else contextlib.nullcontext():
        before = snapshot(root)
        try:
            done = lamina(root, case.args, case.timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"lamina {' '.join(case.args)} ran longer than {case.timeout:g} s")
        after = snapshot(root)

    assert "Traceback" not in done.stdout + done.stderr
    assert "internal error" not in done.stderr
    assert (done.returncode, changes(before, after)) == (case.exit_code, [])
    if case.exit_code == 0:
        assert done.stderr == ""
    elif case.exit_code == 1:  # a finding: reported on stdout, nothing on stderr
        assert case.expected in done.stdout
        assert done.stderr == ""
    else:
        assert done.stdout == ""
        assert done.stderr.startswith("error: ")
        assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
        assert case.expected in done.stderr
