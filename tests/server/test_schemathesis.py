"""Schemathesis against the live server's /openapi.json: no generated request makes it fail (5xx)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import Served


def test_no_generated_request_causes_a_server_error(served: Served) -> None:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{served.base_url}/openapi.json",
        "-H",
        f"Authorization: Bearer {served.token['admin']}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "15",
        "--seed",
        "20261128",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout
