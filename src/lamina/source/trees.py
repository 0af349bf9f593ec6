"""A file tree to read config from: the working folder or one git revision.

Both refuse to hand out anything outside the repository (``..``, absolute paths,
symlinks that leave it, device files) and anything larger than the size limit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from lamina.errors import InputError, OutsideError, Place, ReferenceError_, UnknownTargetError

if TYPE_CHECKING:  # git runs on first use; reading the working tree alone starts no process
    import subprocess

DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
_MAX_SYMLINK_HOPS = 16
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)  # as Path.exists reads them


class Entry(msgspec.Struct, frozen=True):
    """One name in a folder listing."""

    name: str
    is_dir: bool


class Tree(Protocol):
    """Read-only access to the files of the config repository at one point in time."""

    @property
    def label(self) -> str:
        """How to name this tree to a person: ``working tree`` or a short revision."""

    @property
    def revision(self) -> str | None:
        """The full commit id, or None for the working tree."""

    def list_dir(self, rel: str) -> list[Entry]:
        """Entries of a folder (sorted by name); empty when it does not exist."""

    def is_dir(self, rel: str) -> bool:
        """True when rel is a folder."""

    def is_file(self, rel: str) -> bool:
        """True when rel is a regular file (following symlinks inside the repository)."""

    def read_bytes(self, rel: str) -> bytes:
        """The content of a file, refusing escapes, devices and oversized files."""


def normalize(rel: str, *, place: Place | None = None) -> str:
    """Normalize a repository-relative path; refuse absolute paths and ``..`` escapes."""
    if "\x00" in rel:
        raise ReferenceError_(f"path {rel!r} contains a NUL byte", place)
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise ReferenceError_(f"path {rel!r} is absolute; paths must stay inside the repository", place)
    norm = posixpath.normpath(rel)
    if norm == ".." or norm.startswith("../"):
        raise ReferenceError_(f"path {rel!r} leaves the repository", place)
    return "" if norm == "." else norm


class WorkingTree:
    """The repository folder as it is on disk now."""

    def __init__(self, root: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.root = root.resolve()
        self.max_file_bytes = max_file_bytes
        self._root_text = str(self.root)
        self._root_prefix = self._root_text.rstrip(os.sep) + os.sep

    @property
    def label(self) -> str:
        return "working tree"

    @property
    def revision(self) -> str | None:
        return None

    def _real(self, rel: str) -> Path:
        return Path(self._real_text(rel, normalize(rel)))

    def _real_text(self, rel: str, norm: str) -> str:
        # strings, not Path objects: a render resolves a few paths per target of the fleet
        real = self._without_links(norm)
        if real is None:  # a symlink on the way (or a missing part): the full resolution
            # os.path.realpath on strings: the same answer as Path.resolve, a good deal cheaper
            real = os.path.realpath(os.path.join(self._root_text, norm))
        if real != self._root_text and not real.startswith(self._root_prefix):
            raise ReferenceError_(f"{rel} resolves outside the repository (symlink escape)")
        return real

    def _without_links(self, norm: str) -> str | None:
        """root/norm when no part of norm is a symlink: what realpath answers (the root is
        resolved already), with one lstat per part of norm instead of per part of the whole
        path; None when a part is a symlink or cannot be looked at."""
        path = self._root_text
        if not norm:
            return path
        for part in norm.split("/"):
            path = os.path.join(path, part)
            try:
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    return None
            except OSError:
                return None
        return path

    def list_dir(self, rel: str) -> list[Entry]:
        path = self._real(rel)
        if not path.is_dir():
            return []
        entries = []
        with os.scandir(path) as scan:
            for item in scan:
                try:
                    is_dir = item.is_dir()
                except OSError as exc:  # a symlink loop (ELOOP), or a link the OS will not follow
                    where = normalize(f"{rel}/{item.name}" if rel else item.name)
                    if exc.errno == errno.ELOOP:
                        raise ReferenceError_(
                            f"{where}: a symlink loop (too many levels of symbolic links)"
                        ) from None
                    raise ReferenceError_(f"{where}: cannot read: {exc.strerror}") from None
                entries.append(Entry(item.name, is_dir))
        return sorted(entries, key=lambda e: e.name)

    def _mode(self, rel: str) -> int | None:
        """The mode of the file or folder rel names (symlinks followed), None when there is none."""
        norm = normalize(rel)
        if not os.path.lexists(os.path.join(self._root_text, norm)):
            return None
        try:
            return os.stat(self._real_text(rel, norm)).st_mode
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                return None
            raise

    def is_dir(self, rel: str) -> bool:
        # a folder that is a symlink out of the repository is an error, never silently skipped
        mode = self._mode(rel)
        return mode is not None and stat.S_ISDIR(mode)

    def is_file(self, rel: str) -> bool:
        mode = self._mode(rel)  # one stat: regular file, folder or neither
        if mode is None:
            return False
        if stat.S_ISREG(mode):
            return True
        if stat.S_ISDIR(mode):
            return False
        raise ReferenceError_(f"{rel}: not a regular file")

    def read_bytes(self, rel: str) -> bytes:
        path = self._real_text(rel, normalize(rel))
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise ReferenceError_(f"{rel}: no such file") from None
        except OSError as exc:
            raise ReferenceError_(f"{rel}: cannot read: {exc.strerror}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise ReferenceError_(f"{rel}: not a regular file")
        if info.st_size > self.max_file_bytes:
            raise InputError(
                f"{rel}: file is {info.st_size} bytes, over the limit of "
                f"{self.max_file_bytes} ([limits] max_file_bytes)"
            )
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise ReferenceError_(f"{rel}: cannot read: {exc.strerror}") from exc


def run_git(
    root: Path, *args: str, input_bytes: bytes | None = None, env: Mapping[str, str] | None = None
) -> bytes:
    """Run a git command in root (env added to the process's) and return its stdout.

    Failures become OutsideError with git's reason.
    """
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            input=input_bytes,
            capture_output=True,
            check=False,
            env={**os.environ, **env} if env else None,
        )
    except OSError as exc:
        raise OutsideError(f"cannot run git: {exc.strerror}") from exc
    if done.returncode != 0:
        raise OutsideError(f"git {_subcommand(args)} failed: {_reason(done.stderr)}")
    return done.stdout


def try_git(
    root: Path, *args: str, input_bytes: bytes | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a git command in root whose failure the caller reads (exit code, stderr) itself.

    Raises:
        OutsideError: git cannot be started at all.
    """
    import subprocess

    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            input=input_bytes,
            capture_output=True,
            check=False,
            env={**os.environ, **env} if env else None,
        )
    except OSError as exc:
        raise OutsideError(f"cannot run git: {exc.strerror}") from exc


def git_failure(args: tuple[str, ...], stderr: bytes) -> OutsideError:
    """The error of a failed git command: its verb and the line of its output that says why."""
    return OutsideError(f"git {_subcommand(args)} failed: {_reason(stderr)}")


def _subcommand(args: tuple[str, ...]) -> str:
    """The git verb among args, past any ``-c name=value`` options."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] == "-c" else rest[1:]
    return rest[0] if rest else "command"


def _reason(stderr: bytes) -> str:
    """The line of git's (or a hook's) output that says why: its first error, else its last line."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in lines:
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return lines[-1] if lines else "no output"


class GitRepo:
    """Where the config repository sits inside its git repository."""

    def __init__(self, toplevel: Path, prefix: str) -> None:
        self.toplevel = toplevel
        self.prefix = prefix  # the config repository's folder relative to the git top level ('' or 'x/y/')
        self._log_commits: list[str] = []

    def __repr__(self) -> str:
        return f"GitRepo({str(self.toplevel)!r}, {self.prefix!r})"

    @classmethod
    def find(cls, root: Path) -> GitRepo | None:
        """The git repository holding root, or None for a plain folder."""
        import subprocess

        try:
            done = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--show-toplevel", "--show-prefix"],
                capture_output=True,
                check=False,
            )
        except OSError:
            return None
        if done.returncode != 0:
            return None
        lines = done.stdout.decode().splitlines()
        prefix = lines[1] if len(lines) > 1 else ""
        return cls(Path(lines[0]), prefix)

    def resolve_revision(self, rev: str) -> str:
        """The full commit id of rev.

        Raises:
            UnknownTargetError: rev names no commit.
        """
        import subprocess

        if rev.startswith("-"):
            raise UnknownTargetError(f"unknown git revision {rev!r}")
        done = subprocess.run(
            [
                "git",
                "-C",
                str(self.toplevel),
                "rev-parse",
                "--verify",
                "--quiet",
                f"{rev}^{{commit}}",
            ],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise UnknownTargetError(f"unknown git revision {rev!r}")
        return done.stdout.decode().strip()

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository without commits."""
        import subprocess

        done = subprocess.run(
            ["git", "-C", str(self.toplevel), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            check=False,
        )
        return done.stdout.decode().strip() or None

    def identity_args(self) -> list[str]:
        """``-c user.name=... -c user.email=...`` for a machine where git has no identity, so
        lamina's own commits (pins) never fail for want of one; empty when git has one."""
        import subprocess

        args: list[str] = []
        for key, fallback in (("user.name", "lamina"), ("user.email", "lamina@localhost")):
            probe = subprocess.run(
                ["git", "-C", str(self.toplevel), "config", key], capture_output=True, check=False
            )
            if probe.returncode != 0 or not probe.stdout.strip():
                args += ["-c", f"{key}={fallback}"]
        return args

    def remote_url(self, name: str = "origin") -> str | None:
        """The URL of a git remote, or None."""
        import subprocess

        done = subprocess.run(
            ["git", "-C", str(self.toplevel), "remote", "get-url", name],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None

    def newest_commits(self, folders: list[str]) -> dict[str, int]:
        """For every file under folders (config-repository relative), the position of the newest
        commit on HEAD's history that changed it (0 is newest); one ``git log`` for all of them."""
        out = run_git(
            self.toplevel,
            "log",
            "--format=%x00%H",
            "--name-only",
            "--no-renames",
            "HEAD",
            "--",
            *[self.prefix + folder for folder in folders],
        ).decode("utf-8", "surrogateescape")
        self._log_commits = []
        newest: dict[str, int] = {}
        for chunk in out.split("\x00")[1:]:
            lines = chunk.strip("\n").split("\n")
            index = len(self._log_commits)
            self._log_commits.append(lines[0])
            for name in lines[1:]:
                if name and name.startswith(self.prefix):
                    newest.setdefault(name[len(self.prefix) :], index)
        return newest

    def commit_at(self, index: int) -> str:
        """The commit at a position returned by :meth:`newest_commits`."""
        return self._log_commits[index]


class GitTree:
    """The repository's files as of one commit, read with the git CLI."""

    def __init__(self, repo: GitRepo, commit: str, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES):
        self.repo = repo
        self.commit = commit
        self.max_file_bytes = max_file_bytes
        self._blobs: dict[str, tuple[str, str, int]] = {}  # path -> (mode, sha, size)
        self._dirs: dict[str, list[Entry]] = {}
        self._load_listing()
        self._cat: subprocess.Popen[bytes] | None = None

    @property
    def label(self) -> str:
        return self.commit[:12]

    @property
    def revision(self) -> str | None:
        return self.commit

    def _load_listing(self) -> None:
        out = run_git(self.repo.toplevel, "ls-tree", "-r", "-l", "-z", "--full-tree", self.commit)
        prefix = self.repo.prefix
        dirs: dict[str, set[tuple[str, bool]]] = {}
        for record in out.split(b"\x00"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            mode, kind, sha, size = meta.decode().split()
            path = raw_path.decode("utf-8", "surrogateescape")
            if prefix:
                if not path.startswith(prefix):
                    continue
                path = path[len(prefix) :]
            if kind != "blob":
                continue
            self._blobs[path] = (mode, sha, int(size) if size != "-" else 0)
            parts = path.split("/")
            for depth in range(len(parts)):
                parent = "/".join(parts[:depth])
                dirs.setdefault(parent, set()).add((parts[depth], depth < len(parts) - 1))
        self._dirs = {
            key: sorted((Entry(name, is_dir) for name, is_dir in names), key=lambda e: e.name)
            for key, names in dirs.items()
        }

    def _follow(self, rel: str) -> str:
        path = normalize(rel)
        for _ in range(_MAX_SYMLINK_HOPS):
            blob = self._blobs.get(path)
            if blob is None or blob[0] != "120000":
                return path
            target = self._cat_blob(blob[1]).decode("utf-8", "surrogateescape")
            try:
                path = normalize(posixpath.join(posixpath.dirname(path), target))
            except ReferenceError_:
                raise ReferenceError_(
                    f"{rel} is a symlink that leaves the repository (at {self.label})"
                ) from None
        raise ReferenceError_(f"{rel}: too many levels of symlinks (at {self.label})")

    def list_dir(self, rel: str) -> list[Entry]:
        return list(self._dirs.get(normalize(rel), []))

    def is_dir(self, rel: str) -> bool:
        return normalize(rel) in self._dirs

    def is_file(self, rel: str) -> bool:
        try:
            return self._follow(rel) in self._blobs
        except ReferenceError_:
            return False

    def read_bytes(self, rel: str) -> bytes:
        path = self._follow(rel)
        blob = self._blobs.get(path)
        if blob is None:
            raise ReferenceError_(f"{rel}: no such file at revision {self.label}")
        if blob[0] not in ("100644", "100755"):
            raise ReferenceError_(f"{rel}: not a regular file at revision {self.label}")
        if blob[2] > self.max_file_bytes:
            raise InputError(
                f"{rel}: file is {blob[2]} bytes, over the limit of {self.max_file_bytes} "
                "([limits] max_file_bytes)"
            )
        return self._cat_blob(blob[1])

    def _cat_blob(self, sha: str) -> bytes:
        import subprocess

        # One long-lived `git cat-file --batch` reads every blob of this revision.
        if self._cat is None:
            self._cat = subprocess.Popen(
                ["git", "-C", str(self.repo.toplevel), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        assert self._cat.stdin is not None and self._cat.stdout is not None
        self._cat.stdin.write(sha.encode() + b"\n")
        self._cat.stdin.flush()
        header = self._cat.stdout.readline().split()
        if len(header) != 3:
            raise OutsideError(f"git cat-file could not read blob {sha}")
        size = int(header[2])
        data = self._cat.stdout.read(size)
        self._cat.stdout.read(1)
        return data

    def close(self) -> None:
        """Stop the git helper process."""
        if self._cat is not None:
            assert self._cat.stdin is not None
            self._cat.stdin.close()
            self._cat.wait()
            if self._cat.stdout is not None:
                self._cat.stdout.close()
            self._cat = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing useful to do
            self.close()
