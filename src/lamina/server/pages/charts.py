"""Small charts drawn on the server as SVG: one metric's measurements over a step's analysis
window, against its bound.

The dashboard's CSP allows no inline script or style, so a chart is plain SVG elements whose
look comes from classes in ``lamina.css``; this module only does the arithmetic (where each
point, line and band goes) and the template draws it. A few dozen points per chart need no
charting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lamina.store.rollouts import MeasurementRecord

WIDTH = 300
HEIGHT = 130
LEFT = 46
"""Room for the value axis' labels."""
RIGHT = 10
TOP = 10
BOTTOM = 24
"""Room for the time axis' labels."""
SERIES = 6
"""Distinct line styles (``series-0``..``series-5`` in lamina.css); clusters beyond reuse them."""


@dataclass(frozen=True)
class Point:
    """One measurement, where it is drawn."""

    x: float
    y: float
    cluster: str
    value: float | None
    outcome: str
    seconds: float
    series: int

    @property
    def label(self) -> str:
        """What the point's tooltip says."""
        value = "no data" if self.value is None else f"{self.value:.4g}"
        return f"{self.cluster} at +{self.seconds:g}s: {value} ({self.outcome})"


@dataclass(frozen=True)
class Line:
    """One cluster's measurements joined, oldest first (gaps where there was no value)."""

    cluster: str
    series: int
    points: str
    """The ``points`` attribute of a polyline."""


@dataclass(frozen=True)
class Tick:
    """A label on an axis, at a position."""

    at: float
    text: str


@dataclass(frozen=True)
class Chart:
    """Everything the template draws for one metric of one step."""

    metric: str
    bound: str
    points: tuple[Point, ...]
    lines: tuple[Line, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    bound_y: tuple[float, ...]
    """Where the min and/or max lines are drawn."""
    bad: tuple[tuple[float, float], ...]
    """The bands (y, height) outside the bound: a point there failed."""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    bottom_edge: int = HEIGHT - BOTTOM
    clusters: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> str:
        """The chart in words (its accessible description)."""
        failed = sum(1 for p in self.points if p.outcome == "failed")
        unclear = sum(1 for p in self.points if p.outcome == "inconclusive")
        return (
            f"{self.metric}: {len(self.points)} measurement{'s' if len(self.points) != 1 else ''} "
            f"of {len(self.clusters)} cluster{'s' if len(self.clusters) != 1 else ''}, bound {self.bound}; "
            f"{failed} failed, {unclear} inconclusive"
        )


def bound_text(low: float | None, high: float | None) -> str:
    """A metric's bound in words: ``≥ 0.95``, ``≤ 3``, ``0.1 … 3``."""
    if low is not None and high is not None:
        return f"{low:g} … {high:g}"
    if low is not None:
        return f"≥ {low:g}"
    if high is not None:
        return f"≤ {high:g}"
    return "none"


def _nice(span: float) -> float:
    """A round step for about four ticks over span."""
    raw = span / 4
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def chart(
    metric: str, low: float | None, high: float | None, measurements: Sequence[MeasurementRecord]
) -> Chart:
    """The chart of one metric's measurements (of one step), against low and high.

    The time axis starts at the first measurement; the value axis spans the values and the
    bounds, with a little room. A measurement without a value (inconclusive) sits on the time
    axis, hollow.
    """
    ordered = sorted(measurements, key=lambda m: (m.at, m.cluster))
    start: datetime | None = ordered[0].at if ordered else None
    seconds = [(m.at - start).total_seconds() if start else 0.0 for m in ordered]
    values = [m.value for m in ordered if m.value is not None and math.isfinite(m.value)]
    known = values + [b for b in (low, high) if b is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    if hi - lo < 1e-9:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    else:
        pad = (hi - lo) * 0.12
        lo, hi = lo - pad, hi + pad
    step = _nice(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    span_t = max(seconds, default=0.0) or 1.0
    plot_w = WIDTH - RIGHT - LEFT
    plot_h = HEIGHT - BOTTOM - TOP

    def x_of(t: float) -> float:
        return round(LEFT + plot_w * (t / span_t), 1)

    def y_of(v: float) -> float:
        return round(TOP + plot_h * (1 - (v - lo) / (hi - lo)), 1)

    clusters = tuple(dict.fromkeys(m.cluster for m in ordered))
    series = {name: index % SERIES for index, name in enumerate(clusters)}
    points = tuple(
        Point(
            x_of(t),
            y_of(m.value) if m.value is not None and math.isfinite(m.value) else float(HEIGHT - BOTTOM),
            m.cluster,
            m.value,
            m.outcome.value,
            t,
            series[m.cluster],
        )
        for m, t in zip(ordered, seconds, strict=True)
    )
    lines = []
    for name in clusters:
        mine = [p for p in points if p.cluster == name and p.value is not None]
        if len(mine) >= 2:
            lines.append(Line(name, series[name], " ".join(f"{p.x},{p.y}" for p in mine)))
    count = round((hi - lo) / step)
    y_ticks = tuple(Tick(y_of(lo + i * step), f"{lo + i * step:.4g}") for i in range(count + 1))
    x_ticks = (Tick(x_of(0), "0s"), Tick(x_of(span_t), f"{span_t:g}s")) if len(set(seconds)) > 1 else ()
    bad: list[tuple[float, float]] = []
    if high is not None:
        bad.append((float(TOP), max(0.0, y_of(high) - TOP)))
    if low is not None:
        bad.append((y_of(low), max(0.0, HEIGHT - BOTTOM - y_of(low))))
    return Chart(
        metric=metric,
        bound=bound_text(low, high),
        points=points,
        lines=tuple(lines),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        bound_y=tuple(y_of(b) for b in (low, high) if b is not None),
        bad=tuple(bad),
        clusters=clusters,
    )
