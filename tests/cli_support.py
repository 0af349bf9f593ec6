"""Run the ``lamina`` command the one way every test does: the same clean environment each time.

The environment is this process's, less anything that would steer lamina from outside the test
(``LAMINA_*`` settings, a ``KUBECONFIG``, ``VAULT_*``, forced or suppressed colour), plus the
tests' git identity and a colour-capable ``TERM`` (so piped output proves it stays plain), plus
whatever the test passes. :func:`run_lamina` runs the installed console script in a child
process, as a user or a script would; :func:`run_lamina_in_process` runs it in this process,
for the many quick commands of the emulated-cluster tests; :func:`start_lamina_serve` starts
the server. Other long-running ``lamina`` processes take :func:`lamina_environ` for ``env``.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

import httpx

from conftest import GIT_ENV
from port_support import free_port, listens

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


def start_lamina_serve(
    root: Path,
    *,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] = subprocess.DEVNULL,
    stderr: int | IO[bytes] = subprocess.DEVNULL,
    start_new_session: bool = False,
    timeout: float = 30,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``lamina --repo ROOT serve`` on a free loopback port; return it and its base URL.

    Returns once the child itself listens on the port and answers /healthz. ``lamina serve``
    binds the port by itself, so another process can take it first: then the child exits
    (address in use), or a server that is not the child answers, and the next free port is
    tried, three times in all. Stopping the process is the caller's.
    """
    exits = []
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [str(LAMINA), "--repo", str(root), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=lamina_environ(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=start_new_session,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            if listens(process.pid, port) and _healthy(url):
                return process, url
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError(f"lamina serve did not answer on {url} within {timeout:g} s")
            time.sleep(0.1)
        exits.append(process.returncode)
    raise RuntimeError(f"lamina serve exited at once on three ports in a row (exit codes {exits})")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def run_on_a_terminal(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Run ``lamina ARGS`` on a real terminal (a pty; set its size with COLUMNS and LINES in env)
    and return the exit code and what a person sees there, colours removed."""
    parent, child = pty.openpty()
    process = subprocess.Popen(
        [str(LAMINA), *args], cwd=cwd, env=lamina_environ(env), stdin=child, stdout=child, stderr=child
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = process.wait(timeout=60)
    os.close(parent)
    text = b"".join(chunks).decode()
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n").replace("\r", "\n")
