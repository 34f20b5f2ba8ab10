"""Disputes: a supervisor overturns the tool's verdict on one item of one call.

``qa dispute CALL_ID ITEM_ID --status found|missed|handled|unhandled --note "..."`` stores an
override; so does re-importing an exported workbook (``qa score -f xlsx``) whose ``items``
sheet has a changed ``status`` (``qa dispute --import FILE.xlsx``). Each override keeps who
(``--by``, default the OS user), when, why, the tool's status at the time and where it came
from (``cli`` or the workbook's file name).

Rules:

- an override is keyed by (call, kind, item id), not by script version: it survives
  rescoring, and the views apply it to whatever the latest score of the call says;
- the item must exist in the call's latest score (:func:`item_of`); an item id that is both a
  stage and an objection (or a step) needs ``kind``;
- stages, steps and forbidden phrases are ``found`` / ``missed``; objections ``handled`` /
  ``unhandled`` (an objection the tool did not raise cannot be overturned here: it has no row);
- an override equal to the tool's current status is still stored (a supervisor confirming a
  verdict is a human grade too) and is marked as agreeing.

Readers: :func:`overrides` (per call), :func:`apply` (a frame of item rows with the human
status applied, the tool's kept in ``tool_status``), :func:`as_grades` (human grades for
``qa calibrate``). The table lives in :mod:`qa.store` (``disputes``).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QAError
from .store import Workspace

#: Statuses an override may set, per item kind.
STATUSES_BY_KIND: dict[str, tuple[str, ...]] = {
    "stage": ("found", "missed"),
    "step": ("found", "missed"),
    "forbidden": ("found", "missed"),
    "objection": ("handled", "unhandled"),
}
STATUSES = ("found", "missed", "handled", "unhandled")


class DisputeError(QAError):
    """An override names a call, item or status that does not exist or does not fit."""


@dataclass(frozen=True)
class Dispute:
    call_id: str
    kind: str
    item_id: str
    status: str
    tool_status: str | None
    note: str | None
    by: str
    at: float
    source: str | None = None

    @property
    def agrees(self) -> bool:
        return self.status == self.tool_status


@dataclass
class ImportResult:
    """What ``--import`` did: overrides stored, rows left as the tool had them, rows skipped."""

    stored: list[Dispute] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def default_user() -> str:
    """Who disputes when ``--by`` is not given: the OS user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def _latest_items(ws: Workspace, call_id: str) -> list[tuple[str, str, str]]:
    """(kind, item_id, status) of the call's most recent score."""
    row = ws.conn.execute(
        "SELECT script_hash, rubric_hash FROM scores WHERE call_id=? ORDER BY scored_at DESC LIMIT 1",
        (call_id,),
    ).fetchone()
    if row is None:
        return []
    return [
        (str(k), str(i), str(s))
        for k, i, s in ws.conn.execute(
            "SELECT kind, item_id, status FROM items WHERE call_id=? AND script_hash=? AND rubric_hash=? "
            "ORDER BY rowid",
            (call_id, row[0], row[1]),
        )
    ]


def item_of(ws: Workspace, call_id: str, item_id: str, kind: str | None = None) -> tuple[str, str]:
    """``(kind, tool status)`` of one item in a call's latest score, or a one-line error."""
    if not ws.conn.execute("SELECT 1 FROM calls WHERE call_id=?", (call_id,)).fetchone():
        raise DisputeError(f"no call {call_id!r} in workspace {ws.path}; the ids are in the report and the items table")
    items = _latest_items(ws, call_id)
    if not items:
        raise DisputeError(f"call {call_id!r} has not been scored; run 'qa score' first")
    mine = [(k, s) for k, i, s in items if i == item_id and (kind is None or k == kind)]
    if not mine:
        known = sorted({i for k, i, _ in items if k in STATUSES_BY_KIND})
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise DisputeError(f"call {call_id!r} has no item {item_id!r}; its items: {shown}")
    kinds = sorted({k for k, _ in mine})
    if len(kinds) > 1:
        raise DisputeError(
            f"call {call_id!r}: {item_id!r} is a {' and a '.join(kinds)}; say which with --kind"
        )
    if kinds[0] not in STATUSES_BY_KIND:
        raise DisputeError(f"call {call_id!r}: {item_id!r} is a {kinds[0]} item; only "
                           f"{', '.join(STATUSES_BY_KIND)} items can be disputed")
    # an objection raised twice has two rows: handled when any raise was handled
    statuses = {s for _, s in mine}
    tool = "handled" if kinds[0] == "objection" and "handled" in statuses else mine[0][1]
    return kinds[0], tool


def dispute(
    ws: Workspace,
    call_id: str,
    item_id: str,
    status: str,
    *,
    note: str | None = None,
    by: str | None = None,
    kind: str | None = None,
    source: str = "cli",
) -> Dispute:
    """Store the override of one item of one call (replacing an earlier one)."""
    status = status.strip().lower()
    if status not in STATUSES:
        raise DisputeError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    k, tool = item_of(ws, call_id, item_id, kind)
    if status not in STATUSES_BY_KIND[k]:
        raise DisputeError(
            f"call {call_id!r}: {item_id!r} is a {k}; its status is {' or '.join(STATUSES_BY_KIND[k])}, "
            f"not {status!r}"
        )
    who = (by or "").strip() or default_user()
    ws.save_dispute(call_id, k, item_id, status, by=who, note=note, tool_status=tool, source=source)
    got = ws.disputes([call_id])
    row = next(r for r in got if r["kind"] == k and r["item_id"] == item_id)
    return Dispute(**row)


def import_workbook(ws: Workspace, path: str | Path, *, by: str | None = None) -> ImportResult:
    """Store an override for every row of the workbook's ``items`` sheet whose ``status``
    differs from the tool's (the latest score); a ``note`` column, when there, is the why."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DisputeError(f"{p}: no such file; pass the workbook 'qa score -f xlsx' wrote (scores.xlsx)")
    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except Exception as e:  # openpyxl and zipfile raise many kinds; all mean "not a workbook"
        raise DisputeError(f"{p}: cannot read it as an xlsx workbook ({e})") from e
    with book:
        if "items" not in book.sheet_names:
            raise DisputeError(f"{p}: no 'items' sheet (it has: {', '.join(map(str, book.sheet_names))}); "
                               "pass the workbook 'qa score -f xlsx' wrote")
        frame = pd.read_excel(book, sheet_name="items", dtype=object)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("call_id", "kind", "item_id", "status") if c not in frame.columns]
    if missing:
        raise DisputeError(f"{p}: the items sheet lacks column(s) {', '.join(missing)}; "
                           "export it again with 'qa score -f xlsx'")
    out = ImportResult()
    # the tool's statuses per item in row order: an objection raised twice (and its steps)
    # has a row per raise, compared with the sheet's rows of that item in the same order
    tool_cache: dict[str, dict[tuple[str, str], list[str]]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    done: set[tuple[str, str, str]] = set()
    for n, r in enumerate(frame.to_dict("records")):
        line = n + 2  # the header is row 1
        cid, kind, item, status = (
            "" if r[c] is None or r[c] != r[c] else str(r[c]).strip()
            for c in ("call_id", "kind", "item_id", "status")
        )
        if kind not in STATUSES_BY_KIND:
            continue  # order items and the like: nothing to dispute
        if cid not in tool_cache:
            tool_cache[cid] = {}
            for k, i, st in _latest_items(ws, cid):
                tool_cache[cid].setdefault((k, i), []).append(st)
        nth = seen.get((cid, kind, item), 0)
        seen[(cid, kind, item)] = nth + 1
        statuses = tool_cache[cid].get((kind, item), [])
        tool = statuses[nth] if nth < len(statuses) else None
        if tool is not None and status.lower() == tool:
            out.unchanged += 1
            continue
        if (cid, kind, item) in done:
            continue
        note_v = r.get("note")
        note = str(note_v).strip() if note_v is not None and note_v == note_v and str(note_v).strip() else None
        try:
            d = dispute(ws, cid, item, status, note=note or f"changed in {p.name}", by=by, kind=kind,
                        source=p.name)
        except DisputeError as e:
            out.skipped.append((line, str(e)))
            continue
        done.add((cid, kind, item))
        out.stored.append(d)
    return out


def overrides(ws: Workspace, call_ids: Iterable[str] | None = None) -> dict[tuple[str, str, str], Dispute]:
    """``(call_id, kind, item_id) -> Dispute`` (all calls, or these)."""
    return {(r["call_id"], r["kind"], r["item_id"]): Dispute(**r) for r in ws.disputes(call_ids)}


def apply(items: Any, found: Mapping[tuple[str, str, str], Dispute]) -> Any:
    """Item rows (a DataFrame with ``call_id, kind, item_id, status``) with the human status
    applied: ``status`` is the override, ``tool_status`` the tool's, ``disputed_by`` and
    ``dispute_note`` say who and why (empty where nobody disputed)."""
    out = items.copy()
    if out.empty:
        for c in ("tool_status", "disputed_by", "dispute_note"):
            out[c] = []
        return out
    keys = list(zip(out["call_id"], out["kind"], out["item_id"]))
    hits = [found.get(k) for k in keys]
    out["tool_status"] = out["status"]
    out["status"] = [d.status if d else s for d, s in zip(hits, out["status"])]
    out["disputed_by"] = [d.by if d else None for d in hits]
    out["dispute_note"] = [d.note if d else None for d in hits]
    return out


def as_grades(ws: Workspace) -> list[dict[str, Any]]:
    """Every override as a human grade for ``qa calibrate`` (``call_id, item_id, value,
    grader``): found/handled = yes, missed/unhandled = no; objections ask "was it handled"."""
    return [
        {"call_id": d["call_id"], "item_id": d["item_id"], "value": d["status"], "grader": d["by"]}
        for d in ws.disputes()
    ]


def mark(rows: list[dict[str, Any]], found: Mapping[tuple[str, str, str], Dispute]) -> list[dict[str, Any]]:
    """Item rows (dicts) with the human status applied, the override said in ``detail``
    (who, why, what the tool said) and ``tool_status`` kept; for the call page."""
    out = []
    for r in rows:
        d = found.get((r.get("call_id"), r.get("kind"), r.get("item_id")))  # type: ignore[arg-type]
        if d is None:
            out.append(r)
            continue
        why = f": {d.note}" if d.note else ""
        said = f"overridden by {d.by}{why} (tool: {r.get('status')})"
        detail = r.get("detail")
        out.append({**r, "status": d.status, "tool_status": r.get("status"), "disputed_by": d.by,
                    "detail": f"{said}; {detail}" if detail and detail == detail else said})
    return out


def notes_for(ws: Workspace, call_ids: Iterable[str], shown: int = 5) -> list[str]:
    """One note per override of these calls (the first ``shown``, then a count), for the
    scorecard and the coaching plan."""
    ds = list(overrides(ws, [str(c) for c in call_ids]).values())
    lines = [
        f"supervisor override: {d.call_id} {d.item_id} {d.status} (tool: {d.tool_status}) by {d.by}"
        + (f": {d.note}" if d.note else "")
        for d in ds[:shown]
    ]
    if len(ds) > shown:
        lines.append(f"... and {len(ds) - shown} more supervisor override(s) ('qa dispute')")
    return lines
