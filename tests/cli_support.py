"""Run the ``lamina`` command the one way every test does: the same clean environment each time.

The environment is this process's, less anything that would steer lamina from outside the test
(``LAMINA_*`` settings, a ``KUBECONFIG``, ``VAULT_*``, forced or suppressed colour), plus the
tests' git identity and a colour-capable ``TERM`` (so piped output proves it stays plain), plus
whatever the test passes. :func:`run_lamina` runs the installed console script in a child
process, as a user or a script would; :func:`run_lamina_in_process` runs it in this process,
for the many quick commands of the emulated-cluster tests. Long-running ``lamina serve``
processes take :func:`lamina_environ` for their ``env``.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from conftest import GIT_ENV

LAMINA = Path(sys.executable).with_name("lamina")
"""The console script installed in the environment running the tests (.venv/bin/lamina)."""

STRAY_SETTINGS = ("LAMINA_", "KUBECONFIG", "VAULT_", "FORCE_COLOR", "CLICOLOR_FORCE", "NO_COLOR")
"""Prefixes of variables dropped from the environment unless the test passes them."""


class Ran(NamedTuple):
    """One finished ``lamina`` command; unpacks as ``code, out, err``."""

    returncode: int
    stdout: str
    stderr: str


def lamina_environ(env: Mapping[str, str] | None = None, **settings: str) -> dict[str, str]:
    """The environment for a ``lamina`` process: no stray settings, the git identity, then env."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(STRAY_SETTINGS)}
    environ.update(GIT_ENV)
    environ["TERM"] = "xterm-256color"
    environ.update(env or {})
    environ.update(settings)
    return environ


def run_lamina(
    *args: str | Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
    wrap: Sequence[str] = (),
    memory_limit: int | None = None,
) -> Ran:
    """Run ``lamina ARGS`` in a child process with its output piped, and wait for it.

    Args:
        args: the command line after ``lamina``.
        cwd: the working folder (default: this process's).
        env: variables to set on top of :func:`lamina_environ`.
        input: text for stdin (default: none, stdin is /dev/null).
        timeout: seconds before ``subprocess.TimeoutExpired`` is raised.
        wrap: a command prefix to run lamina under (e.g. ``unshare ...``).
        memory_limit: bytes of address space the child may use (``RLIMIT_AS``).
    """

    def limit_memory() -> None:  # runs in the child, before lamina starts
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    done = subprocess.run(
        [*wrap, str(LAMINA), *map(str, args)],
        cwd=cwd,
        env=lamina_environ(env),
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory if memory_limit is not None else None,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def run_lamina_in_process(*args: str | Path, env: Mapping[str, str] | None = None) -> Ran:
    """Run ``lamina ARGS`` in this process, with os.environ set as :func:`run_lamina` sets it.

    Quicker than a child process; os.environ, sys.argv, stdout and stderr are restored after.
    """
    from lamina.cli import app

    out, err = io.StringIO(), io.StringIO()
    saved_environ, saved_argv = dict(os.environ), sys.argv
    os.environ.clear()
    os.environ.update(lamina_environ(env))
    sys.argv = ["lamina", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                app.main()
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_environ)
    return Ran(code, out.getvalue(), err.getvalue())
