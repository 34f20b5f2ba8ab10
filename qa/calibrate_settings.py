"""Calibration by rescoring: the objection settings a profile learns from a team's grades.

A per-item threshold (:func:`qa.calibrate.fit`) can be learnt from the signals ``qa score``
keeps, but whether an objection was *handled*, and so the stage ``applies_if: objection``,
follows from several handling steps found in the answer window, and whether a vaguely said
objection counts may depend on that answer (a *tentative* raise,
:attr:`qa.meaning.MeaningOptions.tentative`). Neither can be read off stored signals. So
``qa calibrate --fit`` also rescores the graded calls from the workspace (their transcripts
and cached vectors: no model runs) under a few settings (:data:`GRID`: the handling steps'
meaning threshold x the tentative bar), and keeps the setting that cross-validation over calls
says agrees best with the human on the questions it moves: objections raised, ``<id>:handled``
and the ``applies_if`` stages.

Phases: :func:`rescored` (the tool's answers per setting), :func:`choose` (the setting
agreeing best on some calls), :func:`fit_settings` (cross-validated before/after per question,
and the setting to store per version). Hands on a :class:`SettingsFit`; the profile key is
``settings`` (:func:`options_for` turns it back into meaning options).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: The settings tried, per encoder: the handling steps' meaning threshold and the tentative
#: bar (None: no tentative raises). The first is the zero-shot default; another one is kept
#: only when it agrees better.
GRID: dict[str, dict[str, tuple[Any, ...]]] = {
    "use": {"step": (0.70, 0.65, 0.60), "tentative": (None, 0.55, 0.50)},
    "e5": {"step": (0.92, 0.90, 0.88), "tentative": (None, 0.90, 0.88)},
}


@dataclass(frozen=True)
class Setting:
    """One point of :data:`GRID`."""

    step: float
    tentative: float | None

    @property
    def label(self) -> str:
        bar = "off" if self.tentative is None else f"{self.tentative:g}"
        return f"steps {self.step:g}, tentative raises {bar}"

    def as_profile(self) -> dict[str, Any]:
        return {"step": self.step, "tentative": self.tentative}


def settings(encoder: str) -> list[Setting]:
    """Every setting of the encoder's grid, the zero-shot default first."""
    g = GRID.get(encoder, GRID["use"])
    return [Setting(float(s), t) for s in g["step"] for t in g["tentative"]]


def options_for(options: Any, profile_settings: Mapping[str, Any] | None) -> Any:
    """``options`` (:class:`qa.meaning.MeaningOptions`) with a profile's ``settings``."""
    if not profile_settings:
        return options
    kinds = {**dict(options.kind_thresholds), "step": float(profile_settings["step"])}
    tentative = profile_settings.get("tentative")
    return replace(options, kind_thresholds=kinds,
                   tentative=None if tentative is None else float(tentative))


# -- the tool's answers, per setting -----------------------------------------------------------
def answers(rows: Sequence[Mapping[str, Any]], questions: Sequence[str]) -> dict[str, bool]:
    """A scored call's answers to ``questions`` as :func:`qa.calibrate.tool_decisions` reads
    them from stored items: a stage is found when a row of it is found, an objection raised
    when it has a row, ``<id>:handled`` when one of its raises was handled."""
    out = {}
    for q in questions:
        item, _, handled = q.partition(":")
        mine = [r for r in rows if r["item_id"] == item and r["kind"] in ("stage", "objection")]
        if handled:
            out[q] = any(r["status"] == "handled" for r in mine)
        elif mine and mine[0]["kind"] == "stage":
            out[q] = any(r["status"] == "found" for r in mine)
        else:
            out[q] = bool(mine)
    return out


def moved_questions(script: Any, rubric: Any) -> list[str]:
    """The questions a setting can change: every objection raised and handled, and the
    stages ``applies_if`` an objection (they follow the rubric's steps)."""
    if rubric is None:
        return []
    out = [st.id for st in script.stages if st.applies_if]
    for ob in rubric.objections:
        out += [ob.id, f"{ob.id}:handled"]
    return out


def rescored(ws: Any, script: Any, rubric: Any, calls: Sequence[str], base: Any,
             grid: Sequence[Setting]) -> dict[Setting, dict[str, dict[str, bool]]]:
    """Per setting, per call: the tool's answers to :func:`moved_questions` when the call is
    scored again from the workspace under that setting (vectors from the workspace's cache)."""
    from .meaning.items import script_matchers
    from .scoring import score_call

    questions = moved_questions(script, rubric)
    transcripts = {t.call_id: t for t in ws.transcripts(list(calls))}
    cache = ws.vector_cache()
    out: dict[Setting, dict[str, dict[str, bool]]] = {}
    for s in grid:
        layer = script_matchers(script, rubric, options_for(base, s.as_profile()), cache=cache)
        out[s] = {cid: answers(score_call(t, script, rubric, meaning=layer).to_store()[1], questions)
                  for cid, t in transcripts.items()}
    return out


# -- choosing ----------------------------------------------------------------------------------
def agreement_of(frame: Any, pred: np.ndarray) -> tuple[float, float]:
    """Mean Cohen's kappa over the questions of ``frame`` that have both human answers (then
    plain agreement), of ``pred`` against ``frame['human']``."""
    from .calibrate import cohen_kappa

    y = frame["human"].astype(bool).to_numpy()
    kappas = []
    for _, idx in frame.groupby("question").indices.items():
        if 0 < y[idx].sum() < len(idx):
            kappas.append(cohen_kappa(y[idx], pred[idx]))
    return (float(np.mean(kappas)) if kappas else 0.0, float((pred == y).mean()) if len(y) else 0.0)


def predict(frame: Any, answers_of: Mapping[str, Mapping[str, bool]]) -> np.ndarray:
    """The tool's answer for each (call, question) row of ``frame`` under one setting."""
    return np.asarray([bool(answers_of.get(c, {}).get(q, False))
                       for c, q in zip(frame["call_id"], frame["question"])], dtype=bool)


def choose(frame: Any, per_setting: Mapping[Setting, Mapping[str, Mapping[str, bool]]],
           grid: Sequence[Setting]) -> Setting:
    """The setting whose answers agree best with ``frame``'s human grades (mean kappa, then
    agreement); ties go to the earlier one (the zero-shot default first)."""
    best, key = grid[0], (-9.0, -1.0)
    for s in grid:
        k = agreement_of(frame, predict(frame, per_setting[s]))
        if k > key:
            best, key = s, k
    return best


# -- fitting -----------------------------------------------------------------------------------
@dataclass
class SettingsFit:
    """Per question: agreement as scored (``before``) and cross-validated under the chosen
    settings (``after``); ``chosen``: per version, the setting to store, with its figures."""

    table: Any  # question, version, n, before_*, after_*, setting
    chosen: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def fit_settings(ws: Any, joined: Any, names: Mapping[str, str], thresholds: Mapping[tuple[str, str], Any],
                 folds: int = 5, seed: int = 0) -> SettingsFit:
    """For each rubric version among the graded calls (``joined``: grades with the tool's
    decision, :func:`qa.calibrate.join`; ``encoder``: the meaning layer the call was scored
    with, on every row), pooled over the scripts scored with it (the settings
    are the rubric's: its steps and triggers): rescore the graded calls under every setting
    (with the per-item ``thresholds`` the same fit keeps for each version), choose a setting on
    the training folds and predict the held-out fold (folds over calls), and keep the setting
    chosen on all graded calls when the cross-validated mean kappa beats the tool as scored;
    it goes into the profile of every version with that rubric. Calls scored without the
    meaning layer are left out."""
    import pandas as pd

    from .calibrate import _before_after, _folds, _version_label

    rows: list[dict[str, Any]] = []
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for rh, g in joined[joined["encoder"].notna()].groupby("rubric_hash", sort=True):
        encoders = g["encoder"].unique()
        if rh == "none" or len(encoders) != 1:
            continue
        grid = settings(str(encoders[0]))
        frames, per_setting = _rescore_versions(ws, g, thresholds, grid)
        if not frames:
            continue
        frame = pd.concat(frames, ignore_index=True)
        fold_of, k = _folds(list(frame["call_id"]), folds, seed)
        fid = frame["call_id"].map(fold_of).to_numpy()
        after = np.zeros(len(frame), dtype=bool)
        for f in range(k):
            tr, te = fid != f, fid == f
            if te.any():
                after[te] = predict(frame[te], per_setting[choose(frame[tr], per_setting, grid)])
        before = frame["tool"].astype(bool).to_numpy()
        whole = choose(frame, per_setting, grid)
        cv_before, cv_after = agreement_of(frame, before), agreement_of(frame, after)
        keep = whole != grid[0] and cv_after > cv_before
        for sh in frame["script_hash"].unique():
            if keep:
                chosen[(str(sh), str(rh))] = {**whole.as_profile(), "encoder": str(encoders[0]),
                                              "before_kappa": round(cv_before[0], 4),
                                              "after_kappa": round(cv_after[0], 4), "grades": len(frame)}
        y = frame["human"].astype(bool).to_numpy()
        for (sh, q), idx in frame.groupby(["script_hash", "question"]).indices.items():
            row: dict[str, Any] = {"question": q, "version": _version_label(names, str(sh)), "n": len(idx)}
            row.update(_before_after(y[idx], before[idx], after[idx]))
            row["setting"] = whole.label if keep else f"unchanged ({grid[0].label})"
            rows.append(row)
    cols = ["question", "version", "n", "before_agreement", "before_kappa", "before_f1",
            "after_agreement", "after_kappa", "after_f1", "setting"]
    return SettingsFit(pd.DataFrame(rows, columns=cols), chosen)


def _rescore_versions(ws: Any, graded: Any, thresholds: Mapping[tuple[str, str], Any],
                      grid: Sequence[Setting]) -> tuple[list[Any], dict[Setting, dict[str, dict[str, bool]]]]:
    """The graded rows a setting can move, per script version of one rubric, and the tool's
    answers to them per setting (:func:`rescored`), all calls together."""
    from .meaning import MeaningOptions
    from .scripts import parse_rubric, parse_script

    frames = []
    per_setting: dict[Setting, dict[str, dict[str, bool]]] = {s: {} for s in grid}
    for (sh, rh), g in graded.groupby(["script_hash", "rubric_hash"], sort=True):
        script_cfg, rubric_cfg = ws.config(str(sh)), ws.config(str(rh))
        if script_cfg is None or rubric_cfg is None:
            continue
        script = parse_script(script_cfg["text"], script_cfg.get("path") or "<script>")
        rubric = parse_rubric(rubric_cfg["text"], rubric_cfg.get("path") or "<rubric>")
        frame = g[g["question"].isin(moved_questions(script, rubric))]
        if frame.empty:
            continue
        base = MeaningOptions(encoder=str(g["encoder"].iloc[0]),
                              item_thresholds=dict(thresholds.get((str(sh), str(rh)), {})))
        for s, per_call in rescored(ws, script, rubric, sorted(set(frame["call_id"])), base, grid).items():
            per_setting[s].update(per_call)
        frames.append(frame)
    return frames, per_setting
