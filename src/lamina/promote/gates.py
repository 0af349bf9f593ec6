"""The gates a promotion request passes before anyone may approve it.

- ``validate``: every check of ``lamina validate`` on the target's configs after the move
  (errors fail the gate; warnings are listed);
- ``secrets``: ``lamina secrets check`` on the target after the move;
- ``check``: each ``[promotion] checks`` command, run without a shell in the repository folder,
  with a timeout and ``LAMINA_SOURCE``, ``LAMINA_TARGET``, ``LAMINA_REVISION`` in its
  environment; its output is kept (truncated) with the request;
- ``soak``: with ``[promotion] soak = "2h"``, the revision must have run in the source
  environment that long. Not yet long enough is ``waiting``, not ``failed``: the request
  collects approvals meanwhile and ``apply`` checks the soak again.

A gate that said no is ``failed``; one that could not run (a cluster that could not be asked,
a check command that cannot start) is ``errored`` (:class:`lamina.core.states.GateOutcome`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from lamina.clusters import secrets
from lamina.core.gates import GateResult
from lamina.core.states import GateOutcome
from lamina.resolve.repository import Repository
from lamina.store import applies
from lamina.store.database import Database
from lamina.validate import credentials
from lamina.validate import runner as validation
from lamina.validate.diagnostics import Severity

OUTPUT_LIMIT = 8000
CANNOT_START = 127
"""The exit code of a check command that could not be started (as a shell reports it)."""


@dataclass(frozen=True)
class CommandOutcome:
    """What running one check command gave."""

    returncode: int | None  # None: it did not finish in time
    output: str


CommandRunner = Callable[[Sequence[str], Path, Mapping[str, str], float], CommandOutcome]
"""(argv, folder, extra environment, timeout in seconds) -> outcome."""


def run_command(
    argv: Sequence[str], cwd: Path, extra_env: Mapping[str, str], timeout: float
) -> CommandOutcome:
    """Run a check command without a shell; stdout and stderr together, truncated.

    It runs in a process group of its own, so a timeout stops whatever it started too.
    """
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandOutcome(CANNOT_START, f"cannot run {argv[0]}: {exc.strerror}")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return CommandOutcome(None, _truncate(output.decode("utf-8", "replace")))
    finally:
        with contextlib.suppress(ProcessLookupError):  # children left running after it exited
            os.killpg(process.pid, signal.SIGKILL)
    return CommandOutcome(process.returncode, _truncate(output.decode("utf-8", "replace")))


def _truncate(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return f"[... {len(text) - OUTPUT_LIMIT} characters cut ...]\n" + text[-OUTPUT_LIMIT:]


def validate_gate(moved: Repository, target: str) -> GateResult:
    """Validation of the target's configs after the move."""
    found = validation.validate(moved, [target])
    errors = [d for d in found if d.severity == Severity.ERROR]
    warnings = [d for d in found if d.severity != Severity.ERROR]
    listing = "; ".join(str(d) for d in [*errors, *warnings][:20])
    if errors:
        return GateResult("validate", GateOutcome.FAILED, f"{len(errors)} error(s): {listing}")
    if warnings:
        return GateResult("validate", GateOutcome.PASSED, f"no errors, {len(warnings)} warning(s): {listing}")
    return GateResult("validate", GateOutcome.PASSED, "no problems")


def secrets_gate(moved: Repository, target: str, lookups: secrets.Lookups | None = None) -> GateResult:
    """Every referenced secret exists on every cluster of the target (names only)."""
    checks = secrets.check_environment(moved, target, lookups or secrets.Lookups())
    failing = secrets.failures(checks)
    if failing:
        listing = ", ".join(f"{c.cluster}: {c.reference} {c.status}" for c in failing)
        # a secret that could not be looked up is not known to be missing: the gate could not run
        missing = any(c.status == secrets.MISSING for c in failing)
        return GateResult("secrets", GateOutcome.FAILED if missing else GateOutcome.ERRORED, listing)
    skipped = sum(1 for c in checks if c.status == secrets.SKIPPED)
    note = f", {skipped} skipped" if skipped else ""
    return GateResult("secrets", GateOutcome.PASSED, f"{len(checks) - skipped} reference(s) present{note}")


def check_gates(
    commands: Sequence[Sequence[str]],
    folder: Path,
    *,
    source: str | None,
    target: str,
    revision: str,
    timeout: timedelta,
    runner: CommandRunner = run_command,
    secret_variables: Collection[str] = (),
) -> list[GateResult]:
    """Run each ``[promotion] checks`` command; their output is kept with secrets masked.

    A check inherits lamina's environment (it may need credentials of its own), so what it
    prints is masked before it is stored: the values of variables whose names say they are
    credentials (``*_TOKEN``, ``*_KEY``...) or that ``secret_variables`` names, URL passwords,
    authorization headers and known credential shapes.
    """
    env = {"LAMINA_SOURCE": source or "", "LAMINA_TARGET": target, "LAMINA_REVISION": revision}
    known = [
        value
        for name, value in os.environ.items()
        if credentials.is_credential_name(name) or name in secret_variables
    ]
    results = []
    for argv in commands:
        name = "check: " + " ".join(argv)
        outcome = runner(argv, folder, env, timeout.total_seconds())
        outcome = CommandOutcome(outcome.returncode, credentials.redact_output(outcome.output, known))
        if outcome.returncode is None:
            results.append(GateResult(name, GateOutcome.FAILED, f"timed out after {timeout}", outcome.output))
        elif outcome.returncode == CANNOT_START and outcome.output.startswith("cannot run "):
            results.append(GateResult(name, GateOutcome.ERRORED, outcome.output.strip(), outcome.output))
        elif outcome.returncode != 0:
            detail = f"exit code {outcome.returncode}"
            results.append(GateResult(name, GateOutcome.FAILED, detail, outcome.output))
        else:
            results.append(GateResult(name, GateOutcome.PASSED, "exit code 0", outcome.output))
    return results


def running_since(db: Database, environment: str, revision: str) -> datetime | None:
    """Since when environment has run revision without interruption, by its recorded applies."""
    since = None
    for row in applies.applies_of(db, environment):
        if row.result not in ("applied", "unchanged"):
            continue
        if revision not in (row.base_revision, row.revision):
            break
        since = row.at
    return since


def soak_gate(db: Database, source: str, revision: str, soak: timedelta, now: datetime) -> GateResult:
    """The revision has run in source for at least soak."""
    since = running_since(db, source, revision)
    if since is None:
        return GateResult(
            "soak", GateOutcome.WAITING, f"{revision[:12]} has not been applied in {source} yet (soak {soak})"
        )
    ready = since + soak
    if now >= ready:
        return GateResult("soak", GateOutcome.PASSED, f"running in {source} since {since.isoformat()}")
    return GateResult(
        "soak",
        GateOutcome.WAITING,
        f"running in {source} since {since.isoformat()}, needs {soak}",
        ready_at=ready,
    )
