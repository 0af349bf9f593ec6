"""The small fleet the validation tests start from; each test breaks one rule."""

from __future__ import annotations

from collections.abc import Callable

LAMINA_TOML = """\
[fleet]
name = "demo"
promotion = ["staging", "production"]

[environments.production-eu]
extends  = "production"
upstream = "production"

[clusters.stg-1]
environment = "staging"
directory   = "out/stg-1"

[clusters.prod-1]
environment = "production"
directory   = "out/prod-1"

[clusters.eu-1]
environment = "production-eu"
directory   = "out/eu-1"
namespace   = "agents"
labels      = { region = "eu-west-1" }
"""

BASE_AGENT = """\
[agent]
model       = "small"
temperature = 0.2
api_key     = { secret = "openai/api-key" }

[guardrails]
max_tool_calls = 10
pii_redaction  = true
"""

FLEET = {"lamina.toml": LAMINA_TOML, "base/agent.toml": BASE_AGENT}

Validate = Callable[[dict[str, str]], list[str]]
"""Write FLEET plus some files, validate in-process, return every problem as one line of text."""
