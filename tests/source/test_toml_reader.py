from __future__ import annotations

from typing import Any

import pytest

from lamina.source import toml_reader

DATES = [
    pytest.param("at = 2026-12-03T19:00:00Z", "2026-12-03T19:00:00+00:00", id="offset-date-time"),
    pytest.param("at = 2026-12-03 19:00:00", "2026-12-03T19:00:00", id="local-date-time"),
    pytest.param("at = 2026-12-03", "2026-12-03", id="local-date"),
    pytest.param("at = 09:30:00", "09:30:00", id="local-time"),
    pytest.param("at = [2026-12-03, 10:15:00]", ["2026-12-03", "10:15:00"], id="in-an-array"),
    pytest.param('at = "1234-56 12:3"', "1234-56 12:3", id="a-string-that-only-looks-close"),
]


@pytest.mark.parametrize(("text", "value"), DATES)
def test_dates_and_times_become_rfc_3339_strings(text: str, value: Any) -> None:
    data, _ = toml_reader.read("x.toml", text + "\n")
    assert data == {"at": value}
