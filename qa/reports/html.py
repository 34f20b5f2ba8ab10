"""HTML building blocks shared by the report pages: escaping, labels, formatting, layout,
and highlighting matched phrases inside transcript text.

Every piece of text that reaches a page goes through :func:`esc` (transcripts are
user data: a client who says ``<script>`` must see those characters, not run them).
The words of the interface are the message catalogs of :mod:`qa.ui`
(``qa/data/ui/<lang>.yaml``): ``Labels`` here is :class:`qa.ui.Catalog`, so adding a
language is a data change.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from ..paths import slug  # noqa: F401  (re-exported: pages and media name files with it)
from ..transcripts import clock
from ..ui import Catalog as Labels  # the pages' name for the interface words

__all__ = [
    "Labels",
    "Span",
    "esc",
    "find_span",
    "fmt_seconds",
    "fmt_num",
    "highlight",
    "href",
    "page",
    "score_class",
    "slug",
]

#: Kinds of evidence in the order they win when highlights overlap.
KIND_RANK = {"forbidden": 4, "objection": 3, "step": 2, "stage": 1}


def esc(value: Any) -> str:
    """Text -> HTML-safe text (quotes too, so it is safe in attribute values)."""
    if value is None:
        return ""
    return escape(str(value), quote=True)


def href(path: str) -> str:
    """A relative link to a page or file of the site, percent-encoded (Cyrillic names)."""
    return esc(quote(path, safe="/#=.-_~"))


def fmt_seconds(seconds: Any) -> str:
    """:func:`qa.transcripts.clock` for a page: ``75.4`` -> ``01:15``, an hour or more ->
    ``1:02:03``; missing -> ``—``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    return clock(float(seconds))


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value: Any, digits: int = 1, unit: str = "") -> str:
    if is_missing(value):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value)}{unit}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = f"{v:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + unit


def score_class(score: Any, low: float) -> str:
    """CSS class of a score badge: ``good`` (>= 80), ``mid``, ``low`` (< ``low``), ``none``."""
    if is_missing(score):
        return "none"
    v = float(score)
    if v < low:
        return "low"
    return "good" if v >= 80 else "mid"


# ---- page layout ----------------------------------------------------------------------
def page(
    *,
    title: str,
    body: str,
    depth: int,
    labels: Labels,
    crumbs: Sequence[tuple[str, str | None]] = (),
    footer: str = "",
    body_class: str = "",
) -> str:
    """A complete HTML document. ``depth`` is how many folders below the site root the
    page lives (for the asset links); ``crumbs`` are ``(text, link or None)``."""
    up = "../" * depth
    nav = " <span class=\"sep\">›</span> ".join(
        f'<a href="{href(up + link)}">{esc(text)}</a>' if link else f"<span>{esc(text)}</span>"
        for text, link in crumbs
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(labels.lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No favicon request: a 404 for it would be the only network error of the page.
        '<link rel="icon" href="data:,">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{up}assets/report.css">\n'
        f'<script src="{up}assets/report.js" defer></script>\n'
        "</head>\n"
        f'<body class="{esc(body_class)}">\n'
        f'<header class="top"><nav class="crumbs">{nav}</nav></header>\n'
        f'<main>\n{body}\n</main>\n'
        f'<footer>{footer}</footer>\n'
        "</body>\n</html>\n"
    )


# ---- highlighting ------------------------------------------------------------------
def _fold(text: str) -> tuple[str, list[int]]:
    """Text folded for comparison (case, accents and punctuation ignored, runs of
    non-letters become one space) and, for each folded character, its index in ``text``."""
    out: list[str] = []
    idx: list[int] = []
    space = True
    for i, ch in enumerate(text):
        if ch.isalnum():
            for c in unicodedata.normalize("NFD", ch.casefold()):
                if unicodedata.category(c) != "Mn":  # drop combining marks: ё -> е, é -> e
                    out.append(c)
                    idx.append(i)
            space = False
        elif not space:
            out.append(" ")
            idx.append(i)
            space = True
    while out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


def find_span(text: str, needle: str | None) -> tuple[int, int] | None:
    """Where ``needle`` (a matched span reported by the scorer) occurs in ``text``,
    ignoring case, accents and punctuation; ``None`` when it does not occur there."""
    if not needle or not text:
        return None
    folded, idx = _fold(text)
    target, _ = _fold(needle)
    if not target:
        return None
    pos = folded.find(target)
    if pos < 0:
        return None
    start = idx[pos]
    end = idx[pos + len(target) - 1] + 1
    return start, end


@dataclass(frozen=True)
class Span:
    """A highlighted stretch of an utterance: character range, evidence kind, label."""

    start: int
    end: int
    kind: str
    label: str

    def __post_init__(self) -> None:
        if self.end <= self.start or self.start < 0:
            raise ValueError(f"bad span {self.start}..{self.end}")


def highlight(text: str, spans: Iterable[Span]) -> str:
    """Escaped ``text`` with ``<mark>`` around each span. Overlapping spans are cut at
    their boundaries; each piece is marked once, coloured by its strongest kind and
    titled with every label that covers it."""
    spans = [s for s in spans if s.start < len(text)]
    if not spans:
        return esc(text)
    cuts = sorted({0, len(text), *(s.start for s in spans), *(min(len(text), s.end) for s in spans)})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = text[a:b]
        cover = [s for s in spans if s.start <= a and s.end >= b]
        if not cover:
            out.append(esc(piece))
            continue
        kind = max(cover, key=lambda s: KIND_RANK.get(s.kind, 0)).kind
        names = list(dict.fromkeys(s.label for s in cover))
        out.append(
            f'<mark class="hl k-{esc(kind)}" title="{esc(" · ".join(names))}">{esc(piece)}</mark>'
        )
    return "".join(out)


def table(
    headers: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[str]],
    *,
    css: str = "",
    empty: str = "",
) -> str:
    """A sortable table. ``headers`` are ``(label, type)`` with type ``text`` or ``num``;
    cells are already-escaped HTML (a cell may carry ``data-v`` for sorting by value)."""
    body = []
    for row in rows:
        body.append("<tr>" + "".join(row) + "</tr>")
    if not body and empty:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(
        f'<th data-type="{esc(kind)}" class="{"num" if kind == "num" else ""}">{esc(label)}</th>'
        for label, kind in headers
    )
    return (
        f'<table class="data sortable {esc(css)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def td(content: str, *, num: bool = False, value: Any = None, css: str = "") -> str:
    """One cell; ``content`` is HTML. ``value`` (sort key) goes in ``data-v``."""
    classes = " ".join(c for c in ("num" if num else "", css) if c)
    attrs = f' class="{esc(classes)}"' if classes else ""
    if value is not None and not is_missing(value):
        attrs += f' data-v="{esc(value)}"'
    return f"<td{attrs}>{content}</td>"


def kv(pairs: Mapping[str, str]) -> str:
    """A definition list of label -> HTML value."""
    return '<dl class="kv">' + "".join(
        f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>" for k, v in pairs.items()
    ) + "</dl>"
