"""A short, bounded fuzz run of lamina's parsers and merge engine.

    .venv/bin/python scripts/fuzz.py --seconds 30

Each input goes to one of four targets, chosen by its first byte:

- ``parse_document`` of the rest as a ``.toml``, ``.yaml`` or ``.json`` file (small limits),
  then the canonical JSON of what it parsed (what the config hash is computed from);
- ``lamina.merge`` of two JSON-ish values decoded from the rest (directives included), then
  the canonical JSON of the result.

Any exception other than :class:`lamina.errors.LaminaError` is a finding. Findings are
deduplicated by exception type and the innermost lamina frame, printed with a reproducer,
and make the run exit 1; a run that finds nothing exits 0.

With atheris installed (``pip install atheris``) the run is coverage-guided (libFuzzer), in
a child process so that its findings can be collected whatever way libFuzzer ends. Without
it, hypothesis drives the same harness with random bytes for the same time (``--engine``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "src"))

SUFFIXES = (".toml", ".yaml", ".json")
DIRECTIVE_KEYS = ("$delete", "$replace", "$append", "$prepend", "$merge_by", "$items", "name", "a", "b", "")
MAX_INPUT = 4096

# -- the harness ---------------------------------------------------------------------------------


class Values:
    """Decode bytes into a JSON-ish value, leaning towards lamina's merge directives."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.raw):
            return 0
        self.at += 1
        return self.raw[self.at - 1]

    def text(self) -> str:
        size = self.byte() % 8
        chunk = self.raw[self.at : self.at + size]
        self.at += size
        return chunk.decode("utf-8", "replace")

    def value(self, depth: int = 0) -> Any:
        kind = self.byte() % (9 if depth < 6 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return bool(self.byte() & 1)
        if kind == 2:
            return self.byte() - 128
        if kind == 3:
            return (self.byte() - 128) / 7
        if kind == 4:
            return self.text()
        if kind in (5, 6):
            table: dict[str, Any] = {}
            for _ in range(self.byte() % 4):
                pick = self.byte()
                key = DIRECTIVE_KEYS[pick % len(DIRECTIVE_KEYS)] if pick & 1 else self.text()
                table[key] = self.value(depth + 1)
            return table
        return [self.value(depth + 1) for _ in range(self.byte() % 4)]


def one_input(raw: bytes) -> None:
    """Run one input through its target; raises whatever lamina raises."""
    from lamina import merge
    from lamina.core import hashing
    from lamina.errors import LaminaError
    from lamina.source import documents, scalars

    if not raw:
        return
    target, body = raw[0] % 4, raw[1:MAX_INPUT]
    try:
        if target < 3:
            limits = scalars.Limits(max_depth=16, max_nodes=5000)
            document = documents.parse_document(f"fuzz{SUFFIXES[target]}", body, limits)
            hashing.canonical_json(document.data)
        else:
            values = Values(body)
            lower, higher = values.value(), values.value()
            hashing.canonical_json(merge(lower, higher))
    except LaminaError:
        pass


def finding_key(exc: BaseException) -> str:
    """Exception type and the innermost frame inside lamina (or the innermost frame at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if f"{os.sep}lamina{os.sep}" in frame.filename]
    frame = (ours or frames or [None])[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__} at {where}"


class Findings:
    """Unique findings, each kept once with the smallest input that raised it."""

    def __init__(self, log: Path | None = None) -> None:
        self.by_key: dict[str, dict[str, Any]] = {}
        self.log = log
        self.runs = 0

    def check(self, raw: bytes) -> None:
        self.runs += 1
        try:
            one_input(raw)
        except Exception as exc:  # everything but LaminaError is a finding
            key = finding_key(exc)
            known = self.by_key.get(key)
            if known is None or len(raw) < len(bytes.fromhex(known["input"])):
                entry = {"key": key, "message": str(exc)[:300], "input": raw.hex()}
                self.by_key[key] = entry
                if self.log is not None:
                    with self.log.open("a") as handle:
                        handle.write(json.dumps(entry) + "\n")


# -- engines ---------------------------------------------------------------------------------------

SEEDS = [
    b"\x00[agent]\nmodel = 'x'\ntokens = 3\n[[tools]]\nname = 'crm'\n",
    b"\x01agent:\n  model: x\n  tools: &t [a, b]\n  more: *t\n  <<: {k: 1}\n",
    b'\x02{"agent": {"model": "x", "tools": [{"name": "a"}], "n": 1.5}}',
    b"\x03\x05\x03\x01\x05\x06\x05\x02\x03\x07\x01a\x05\x06",
]


def run_atheris(seconds: int, log: Path) -> int:
    """Fuzz with atheris in this process until libFuzzer's time limit; findings go to log."""
    import warnings

    import atheris

    warnings.simplefilter("ignore")  # ruamel warns about reused anchors; not a finding
    with atheris.instrument_imports(include=["lamina"]):
        import lamina.core.hashing
        import lamina.resolve.merging
        import lamina.source.documents
        import lamina.source.json_reader
        import lamina.source.toml_reader
        import lamina.source.yaml_reader  # noqa: F401
    findings = Findings(log)
    corpus = Path(tempfile.mkdtemp(prefix="lamina-fuzz-corpus-"))
    for index, seed in enumerate(SEEDS):
        (corpus / f"seed-{index}").write_bytes(seed)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            f"-max_len={MAX_INPUT}",
            "-rss_limit_mb=2048",
            str(corpus),
        ],
        findings.check,
    )
    atheris.Fuzz()
    return 0


def run_hypothesis(seconds: int, findings: Findings) -> None:
    """The same harness driven by hypothesis's random bytes (no coverage guidance)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import strategies as st

    deadline = time.monotonic() + seconds

    class TimeUp(BaseException):
        pass

    @settings(
        max_examples=10**9,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        verbosity=Verbosity.quiet,  # the time limit ends the run by raising; not a failure
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(st.sampled_from(SEEDS), st.binary(max_size=MAX_INPUT)))
    def fuzz(raw: bytes) -> None:
        if time.monotonic() > deadline:
            raise TimeUp
        findings.check(raw)

    for seed in SEEDS:
        findings.check(seed)
    with contextlib.suppress(TimeUp):
        fuzz()


def report(findings: list[dict[str, Any]], runs: int | None, seconds: float, engine: str) -> int:
    count = f"{runs} inputs" if runs is not None else "inputs: see libFuzzer's stats above"
    print(f"lamina fuzz ({engine}): {seconds:.0f} s, {count}, {len(findings)} findings")
    for entry in findings:
        print(f"\n- {entry['key']}: {entry['message']}")
        print(f"  reproduce: one_input(bytes.fromhex({entry['input'][:400]!r}))")
    return 1 if findings else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="how long to fuzz (default 30)")
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    parser.add_argument("--worker-log", type=Path, help=argparse.SUPPRESS)  # the atheris child
    args = parser.parse_args()
    if args.worker_log is not None:
        return run_atheris(args.seconds, args.worker_log)

    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            print("atheris is not installed: falling back to hypothesis (random, not coverage-guided)")
            engine = "hypothesis"
    started = time.monotonic()
    if engine == "hypothesis":
        findings = Findings()
        run_hypothesis(args.seconds, findings)
        return report(list(findings.by_key.values()), findings.runs, time.monotonic() - started, engine)

    with tempfile.TemporaryDirectory(prefix="lamina-fuzz-") as folder:
        log = Path(folder) / "findings.jsonl"
        log.touch()
        done = subprocess.run(
            [sys.executable, __file__, "--seconds", str(args.seconds), "--worker-log", str(log)],
            cwd=folder,  # libFuzzer writes crash-* files in the working folder
            timeout=args.seconds + 120,
            check=False,
        )
        unique: dict[str, dict[str, Any]] = {}
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            known = unique.get(entry["key"])
            if known is None or len(entry["input"]) < len(known["input"]):
                unique[entry["key"]] = entry
    if done.returncode != 0 and not unique:
        print(f"the atheris worker ended with exit code {done.returncode} (a crash outside Python?)")
        return 1
    return report(list(unique.values()), None, time.monotonic() - started, engine)


if __name__ == "__main__":
    sys.exit(main())
