"""Inline SVG charts for the HTML reports, written here so the site needs no network or CDN.

Three plots cover what supervisors look at:

- :func:`histogram`: how scores are distributed over a period (bins of equal width);
- :func:`line_chart`: a score trend over days, optionally against the team's line;
- :func:`hbars`: horizontal bars (stage completion %) with an optional team marker.

Each returns one ``<svg>`` element as a string, sized by ``viewBox`` so it scales with
the page. Every piece of text is escaped, labels are plain SVG ``<text>`` (so Cyrillic
renders with whatever sans-serif font the browser has), and every mark carries a
``<title>`` tooltip and ``data-*`` attributes with its exact value, which the tests and
the browser check read back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Bar", "Point", "hbars", "histogram", "line_chart", "nice_ticks", "text_width"]

_FONT = 12  # px in viewBox units; the CSS scales the whole chart
_CHAR_W = 0.6 * _FONT  # average glyph width, good enough to lay out Latin and Cyrillic


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(x: float) -> str:
    """Compact coordinate: 2 decimals at most, no trailing zeros."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


# Advance widths (em) of DejaVu Sans, the sans-serif font Linux browsers fall back to, for
# the letters labels are made of; other characters count as 0.62 em, capitals 0.72 em.
_EM: dict[str, float] = {
    **dict(zip("abcdefghijklmnopqrstuvwxyz", (
        0.61, 0.63, 0.55, 0.63, 0.62, 0.35, 0.63, 0.63, 0.28, 0.28, 0.58, 0.28, 0.97,
        0.63, 0.61, 0.63, 0.63, 0.41, 0.52, 0.39, 0.63, 0.59, 0.82, 0.59, 0.59, 0.53))),
    **dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", (
        0.61, 0.62, 0.59, 0.50, 0.66, 0.62, 0.62, 0.90, 0.53, 0.65, 0.65, 0.60, 0.64, 0.77,
        0.65, 0.61, 0.65, 0.63, 0.55, 0.52, 0.59, 0.98, 0.59, 0.66, 0.60, 0.93, 0.95, 0.70,
        0.84, 0.59, 0.55, 0.87, 0.60))),
    " ": 0.32, ".": 0.32, ",": 0.32, ":": 0.34, ";": 0.34, "(": 0.39, ")": 0.39, "/": 0.34,
    "-": 0.36, "'": 0.28, "…": 1.0, "«": 0.56, "»": 0.56, "I": 0.30, "Ш": 1.03, "Щ": 1.04,
    "Ж": 1.02, "Ю": 1.05, "Ф": 0.82, "М": 0.86, "M": 0.86, "W": 0.99, "m": 0.97,
}


def text_width(text: str, size: float = _FONT) -> float:
    """Estimated rendered width of ``text`` in px at ``size`` px (DejaVu Sans advance
    widths): enough to lay out labels without measuring them in a browser."""
    return size * sum(
        _EM.get(ch, 0.72 if ch.isupper() else 0.62) for ch in text
    )


def _clip(label: str, max_chars: int) -> str:
    return label if len(label) <= max_chars else label[: max(1, max_chars - 1)] + "…"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (1, 2, 2.5 or 5 times a power of ten)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _svg_open(width: int, height: int, title: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}" font-size="{_FONT}">',
        f"<title>{_e(title)}</title>",
    ]


def _empty(width: int, height: int, title: str, css_class: str, message: str) -> str:
    parts = _svg_open(width, height, title, css_class)
    parts.append(
        f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">{_e(message)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    values: Sequence[float],
    *,
    bins: int = 10,
    lo: float = 0.0,
    hi: float = 100.0,
    title: str = "Score distribution",
    x_label: str = "",
    y_label: str = "",
    empty: str = "no data",
    width: int = 640,
    height: int = 240,
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """Bars counting ``values`` in ``bins`` equal bins over ``[lo, hi]``.

    A value equal to ``hi`` falls in the last bin; values outside the range are clamped
    into the first or last bin, so every value is counted once. ``marks`` draws dashed
    vertical lines at given values (e.g. the low-score threshold) with a label.
    """
    if bins < 1:
        raise ValueError("bins must be >= 1")
    if hi <= lo:
        raise ValueError("hi must be greater than lo")
    counts = [0] * bins
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        i = int((float(v) - lo) / (hi - lo) * bins)
        counts[min(bins - 1, max(0, i))] += 1
    if not any(counts):
        return _empty(width, height, title, "histogram", empty)

    left, right, top, bottom = 44, 12, 14, 40
    pw, ph = width - left - right, height - top - bottom
    ticks = nice_ticks(0, max(counts), min(5, max(counts)))
    ticks = [t for t in ticks if float(t).is_integer()]
    ymax = ticks[-1]
    parts = _svg_open(width, height, title, "histogram")
    parts.append('<g class="grid">')
    for t in ticks:
        y = top + ph - t / ymax * ph
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{_num(y)}" y2="{_num(y)}"/>')
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{_fmt_value(t)}</text>'
        )
    parts.append("</g>")
    bw = pw / bins
    parts.append('<g class="bars">')
    for i, c in enumerate(counts):
        b_lo, b_hi = lo + (hi - lo) * i / bins, lo + (hi - lo) * (i + 1) / bins
        h = c / ymax * ph
        x, y = left + i * bw + 1, top + ph - h
        parts.append(
            f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bw - 2)}" height="{_num(h)}" '
            f'data-count="{c}" data-from="{_fmt_value(b_lo)}" data-to="{_fmt_value(b_hi)}">'
            f"<title>{_fmt_value(b_lo)}–{_fmt_value(b_hi)}: {c}</title></rect>"
        )
        if c:
            parts.append(
                f'<text class="value" x="{_num(x + (bw - 2) / 2)}" y="{_num(y - 3)}" '
                f'text-anchor="middle">{c}</text>'
            )
    parts.append("</g>")
    parts.append('<g class="axis">')
    parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    for i in range(bins + 1):
        x = left + i * bw
        parts.append(
            f'<text class="tick" x="{_num(x)}" y="{top + ph + 15}" text-anchor="middle">'
            f"{_fmt_value(lo + (hi - lo) * i / bins)}</text>"
        )
    if x_label:
        parts.append(
            f'<text class="label" x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{_e(x_label)}</text>'
        )
    if y_label:
        parts.append(
            f'<text class="label" x="12" y="{top + ph / 2}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + ph / 2})">{_e(y_label)}</text>'
        )
    parts.append("</g>")
    for value, label in marks:
        if lo <= value <= hi:
            x = left + (value - lo) / (hi - lo) * pw
            parts.append(
                f'<g class="mark"><line x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{top + ph}"/>'
                f'<text x="{_num(x + 4)}" y="{top + 10}">{_e(label)}</text></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Point:
    """One x position of a line chart: its label (a day) and the series values there."""

    label: str
    value: float | None
    other: float | None = None  # the comparison series (team), optional
    tip: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise TypeError("Point.label must be a string")


def line_chart(
    points: Sequence[Point],
    *,
    lo: float = 0.0,
    hi: float = 100.0,
    title: str = "Score trend",
    series: str = "",
    other_series: str = "",
    empty: str = "no data",
    width: int = 640,
    height: int = 240,
) -> str:
    """A line through ``points`` (y in ``[lo, hi]``), dots with tooltips, and an optional
    dashed comparison line (``Point.other``). Missing values (``None``) break nothing:
    the line skips them."""
    if hi <= lo:
        raise ValueError("hi must be greater than lo")
    if not any(p.value is not None for p in points):
        return _empty(width, height, title, "line", empty)
    left, right, top = 44, 12, 14
    bottom = 52 if (series or other_series) else 34
    pw, ph = width - left - right, height - top - bottom
    n = len(points)

    def x_at(i: int) -> float:
        return left + (pw / 2 if n == 1 else i * pw / (n - 1))

    def y_at(v: float) -> float:
        return top + ph - (min(hi, max(lo, v)) - lo) / (hi - lo) * ph

    parts = _svg_open(width, height, title, "line")
    parts.append('<g class="grid">')
    for t in nice_ticks(lo, hi, 5):
        if t > hi:
            break
        y = y_at(t)
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{_num(y)}" y2="{_num(y)}"/>')
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{_fmt_value(t)}</text>'
        )
    parts.append("</g>")
    # Label every k-th day so labels never overlap (10 characters of a date each).
    every = max(1, math.ceil(n * 10 * _CHAR_W / pw))
    parts.append('<g class="axis">')
    for i, p in enumerate(points):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="tick" x="{_num(x_at(i))}" y="{top + ph + 15}" text-anchor="middle">'
                f"{_e(_clip(p.label, 12))}</text>"
            )
    parts.append("</g>")
    others = [(x_at(i), y_at(p.other)) for i, p in enumerate(points) if p.other is not None]
    if others:
        path = " ".join(f"{_num(x)},{_num(y)}" for x, y in others)
        parts.append(f'<polyline class="series other" fill="none" points="{path}"/>')
        # A dash per point too, so one day of team data still shows.
        parts.append('<g class="other-points">' + "".join(
            f'<line class="series other" x1="{_num(x - 8)}" x2="{_num(x + 8)}" y1="{_num(y)}" y2="{_num(y)}"/>'
            for x, y in others
        ) + "</g>")
    own = [(i, p) for i, p in enumerate(points) if p.value is not None]
    path = " ".join(f"{_num(x_at(i))},{_num(y_at(p.value or 0))}" for i, p in own)
    parts.append(f'<polyline class="series own" fill="none" points="{path}"/>')
    parts.append('<g class="points">')
    for i, p in own:
        tip = p.tip or f"{p.label}: {_fmt_value(round(p.value or 0, 1))}"
        parts.append(
            f'<circle class="point" cx="{_num(x_at(i))}" cy="{_num(y_at(p.value or 0))}" r="4" '
            f'data-label="{_e(p.label)}" data-value="{_fmt_value(round(p.value or 0, 1))}">'
            f"<title>{_e(tip)}</title></circle>"
        )
        if n <= 16:  # few points: write the values on the chart
            y = y_at(p.value or 0)
            # Below the dot when the comparison line passes just above it, else above.
            below = p.other is not None and 0 <= (p.value or 0) - p.other + 12 <= 12 or y < top + 12
            parts.append(
                f'<text class="value" x="{_num(x_at(i))}" y="{_num(y + 16 if below else y - 9)}" '
                f'text-anchor="middle">{_fmt_value(round(p.value or 0))}</text>'
            )
    parts.append("</g>")
    if series or other_series:
        y = height - 10
        x = left
        parts.append('<g class="legend">')
        if series:
            parts.append(
                f'<line class="series own" x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}"/>'
                f'<text x="{x + 24}" y="{y}">{_e(series)}</text>'
            )
            x += 24 + int(len(series) * _CHAR_W) + 18
        if other_series and others:
            parts.append(
                f'<line class="series other" x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}"/>'
                f'<text x="{x + 24}" y="{y}">{_e(other_series)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Bar:
    """One row of :func:`hbars`: a label, its value and an optional comparison value."""

    label: str
    value: float | None
    other: float | None = None
    tip: str = ""
    css: str = ""  # extra class for the row, e.g. "weak"


def hbars(
    bars: Sequence[Bar],
    *,
    lo: float = 0.0,
    hi: float = 100.0,
    title: str = "",
    series: str = "",
    other_series: str = "",
    unit: str = "%",
    empty: str = "no data",
    width: int = 640,
    row_height: int = 24,
    label_chars: int = 30,
) -> str:
    """Horizontal bars, one row per :class:`Bar`; ``Bar.other`` is drawn as a dark tick
    over the bar (the team's value), so two numbers read at a glance per row."""
    if hi <= lo:
        raise ValueError("hi must be greater than lo")
    if not bars:
        return _empty(width, 60, title, "hbars", empty)
    # The label column fits the longest (clipped) label, up to 40% of the chart.
    label_w = int(min(width * 0.4, max(text_width(_clip(b.label, label_chars)) for b in bars))) + 12
    value_w = 84 if any(b.other is not None for b in bars) else 48
    legend = 22 if (series or other_series) else 0
    top = 6
    height = top + len(bars) * row_height + 18 + legend
    left = label_w
    pw = width - left - value_w

    def x_at(v: float) -> float:
        return left + (min(hi, max(lo, v)) - lo) / (hi - lo) * pw

    parts = _svg_open(width, height, title, "hbars")
    parts.append('<g class="grid">')
    for t in nice_ticks(lo, hi, 4):
        if t > hi:
            break
        x = x_at(t)
        y2 = top + len(bars) * row_height
        parts.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{y2}"/>')
        parts.append(
            f'<text class="tick" x="{_num(x)}" y="{y2 + 13}" text-anchor="middle">{_fmt_value(t)}</text>'
        )
    parts.append("</g>")
    for i, b in enumerate(bars):
        y = top + i * row_height
        bh = row_height - 8
        row_class = f"row {b.css}".strip()
        parts.append(f'<g class="{_e(row_class)}">')
        parts.append(
            f'<text class="rowlabel" x="{left - 8}" y="{_num(y + bh / 2 + 8)}" text-anchor="end">'
            f"<title>{_e(b.label)}</title>{_e(_clip(b.label, label_chars))}</text>"
        )
        if b.value is not None:
            w = x_at(b.value) - left
            tip = b.tip or f"{b.label}: {_fmt_value(round(b.value, 1))}{unit}"
            parts.append(
                f'<rect class="bar" x="{left}" y="{_num(y + 4)}" width="{_num(w)}" height="{bh}" '
                f'data-label="{_e(b.label)}" data-value="{_fmt_value(round(b.value, 1))}">'
                f"<title>{_e(tip)}</title></rect>"
            )
        if b.other is not None:
            x = x_at(b.other)
            parts.append(
                f'<line class="other" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(y + 1)}" '
                f'y2="{_num(y + row_height - 1)}" data-value="{_fmt_value(round(b.other, 1))}">'
                f"<title>{_e(other_series or 'team')}: {_fmt_value(round(b.other, 1))}{unit}</title></line>"
            )
        text = "—" if b.value is None else f"{_fmt_value(round(b.value))}{unit}"
        if b.other is not None:
            text += f" / {_fmt_value(round(b.other))}{unit}"
        parts.append(
            f'<text class="value" x="{left + pw + 6}" y="{_num(y + bh / 2 + 8)}">{_e(text)}</text>'
        )
        parts.append("</g>")
    if legend:
        y = height - 6
        x = left
        parts.append('<g class="legend">')
        if series:
            parts.append(
                f'<rect class="bar" x="{x}" y="{y - 10}" width="18" height="10"/>'
                f'<text x="{x + 24}" y="{y}">{_e(series)}</text>'
            )
            x += 24 + int(len(series) * _CHAR_W) + 18
        if other_series:
            parts.append(
                f'<line class="other" x1="{x + 9}" x2="{x + 9}" y1="{y - 13}" y2="{y + 2}"/>'
                f'<text x="{x + 18}" y="{y}">{_e(other_series)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
