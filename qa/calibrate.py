"""Calibration: human QA grades against the tool's decisions, and what to learn from them.

Reads a grades file (CSV or XLSX; one row per call, item and grader) and the tool's
decisions from the workspace (``items`` and ``scores`` of one script/rubric version), and
reports how far they agree: per item agreement, Cohen's kappa, precision and recall of the
tool against the human; per call the share of score differences within 10 points; the worst
disagreements with the tool's evidence; and inter-grader agreement where two graders graded
the same call. :func:`fit` learns, per script/rubric version and item, the meaning threshold
of the rule scoring applies (words OR meaning ``clear >= t``) from the grades and the meaning
signals ``qa score`` keeps for every item, found or missed; it reports cross-validated
agreement before and after (never only in-sample). :func:`save_profiles` stores the result as
the version's calibration profile (workspace table ``calibrations``), and
:func:`calibrated_options` is how ``qa score`` applies it -- to that version only, warning
when the script or rubric was edited since.

Grades file columns: ``call_id``, ``item_id``, ``value`` (yes/no, 1/0, true/false,
found/missed, handled/unhandled, raised/not raised); optional ``grader`` and ``score``
(the human's 0-100 score of the call). For an objection id, yes means "raised"; handled /
unhandled asks whether it was handled (question ``<id>:handled``). Rows that cannot be used
(unknown call or item, bad value) are skipped and listed, with their line; the rest is kept.

Hands on a :class:`CalibrationReport` and a :class:`FitResult` (pandas frames) for the CLI
to render, and profiles to the workspace.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import QAError

#: Yes/no or numeric values: a list or a numpy array.
Bools = Sequence[bool] | np.ndarray
Floats = Sequence[float] | np.ndarray


class GradesError(QAError):
    """A grades file is missing, unreadable or lacks the required columns."""


REQUIRED = ("call_id", "item_id", "value")
TRUE_VALUES = {"yes", "y", "1", "true", "found", "handled", "raised", "да", "+"}
FALSE_VALUES = {"no", "n", "0", "false", "missed", "unhandled", "not raised", "нет", "-"}
HANDLED_VALUES = {"handled", "unhandled"}
#: A call's human and tool scores "agree" when they differ by at most this many points.
SCORE_TOLERANCE = 10.0


# -- metrics -----------------------------------------------------------------------------
def prf(truth: Bools, pred: Bools) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``pred`` for the positive class (0 when undefined)."""
    t = np.asarray(truth, dtype=bool)
    p = np.asarray(pred, dtype=bool)
    tp = float((t & p).sum())
    prec = tp / p.sum() if p.sum() else 0.0
    rec = tp / t.sum() if t.sum() else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return float(prec), float(rec), float(f1)


def cohen_kappa(a: Bools, b: Bools) -> float:
    """Cohen's kappa of two yes/no raters (1.0 when both are constant and equal)."""
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    if x.size == 0:
        return float("nan")
    po = float((x == y).mean())
    pe = float(x.mean() * y.mean() + (1 - x.mean()) * (1 - y.mean()))
    if pe >= 1.0:
        return 1.0 if po == 1.0 else 0.0
    return (po - pe) / (1 - pe)


# -- learning ----------------------------------------------------------------------------
def fit_threshold(scores: Floats, truth: Bools, objective: str = "kappa") -> float:
    """The cut ``score >= t`` that maximises ``objective`` (``kappa``: agreement beyond
    chance, the default; ``f1``: F1 of "yes") on these examples; ties: higher agreement, then
    the lowest such cut, midway between neighbouring scores. No positive: above them all."""
    if objective not in ("kappa", "f1"):
        raise ValueError(f"objective must be 'kappa' or 'f1', got {objective!r}")
    s = np.asarray(scores, dtype=float)
    y = np.asarray(truth, dtype=bool)
    if s.size == 0 or not y.any():
        return float(s.max() + 1.0) if s.size else 1.0
    vals = np.unique(s)
    cuts = np.concatenate([[vals[0] - 1e-6], (vals[:-1] + vals[1:]) / 2, [vals[-1] + 1e-6]])
    best, best_key = float(cuts[0]), (-1.0, -1.0)
    for c in cuts:
        p = s >= c
        gain = cohen_kappa(y, p) if objective == "kappa" else prf(y, p)[2]
        key = (gain, float((p == y).mean()))
        if key > best_key:
            best, best_key = float(c), key
    return best


@dataclass
class LogisticModel:
    """A standardised, L2-regularised logistic regression: tiny, numpy only."""

    w: np.ndarray
    b: float
    mean: np.ndarray
    std: np.ndarray
    cut: float = 0.5

    def proba(self, X: Any) -> np.ndarray:
        z = (np.asarray(X, dtype=float) - self.mean) / self.std
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ self.w + self.b))))

    def predict(self, X: Any) -> np.ndarray:
        return self.proba(X) >= self.cut


def fit_logistic(X: Any, y: Bools, l2: float = 1.0, steps: int = 300) -> LogisticModel:
    """Fit by Newton's method; the decision cut is then chosen for F1 on the same rows."""
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float)
    mean = Xa.mean(axis=0)
    std = Xa.std(axis=0)
    std[std == 0] = 1.0
    Z = np.hstack([(Xa - mean) / std, np.ones((len(Xa), 1))])
    w = np.zeros(Z.shape[1])
    reg = np.eye(Z.shape[1]) * l2
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        g = Z.T @ (p - ya) + reg @ w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + reg + np.eye(Z.shape[1]) * 1e-9
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    m = LogisticModel(w[:-1], float(w[-1]), mean, std)
    m.cut = min(max(fit_threshold(m.proba(Xa), ya.astype(bool)), 0.0), 1.0) if ya.any() else 0.5
    return m


# -- grades ------------------------------------------------------------------------------
@dataclass
class Grades:
    """Usable grade rows (``call_id, item_id, question, human, grader, line``) and the
    per-call human ``score`` where given, plus every skipped row with its reason."""

    rows: Any
    scores: Any
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _parse_value(v: Any) -> tuple[bool, bool] | None:
    """(value, asks_handled) or None when unreadable."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return v, False
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v), False
    s = str(v).strip().lower()
    if s.endswith(".0"):
        s = s[:-2]
    if s in TRUE_VALUES:
        return True, s in HANDLED_VALUES
    if s in FALSE_VALUES:
        return False, s in HANDLED_VALUES
    return None


def read_grades(path: str | Path) -> Grades:
    """Read and check a grades file; bad rows are skipped with a reason, not fatal."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise GradesError(f"{p}: no such grades file; pass a CSV or XLSX with columns "
                          "call_id, item_id, value")
    try:
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(p, dtype=object)
        else:
            df = pd.read_csv(p, dtype=object, sep=None, engine="python", encoding="utf-8-sig")
    except Exception as e:  # pandas raises many kinds; all mean "cannot read this file"
        raise GradesError(f"{p}: cannot read grades file ({e}); save it as CSV (UTF-8) or XLSX") from e
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise GradesError(f"{p}: missing column(s) {', '.join(missing)}; the header needs "
                          "call_id, item_id, value (optional grader, score)")
    rows, scores, skipped = [], [], []
    for i, r in enumerate(df.to_dict("records")):
        line = i + 2  # header is line 1
        cid = "" if r["call_id"] is None or r["call_id"] != r["call_id"] else str(r["call_id"]).strip()
        item = "" if r["item_id"] is None or r["item_id"] != r["item_id"] else str(r["item_id"]).strip()
        grader = str(r.get("grader") or "").strip() if r.get("grader") == r.get("grader") else ""
        if not cid:
            skipped.append((line, "empty call_id"))
            continue
        sc = r.get("score")
        if sc is not None and sc == sc and str(sc).strip() != "":
            try:
                v = float(str(sc).replace(",", "."))
                if not 0 <= v <= 100:
                    raise ValueError
                scores.append({"call_id": cid, "grader": grader, "human_score": v})
            except ValueError:
                skipped.append((line, f"score {sc!r} is not a number from 0 to 100"))
        if not item:
            if sc is None or sc != sc:
                skipped.append((line, "empty item_id"))
            continue
        parsed = _parse_value(r["value"])
        if parsed is None:
            skipped.append((line, f"{cid}/{item}: value {r['value']!r} is not yes/no, 1/0, "
                                  "found/missed or handled/unhandled"))
            continue
        val, handled = parsed
        rows.append({"call_id": cid, "item_id": item,
                     "question": f"{item}:handled" if handled else item,
                     "human": val, "grader": grader, "line": line})
    cols = ["call_id", "item_id", "question", "human", "grader", "line"]
    sframe = pd.DataFrame(scores, columns=["call_id", "grader", "human_score"])
    if not sframe.empty:
        sframe = sframe.drop_duplicates(["call_id", "grader"], keep="last")
    return Grades(pd.DataFrame(rows, columns=cols), sframe, skipped)


def dispute_grades(ws: Any) -> Grades:
    """Supervisors' overrides (``qa dispute``) as human grades, grader = who overrode; their
    ``line`` is -1 (they come from the workspace, not a file)."""
    import pandas as pd

    from .disputes import as_grades

    rows = []
    for g in as_grades(ws):
        parsed = _parse_value(g["value"])
        if parsed is None:  # pragma: no cover - disputes only store known statuses
            continue
        val, handled = parsed
        rows.append({"call_id": g["call_id"], "item_id": g["item_id"],
                     "question": f"{g['item_id']}:handled" if handled else g["item_id"],
                     "human": val, "grader": g["grader"], "line": -1})
    cols = ["call_id", "item_id", "question", "human", "grader", "line"]
    return Grades(pd.DataFrame(rows, columns=cols), pd.DataFrame(columns=["call_id", "grader", "human_score"]))


def merge_grades(a: Grades, b: Grades) -> Grades:
    """Both sets of grades (a file's and the disputes'), rows of ``a`` first."""
    import pandas as pd

    frames = [f for f in (a.rows, b.rows) if len(f)]
    rows = pd.concat(frames, ignore_index=True) if frames else a.rows
    sframes = [f for f in (a.scores, b.scores) if len(f)]
    scores = pd.concat(sframes, ignore_index=True) if sframes else a.scores
    return Grades(rows, scores, [*a.skipped, *b.skipped])


# -- the tool's side -------------------------------------------------------------------------
@dataclass
class ToolDecisions:
    """Per (call, question): the tool's yes/no, its evidence, the version it was scored
    with and the meaning layer's signals (:data:`SIGNAL_COLUMNS`); and the per-call score."""

    decisions: Any  # call_id, question, kind, tool, status, ..., script_hash, rubric_hash, signals
    scores: Any  # call_id, tool_score
    items: dict[str, str]  # item id -> kind ("stage" or "objection")
    version: tuple[str, str]
    names: dict[str, str] = field(default_factory=dict)  # config hash -> script/rubric name


def _config_ids(ws: Any, h: str) -> dict[str, str]:
    import yaml

    row = ws.query("SELECT text FROM configs WHERE hash=?", (h,))
    if not row:
        return {}
    try:
        doc = yaml.safe_load(row[0][0]) or {}
    except yaml.YAMLError:
        return {}
    out = {}
    for key, kind in (("stages", "stage"), ("objections", "objection")):
        for x in doc.get(key) or []:
            if isinstance(x, dict) and x.get("id"):
                out[str(x["id"])] = kind
    return out


#: The meaning layer's signals beside each decision (None where the call was scored without
#: it): ``encoder``; ``words``: the fuzzy layer found it (the words were said);
#: ``meaning_similarity`` and ``meaning_margin`` of the closest utterance, found or missed;
#: ``meaning_clear``: the best similarity that beat the rival items by the margin
#: (:attr:`qa.meaning.MeaningHit.clear`). Stored by ``qa score`` in the score's summary.
SIGNAL_COLUMNS = ("encoder", "words", "meaning_similarity", "meaning_margin", "meaning_clear")


def _signals_of(summary_json: Any) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(summary_json) if summary_json else {}
    except (TypeError, ValueError):
        return {}
    sig = doc.get("meaning") if isinstance(doc, dict) else None
    return sig if isinstance(sig, dict) else {}


def _by_words(rows: list[dict[str, Any]]) -> bool:
    """Did the fuzzy layer (the words) find it? Rows scored before the ``layer`` column
    count as the words' (they had no other layer)."""
    return any(r.get("layer") != "meaning" for r in rows)


def tool_decisions(ws: Any, version: str | tuple[str, str] | None = None) -> ToolDecisions:
    """Read the tool's decisions for the calls every view reads (:mod:`qa.versions`: the
    latest version of each script file and language, each call under its latest score), or
    for one ``version`` (``(script_hash, rubric_hash)`` or hash prefixes ``SCRIPT[:RUBRIC]``)."""
    import pandas as pd

    from .versions import scope

    sc = scope(ws, version=version)  # NotFoundError when nothing is scored
    frm, params = sc.where(items=True)
    items = ws.frame(
        "SELECT i.call_id, i.kind, i.item_id, i.status, i.start, i.text, i.phrase, i.similarity, "
        f"i.detail, i.layer {frm} AND i.kind IN ('stage','objection')",
        params,
    )
    frm, params = sc.where()
    scored = ws.frame(
        f"SELECT c.call_id, s.score AS tool_score, s.script_hash, s.rubric_hash, s.summary_json {frm}", params)
    signals = {str(c): _signals_of(j) for c, j in zip(scored["call_id"], scored["summary_json"])}
    scores = scored[["call_id", "tool_score"]]
    # each call is asked only about the items of the script and rubric it was scored with
    per_version: dict[tuple[str, str], dict[str, str]] = {
        v.key: {**_config_ids(ws, v.script_hash), **_config_ids(ws, v.rubric_hash)} for v in sc.versions
    }
    version_of = {str(c): (str(a), str(b)) for c, a, b in
                  zip(scored["call_id"], scored["script_hash"], scored["rubric_hash"])}
    for cid, k, kind in zip(items["call_id"], items["item_id"], items["kind"]):
        per_version.setdefault(version_of.get(str(cid), ("", "")), {}).setdefault(str(k), str(kind))
    known: dict[str, str] = {}
    for ids in per_version.values():
        known.update(ids)
    sh, rh = sc.versions[0].key
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in items.to_dict("records"):  # one pass: a large workspace has many rows
        rows.setdefault((str(r["call_id"]), str(r["item_id"])), []).append(r)
    recs = []
    for cid in scores["call_id"]:
        for item, kind in per_version.get(version_of[str(cid)], {}).items():
            mine = rows.get((cid, item), [])
            ev = mine[0] if mine else {}
            sig = signals.get(str(cid), {})
            qs: list[tuple[str, bool, bool | None, Any]]
            if kind == "stage":
                found = [r for r in mine if r["status"] == "found"]
                qs = [(item, bool(found), _by_words(found), sig.get("stage", {}).get(item))]
            else:  # one row per raise; raised = any row, handled = any handled raise
                handled = [r for r in mine if r["status"] == "handled"]
                qs = [(item, bool(mine), _by_words(mine), sig.get("trigger", {}).get(item)),
                      (f"{item}:handled", bool(handled), None, None)]
                ev = handled[0] if handled else ev
            for q, val, words, meaning in qs:
                m = meaning if isinstance(meaning, list) and len(meaning) == 3 else [None, None, None]
                recs.append({"call_id": cid, "question": q, "kind": kind, "tool": val,
                             "status": ev.get("status"), "start": ev.get("start"),
                             "text": ev.get("text"), "phrase": ev.get("phrase"),
                             "similarity": ev.get("similarity"), "detail": ev.get("detail"),
                             "script_hash": version_of[str(cid)][0], "rubric_hash": version_of[str(cid)][1],
                             "encoder": sig.get("encoder") if meaning is not None else None,
                             "words": words, "meaning_similarity": m[0], "meaning_margin": m[1],
                             "meaning_clear": m[2]})
    cols = ["call_id", "question", "kind", "tool", "status", "start", "text", "phrase",
            "similarity", "detail", "script_hash", "rubric_hash", *SIGNAL_COLUMNS]
    names = {v.script_hash: v.script_name or "" for v in sc.versions}
    return ToolDecisions(pd.DataFrame(recs, columns=cols), scores, known, (sh, rh), names)


# -- the report --------------------------------------------------------------------------
@dataclass
class CalibrationReport:
    per_item: Any  # question, n, agreement, kappa, precision, recall, human_yes, tool_yes
    per_call: dict[str, Any]  # calls, within_10, mean_abs_diff
    worst: Any  # the disagreements, worst first, with evidence
    graders: Any  # question, calls, agreement, kappa (pairs of graders on the same calls)
    skipped: list[tuple[int, str]]
    joined: Any  # every usable grade with the tool's decision


def _item_table(joined: Any, truth: str = "human", pred: str = "tool") -> Any:
    import pandas as pd

    out = []
    for q, g in joined.groupby("question", sort=True):
        h, t = list(g[truth]), list(g[pred])
        p, r, f = prf(h, t)
        out.append({"question": q, "n": len(g), "agreement": float(np.mean(np.array(h) == np.array(t))),
                    "kappa": cohen_kappa(h, t), "precision": p, "recall": r, "f1": f,
                    "human_yes": float(np.mean(h)), "tool_yes": float(np.mean(t))})
    return pd.DataFrame(out, columns=["question", "n", "agreement", "kappa", "precision",
                                      "recall", "f1", "human_yes", "tool_yes"])


def _grader_table(rows: Any) -> Any:
    import pandas as pd

    out = []
    graded = rows[rows["grader"] != ""]
    for q, g in graded.groupby("question", sort=True):
        wide = g.pivot_table(index="call_id", columns="grader", values="human", aggfunc="last")
        names = list(wide.columns)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                both = wide[[names[i], names[j]]].dropna()
                if len(both):
                    a = both[names[i]].astype(bool).tolist()
                    b = both[names[j]].astype(bool).tolist()
                    out.append({"question": q, "graders": f"{names[i]} vs {names[j]}",
                                "calls": len(both),
                                "agreement": float(np.mean(np.array(a) == np.array(b))),
                                "kappa": cohen_kappa(a, b)})
    return pd.DataFrame(out, columns=["question", "graders", "calls", "agreement", "kappa"])


def join(grades: Grades, tool: ToolDecisions) -> tuple[Any, list[tuple[int, str]]]:
    """Grades with the tool's decision beside them; rows naming unknown calls or items are
    skipped with their line."""
    rows = grades.rows
    skipped = list(grades.skipped)
    calls = set(tool.scores["call_id"])
    questions = set(tool.decisions["question"])
    keep = []
    for r in rows.to_dict("records"):
        if r["call_id"] not in calls:
            skipped.append((r["line"], f"call {r['call_id']!r} is not scored in the workspace"))
        elif r["item_id"] not in tool.items:
            skipped.append((r["line"], f"item {r['item_id']!r} is not in the script or rubric"))
        elif r["question"] not in questions:
            skipped.append((r["line"], f"{r['item_id']!r} is a stage: use found/missed or yes/no"))
        else:
            keep.append(r)
    import pandas as pd

    kept = pd.DataFrame(keep, columns=list(rows.columns))
    joined = kept.merge(tool.decisions, on=["call_id", "question"], how="left")
    return joined, sorted(skipped)


def report(grades: Grades, tool: ToolDecisions, worst: int = 10) -> CalibrationReport:
    """Agreement of the tool with the human grades (see the module docstring)."""
    import pandas as pd

    joined, skipped = join(grades, tool)
    per_item = _item_table(joined)
    per_call: dict[str, Any] = {"calls": 0, "within_10": None, "mean_abs_diff": None}
    if not grades.scores.empty:
        known = grades.scores[grades.scores["call_id"].isin(set(tool.scores["call_id"]))]
        for cid in sorted(set(grades.scores["call_id"]) - set(known["call_id"])):
            skipped.append((0, f"score for call {cid!r}: not scored in the workspace"))
        sc = known.groupby("call_id", as_index=False)["human_score"].mean().merge(
            tool.scores, on="call_id")
        if len(sc):
            diff = (sc["human_score"] - sc["tool_score"]).abs()
            per_call = {"calls": len(sc), "within_10": float((diff <= SCORE_TOLERANCE).mean()),
                        "mean_abs_diff": float(diff.mean())}
    dis = joined[joined["human"] != joined["tool"]].copy()
    # worst first: a confident tool that is wrong (high similarity on a false find); then
    # calls with most disagreements
    dis["n_call"] = dis.groupby("call_id")["question"].transform("count")
    dis["sim"] = pd.to_numeric(dis["similarity"], errors="coerce").fillna(0.0)
    dis = dis.sort_values(["sim", "n_call", "call_id", "question"],
                          ascending=[False, False, True, True]).head(worst)
    dis = dis[["call_id", "question", "grader", "human", "tool", "status", "start", "text",
               "phrase", "similarity", "detail"]]
    return CalibrationReport(per_item, per_call, dis.reset_index(drop=True),
                             _grader_table(grades.rows), skipped, joined)


# -- fitting -----------------------------------------------------------------------------
@dataclass
class FitResult:
    """Cross-validated agreement per question, before (the tool as is) and after fitting;
    ``profiles``: per version ``(script_hash, rubric_hash)``, the profile to store."""

    table: Any  # question, n, before_*, after_*, threshold (fitted on all rows), key, kept
    folds: int
    features: list[str]
    profiles: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: the objection settings learnt by rescoring (:mod:`qa.calibrate_settings`), per
    #: question, when the workspace was given
    settings: Any = None


def _folds(calls: Sequence[str], folds: int, seed: int) -> tuple[dict[str, int], int]:
    order = sorted(set(calls))
    random.Random(seed).shuffle(order)
    k = max(2, min(folds, len(order)))
    return {c: i % k for i, c in enumerate(order)}, k


def fit_items(frame: Any, features: Sequence[str], folds: int = 5, seed: int = 0) -> FitResult:
    """Learn, per question, a decision from ``features`` (one feature: a threshold; more: a
    logistic regression) and measure it by ``folds``-fold cross-validation over calls.

    ``frame`` has ``call_id, question, human, tool`` and the feature columns; ``before`` is
    the tool's own decision on the same rows, ``after`` the held-out predictions.
    """
    import pandas as pd

    features = list(features)
    out = []
    for q, g in frame.groupby("question", sort=True):
        g = g.reset_index(drop=True)
        fold_of, k = _folds(list(g["call_id"]), folds, seed)
        fid = g["call_id"].map(fold_of).to_numpy()
        X = g[features].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(dtype=float)
        y = g["human"].astype(bool).to_numpy()
        pred = np.zeros(len(g), dtype=bool)
        for f in range(k):
            tr, te = fid != f, fid == f
            if not te.any():
                continue
            if len(features) == 1:
                pred[te] = X[te, 0] >= fit_threshold(X[tr, 0], y[tr])
            elif y[tr].all() or not y[tr].any():
                pred[te] = bool(y[tr].all())
            else:
                pred[te] = fit_logistic(X[tr], y[tr]).predict(X[te])
        row: dict[str, Any] = {"question": q, "n": len(g)}
        row.update(_before_after(y, g["tool"].astype(bool).to_numpy(), pred))
        row["threshold"] = fit_threshold(X[:, 0], y) if len(features) == 1 else None
        out.append(row)
    return FitResult(pd.DataFrame(out), folds, features)


def _before_after(y: np.ndarray, before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    row: dict[str, float] = {}
    for tag, p in (("before", before), ("after", after)):
        row[f"{tag}_agreement"] = float((p == y).mean())
        row[f"{tag}_kappa"] = cohen_kappa(y, p)
        row[f"{tag}_f1"] = prf(y, p)[2]
    return row


# -- calibration profiles -----------------------------------------------------------------
#: What a profile can set, per question kind: the meaning threshold of a stage
#: (``stage:<id>``) or of an objection's triggers (``trigger:<id>``, the "raised" question).
#: "Handled" questions and ``applies_if`` stages follow from these and are reported only.
PROFILE_KIND = {"stage": "stage", "objection": "trigger"}


def fit_cut(words: Bools, clear: Floats, truth: Bools, default: float) -> float:
    """The meaning threshold ``t`` for the rule scoring applies, "found by the words OR
    ``clear >= t``", that maximises Cohen's kappa with ``truth`` (then agreement; ties go to
    the cut nearest ``default``, the zero-shot threshold). In [-1, 1]; 1.0 means "by the
    words only". ``clear`` is NaN where no utterance beat its rivals by the margin."""
    w = np.asarray(words, dtype=bool)
    c = np.nan_to_num(np.asarray(clear, dtype=float), nan=-np.inf)
    y = np.asarray(truth, dtype=bool)
    vals = np.unique(c[~w & np.isfinite(c)])
    # every observed value (the lowest cut that still says yes to it), the midpoints, the
    # default, "words only" and below them all
    # (just below the value: the stored similarity is rounded to 6 digits)
    cuts = [1.0, default, *(vals - 1e-5).tolist(), *((vals[:-1] + vals[1:]) / 2).tolist()]
    if vals.size:
        cuts.append(max(-1.0, float(vals[0]) - 1e-3))
    best, best_key = 1.0, (-2.0, -1.0, -9.0)
    for cut in sorted({min(1.0, max(-1.0, float(x))) for x in cuts}):
        p = w | (c >= cut)
        key = (cohen_kappa(y, p), float((p == y).mean()), -abs(cut - default))
        if key > best_key:
            best, best_key = cut, key
    return round(best, 6)


def _default_threshold(encoder_name: str, kind: str) -> float:
    from .meaning.items import KIND_THRESHOLDS

    return KIND_THRESHOLDS.get(encoder_name, KIND_THRESHOLDS["use"])[kind]


def fit(grades: Grades, tool: ToolDecisions, folds: int = 5, seed: int = 0, ws: Any = None) -> FitResult:
    """``qa calibrate --fit``: per version and question, a meaning threshold for the rule
    scoring applies (words OR meaning ``clear >= t``, :func:`fit_cut`), measured by
    ``folds``-fold cross-validation over calls (before = the tool as scored, after = the
    held-out predictions). A question's threshold goes into the version's profile only when
    cross-validation says it agrees better than the tool did (kappa); otherwise the zero-shot
    threshold stays. Questions without signals (scored without the meaning layer, or
    "handled") get the old similarity cut, reported but not stored. With the workspace
    ``ws``, the graded calls are also rescored to learn the objection settings
    (:func:`qa.calibrate_settings.fit_settings`: the steps' threshold, tentative raises),
    stored under the profile's ``settings`` when cross-validation says they agree better."""
    import pandas as pd

    joined, _ = join(grades, tool)
    ws_names = tool.names
    rows: list[dict[str, Any]] = []
    profiles: dict[tuple[str, str], dict[str, Any]] = {}
    old = []
    for (sh, rh, q), g in joined.groupby(["script_hash", "rubric_hash", "question"], sort=True):
        g = g.reset_index(drop=True)
        kind = PROFILE_KIND.get(str(g["kind"].iloc[0])) if ":" not in str(q) else None
        enc = g["encoder"].dropna()
        if kind is None or len(enc) < len(g) or enc.nunique() != 1:
            old.append(g)
            continue
        default = _default_threshold(str(enc.iloc[0]), kind)
        fold_of, k = _folds(list(g["call_id"]), folds, seed)
        fid = g["call_id"].map(fold_of).to_numpy()
        w = g["words"].astype(bool).to_numpy()
        c = pd.to_numeric(g["meaning_clear"], errors="coerce").to_numpy(dtype=float)
        y = g["human"].astype(bool).to_numpy()
        pred = np.zeros(len(g), dtype=bool)
        for f in range(k):
            tr, te = fid != f, fid == f
            if te.any():
                pred[te] = w[te] | (np.nan_to_num(c[te], nan=-np.inf) >= fit_cut(w[tr], c[tr], y[tr], default))
        row: dict[str, Any] = {"question": q, "n": len(g), "version": _version_label(ws_names, sh),
                               "script_hash": sh, "rubric_hash": rh}
        row.update(_before_after(y, g["tool"].astype(bool).to_numpy(), pred))
        cut = fit_cut(w, c, y, default)
        key = f"{kind}:{q}"
        row.update({"threshold": cut, "key": key, "kept": row["after_kappa"] > row["before_kappa"]})
        rows.append(row)
        prof = profiles.setdefault((str(sh), str(rh)), {"encoder": str(enc.iloc[0]), "thresholds": {},
                                                        "items": {}, "folds": k, "grades": 0})
        prof["grades"] += len(g)
        prof["items"][key] = {"n": len(g), "threshold": cut, "default": default,
                              "before_kappa": _num(row["before_kappa"]), "after_kappa": _num(row["after_kappa"]),
                              "kept": bool(row["kept"])}
        if row["kept"]:
            prof["thresholds"][key] = cut
    if old:  # no signals: the similarity of what was found (reported only)
        f = pd.concat(old, ignore_index=True)
        sim = f["similarity"].astype(float).fillna(0.0)
        f["tool_similarity"] = np.where(f["tool"].astype(bool), np.maximum(sim, 1e-3), 0.0)
        t = fit_items(f, ["tool_similarity"], folds=folds, seed=seed).table
        rows.extend(t.assign(key=None, kept=False).to_dict("records"))
    cols = ["question", "version", "n", "before_agreement", "before_kappa", "before_f1", "after_agreement",
            "after_kappa", "after_f1", "threshold", "key", "kept"]
    table = pd.DataFrame(rows).reindex(columns=cols).sort_values("question", kind="stable")
    settings = None
    if ws is not None and len(joined):
        from .calibrate_settings import fit_settings

        kept = {v: p["thresholds"] for v, p in profiles.items()}
        d = tool.decisions.dropna(subset=["encoder"])
        encoders = dict(zip(d["call_id"], d["encoder"]))  # the layer each call was scored with
        sf = fit_settings(ws, joined.assign(encoder=joined["call_id"].map(encoders)), ws_names, kept,
                          folds=folds, seed=seed)
        settings = sf.table
        for version, chosen in sf.chosen.items():
            prof = profiles.setdefault(version, {"encoder": chosen["encoder"],
                                                 "thresholds": {}, "items": {}, "folds": folds, "grades": 0})
            prof["settings"] = chosen
            prof["grades"] = max(prof["grades"], chosen["grades"])
    return FitResult(table.reset_index(drop=True), folds, ["words", "meaning_clear"], profiles, settings)


def _version_label(names: Mapping[str, str], script_hash: str) -> str:
    return f"{names.get(script_hash) or 'script'} v{script_hash[:8]}"


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def save_profiles(ws: Any, fitted: FitResult) -> list[str]:
    """Store each version's profile in the workspace; one line per stored profile."""
    lines = []
    for (sh, rh), prof in sorted(fitted.profiles.items()):
        ws.save_calibration(sh, rh, prof["encoder"], prof, prof["grades"])
        cfg = ws.config(sh) or {}
        lines.append(f"calibration profile stored for {cfg.get('name') or 'script'} v{sh[:8]}: "
                     f"{len(prof['thresholds'])} of {len(prof['items'])} item threshold(s) changed"
                     f"{_settings_note(prof)}, from {prof['grades']} grade(s); qa score applies it "
                     "to this version")
    return lines


def _settings_note(profile: Mapping[str, Any]) -> str:
    """", objection settings: steps 0.65, tentative raises 0.5" for a profile with settings."""
    from .calibrate_settings import Setting

    st = profile.get("settings")
    return "" if not st else f", objection settings: {Setting(float(st['step']), st.get('tentative')).label}"


def calibrated_options(ws: Any, script: Any, rubric: Any, options: Any) -> tuple[Any, str | None]:
    """The meaning options ``qa score`` uses for one (script, rubric): ``options`` with the
    workspace's calibration profile for exactly this version applied (its per-item
    thresholds), and one line saying so; or ``options`` unchanged and a warning when a
    profile exists only for an earlier version of the same script or rubric (same file or
    name, other content hash); or no line when there is no profile at all."""
    from dataclasses import replace

    rh = rubric.hash if rubric is not None and rubric.hash else "none"
    profiles = ws.calibrations()
    if not profiles:
        return options, None
    name = script.name
    mine = [p for p in profiles if p["script_hash"] == script.hash and p["rubric_hash"] == rh]
    if mine:
        if options is None:
            return None, (f"calibration profile for {name} v{script.hash[:8]} not applied: "
                          "the meaning layer is off (--no-meaning)")
        use = next((p for p in mine if p["encoder"] == options.encoder), None)
        if use is None:
            return options, (f"calibration profile for {name} v{script.hash[:8]} was fitted with "
                             f"encoder {mine[0]['encoder']!r}, not {options.encoder!r}; not applied")
        from .calibrate_settings import options_for

        th = dict(use["profile"].get("thresholds") or {})
        fitted = len(use["profile"].get("items") or th)
        opts = replace(options, item_thresholds={**th, **dict(options.item_thresholds)})
        opts = options_for(opts, use["profile"].get("settings"))
        return opts, (f"calibration profile applied: {name} v{script.hash[:8]}, {len(th)} of {fitted} "
                      f"item threshold(s) changed{_settings_note(use['profile'])}, fitted on "
                      f"{use['grades']} grade(s)")
    for p in profiles:
        s_same = _same_config(ws, p["script_hash"], script)
        r_same = (p["rubric_hash"] == rh) if rubric is None else _same_config(ws, p["rubric_hash"], rubric)
        if s_same and r_same:
            what = "script" if p["script_hash"] != script.hash else "rubric"
            old = p["script_hash"] if what == "script" else p["rubric_hash"]
            cfg_name = name if what == "script" else rubric.name
            return options, (f"calibration profile for {cfg_name} v{old[:8]} does not apply to the "
                             f"edited {what} (v{(script.hash if what == 'script' else rh)[:8]}); "
                             "re-run qa calibrate --fit")
    return options, None


def _same_config(ws: Any, stored_hash: str, cfg: Any) -> bool:
    """Is the stored config ``stored_hash`` the same file (or, without a path, the same
    name) as ``cfg``, whatever its content?"""
    if stored_hash == cfg.hash:
        return True
    row = ws.config(stored_hash)
    if row is None:
        return False
    path = str(cfg.path) if getattr(cfg, "path", None) else None
    if row.get("path") and path:
        return bool(Path(row["path"]).resolve() == Path(path).resolve())
    return bool(row.get("name") and row.get("name") == cfg.name)
