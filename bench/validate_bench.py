"""``lamina validate`` over the 1,000-target synthetic fleet, with a JSON Schema and CEL policies.

    .venv/bin/python bench/validate_bench.py [--clusters 1000]

Goal on a 2-core machine: under 3 s for the whole fleet (in one process, via the library).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
if importlib.util.find_spec("lamina") is None:
    sys.path.insert(0, str(REPO_ROOT / "src"))

import lamina  # noqa: E402
from bench import fleetgen  # noqa: E402
from lamina.validate import runner  # noqa: E402

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["agent", "guardrails", "tools"],
    "properties": {
        "agent": {
            "type": "object",
            "required": ["model", "provider", "max_tokens"],
            "properties": {
                "model": {"type": "string", "minLength": 1},
                "max_tokens": {"type": "integer", "minimum": 1},
            },
        },
        "guardrails": {
            "type": "object",
            "properties": {
                "max_tool_calls": {"type": "integer", "minimum": 1, "maximum": 500},
                "pii_redaction": {"type": "boolean"},
            },
        },
        "tools": {"type": "array", "items": {"type": "object", "required": ["name"]}},
    },
}

POLICIES = """
[[policy]]
name    = "pii-redaction-everywhere"
rule    = "config.guardrails.pii_redaction == true"
message = "agents must redact PII"

[[policy]]
name    = "bounded-tool-calls-in-production"
when    = "env.stage == 'production'"
rule    = "config.guardrails.max_tool_calls <= 500"
message = "production agents need a tool-call bound"

[[ordered]]
key       = "guardrails.max_tool_calls"
direction = "non-increasing"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    root = REPO_ROOT / "bench" / "out" / f"validate-{args.environments}e-{args.clusters}c"
    fleetgen.generate(root, args.environments, args.clusters, args.keys, 8192, 1)
    (root / "schema").mkdir(exist_ok=True)
    (root / "schema" / "agent.schema.json").write_text(json.dumps(SCHEMA, indent=2))
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "bench.toml").write_text(POLICIES)
    times = []
    problems = 0
    for _ in range(args.runs):
        start = time.perf_counter()
        with lamina.Repository(root) as repo:
            found = runner.validate(repo)
        times.append(time.perf_counter() - start)
        problems = len(found)
    median = statistics.median(times)
    print(f"targets                                   {args.clusters}")
    print(f"lamina validate, whole fleet (median of {args.runs})  {median:.2f} s   goal < 3 s")
    print(f"problems reported                         {problems}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
