#!/usr/bin/env python3
"""Calibration on the project's own labelled sales calls, through the real path.

Issue 12: "After calibration on 100 graded calls, agreement with the human on calls it never
saw reaches macro F1 >= 0.80 and kappa >= 0.6 per item. Measure it on CaSiNo and on your own
calls." This is the own-calls half (CaSiNo: ``tools/eval_casino.py``).

The calls and hand labels are ``tests/data/labelled`` (how they were made and the parts:
its README.md). The labels become a QA team's grades (``call_id, item_id, value``): every
stage labelled found/missed (``na`` is not a grade) and, for every objection of the rubric,
whether the client raised it. Then, as a QA team would:

1. ``qa score`` every call (zero-shot: the script's phrases, fuzzy + meaning), one run per
   script, the call's manager and company from a manifest, into a fresh workspace;
2. ``qa calibrate FIT.csv --fit`` with the grades of the ``--fit-parts`` calls (default
   ``dev`` and ``calib``: at least 100 graded calls), which stores a calibration profile
   per script/rubric version;
3. ``qa score`` again (the profile is applied);
4. agreement with the grades of the ``--measure-part`` calls (default ``heldout``: never
   used to change the phrase lists, thresholds or anything else), before (step 1) and after
   (step 3).

"macro F1": per item, the mean of the F1 of "present" and the F1 of "absent"; then the mean
over items (as in docs/meaning.md). Kappa: Cohen's, per item, then the mean. Items are
pooled over the scripts by id (``greeting`` of all four scripts is one item). An item whose
graded calls all have the same answer has no kappa (undefined) and is left out of the means;
the pooled figure over every grade is printed too.

``--noisy`` puts every utterance through :func:`qa.meaning.noise.asr_noise` (rate 0.15, seed
= its index), as the rest of the project measures "with recognition errors".

Usage::

    python tools/eval_labelled.py --workspace /tmp/lab_ws            # clean
    python tools/eval_labelled.py --workspace /tmp/lab_ws_noisy --noisy
    python tools/eval_labelled.py --workspace /tmp/casino_ws --casino   # CaSiNo, same path
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.calibrate import cohen_kappa, prf, read_grades, report, tool_decisions  # noqa: E402
from qa.importers import load_transcript  # noqa: E402
from qa.scripts import load_rubric  # noqa: E402
from qa.store import Workspace  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "labelled"


def labels() -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    for path in sorted(LABELLED.glob("labels*.yaml")):
        calls.update(yaml.safe_load(path.read_text(encoding="utf-8"))["calls"])
    return calls


def grade_rows(call_id: str, label: dict[str, Any]) -> list[dict[str, str]]:
    """The grades a QA specialist's label stands for: stages found/missed, objections raised."""
    rows = [{"call_id": call_id, "item_id": s, "value": "yes" if v == "found" else "no"}
            for s, v in label["stages"].items() if v != "na"]
    raised = set(label.get("objections") or {})
    for ob in load_rubric(ROOT / label["rubric"]).objections:
        rows.append({"call_id": call_id, "item_id": ob.id, "value": "yes" if ob.id in raised else "no"})
    return rows


def write_grades(path: Path, calls: dict[str, dict[str, Any]]) -> int:
    rows = [r for cid, lab in calls.items() for r in grade_rows(cid, lab)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["call_id", "item_id", "value"])
        w.writeheader()
        w.writerows(rows)
    return len(rows)


def write_calls(folder: Path, calls: dict[str, dict[str, Any]], noisy: bool) -> dict[tuple[str, str], Path]:
    """One folder of transcripts (project JSON) per script/rubric pair, and a manifest each."""
    from qa.meaning.noise import asr_noise

    groups: dict[tuple[str, str], Path] = {}
    manifests: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for cid, lab in calls.items():
        key = (lab["script"], lab["rubric"])
        d = groups.setdefault(key, folder / f"group{len(groups)}")
        d.mkdir(parents=True, exist_ok=True)
        t = load_transcript(LABELLED / f"{cid}.txt")
        utts = [{"role": u.role, "start": u.start, "end": u.end,
                 "text": asr_noise(u.text, rate=0.15, seed=i) if noisy else u.text}
                for i, u in enumerate(t.utterances)]
        (d / f"{cid}.json").write_text(json.dumps({"utterances": utts}, ensure_ascii=False), encoding="utf-8")
        manifests[key].append({"file": f"{cid}.json", "call_id": cid, "manager": lab.get("manager") or "",
                               "company": lab.get("company") or ""})
    for key, d in groups.items():
        with open(d.with_suffix(".csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["file", "call_id", "manager", "company"])
            w.writeheader()
            w.writerows(manifests[key])
    return groups


def qa(*args: str) -> str:
    env = {**os.environ, "QA_NO_PROGRESS": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env,
                       cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"qa {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stderr


def score_all(groups: dict[tuple[str, str], Path], workspace: Path) -> str:
    said = []
    for (script, rubric), d in groups.items():
        said.append(qa("score", str(d), "-s", script, "-r", rubric, "-w", str(workspace),
                       "--manifest", str(d.with_suffix(".csv"))))
    return "".join(said)


def macro_f1(h: list[bool], t: list[bool]) -> float:
    """The mean of the F1 of "present" and of "absent" (as ``tools/eval_casino.py`` and
    docs/meaning.md define it)."""
    return (prf(h, t)[2] + prf([not x for x in h], [not x for x in t])[2]) / 2


def agreement(workspace: Path, grades: Path) -> dict[str, Any]:
    with Workspace(str(workspace)) as ws:
        rep = report(read_grades(grades), tool_decisions(ws))
    j = rep.joined
    per_item = []
    for q, g in j.groupby("question", sort=True):
        h, t = [bool(x) for x in g["human"]], [bool(x) for x in g["tool"]]
        both = len(set(h)) == 2
        per_item.append({"item": q, "n": len(g), "human_yes": sum(h), "tool_yes": sum(t),
                         "macro_f1": macro_f1(h, t), "kappa": cohen_kappa(h, t) if both else None})
    h_all, t_all = [bool(x) for x in j["human"]], [bool(x) for x in j["tool"]]
    tp = sum(a and b for a, b in zip(h_all, t_all))
    fp = sum(b and not a for a, b in zip(h_all, t_all))
    fn = sum(a and not b for a, b in zip(h_all, t_all))
    defined = [r for r in per_item if r["kappa"] is not None]
    return {
        "grades": len(j), "skipped": len(rep.skipped), "items": per_item,
        "items_with_both_answers": len(defined),
        "mean_macro_f1": float(np.mean([r["macro_f1"] for r in defined])) if defined else None,
        "mean_kappa": float(np.mean([r["kappa"] for r in defined])) if defined else None,
        "pooled_macro_f1": macro_f1(h_all, t_all), "pooled_kappa": cohen_kappa(h_all, t_all),
        "pooled_precision": tp / (tp + fp) if tp + fp else 1.0,
        "pooled_recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def print_table(before: dict[str, Any], after: dict[str, Any], before_fit: dict[str, Any] | None = None) -> None:
    print("\n| item | n | human yes | zero-shot tool yes | zero-shot macro F1 / kappa | "
          "calibrated tool yes | calibrated macro F1 / kappa |")
    print("|---|---:|---:|---:|---|---:|---|")
    after_items = {r["item"]: r for r in after["items"]}

    def fk(x: dict[str, Any]) -> str:
        return f"{x['macro_f1']:.3f} / {x['kappa']:.2f}" if x["kappa"] is not None else f"{x['macro_f1']:.3f} / -"

    for r in before["items"]:
        a = after_items[r["item"]]
        print(f"| {r['item']} | {r['n']} | {r['human_yes']} | {r['tool_yes']} | {fk(r)} | {a['tool_yes']} | {fk(a)} |")
    rows = [("zero-shot", before), ("calibrated", after)]
    if before_fit is not None:
        rows.append(("zero-shot, fit calls (in-sample)", before_fit))
    for name, res in rows:
        print(f"{name}: {res['grades']} grades, {res['items_with_both_answers']} items with both answers: "
              f"mean macro F1 {res['mean_macro_f1']:.3f}, mean kappa {res['mean_kappa']:.2f}; pooled: "
              f"macro F1 {res['pooled_macro_f1']:.3f}, kappa {res['pooled_kappa']:.2f}, "
              f"precision {res['pooled_precision']:.3f}, recall {res['pooled_recall']:.3f}")


def casino(workspace: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same real path on CaSiNo (``tools/eval_casino.py``'s script, rubric and split):
    zero-shot and calibrated agreement on its ``test`` part, calibrated on its ``fit`` part."""
    sys.path.insert(0, str(ROOT / "tools"))
    import eval_casino

    work = workspace / "_input"
    work.mkdir(parents=True)
    script, rubric = eval_casino.write_configs(work)
    eval_casino.write_grades(work / "fit.csv", "fit")
    eval_casino.write_grades(work / "test.csv", "test")
    dialogues = str(eval_casino.DATA / "dialogues")
    qa("score", dialogues, "-s", str(script), "-r", str(rubric), "-w", str(workspace))
    before = agreement(workspace, work / "test.csv")
    said = qa("calibrate", str(work / "fit.csv"), "--fit", "-w", str(workspace))
    print("\n".join(line for line in said.splitlines() if "calibration profile" in line))
    qa("score", dialogues, "-s", str(script), "-r", str(rubric), "-w", str(workspace))
    return before, agreement(workspace, work / "test.csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, required=True, help="a fresh folder (emptied first)")
    ap.add_argument("--fit-parts", default="dev,calib")
    ap.add_argument("--measure-part", default="heldout")
    ap.add_argument("--noisy", action="store_true")
    ap.add_argument("--casino", action="store_true",
                    help="instead: the same path on CaSiNo (fit 100 dialogues, measure 200)")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--objection-settings", action="store_true",
                    help="calibrate with qa calibrate --fit --objection-settings")
    args = ap.parse_args()

    if args.casino:
        if args.workspace.exists():
            shutil.rmtree(args.workspace)
        before, after = casino(args.workspace)
        print_table(before, after)
        return
    calls = labels()
    fit_parts = set(args.fit_parts.split(","))
    fit_calls = {c: lab for c, lab in calls.items() if lab.get("part", "dev") in fit_parts}
    measure_calls = {c: lab for c, lab in calls.items() if lab.get("part", "dev") == args.measure_part}
    if args.workspace.exists():
        shutil.rmtree(args.workspace)
    args.workspace.mkdir(parents=True)
    work = args.workspace / "_input"
    groups = write_calls(work, {**fit_calls, **measure_calls}, args.noisy)
    n_fit = write_grades(work / "fit.csv", fit_calls)
    n_measure = write_grades(work / "measure.csv", measure_calls)
    print(f"{len(fit_calls)} graded calls to fit on ({n_fit} grades, parts {sorted(fit_parts)}), "
          f"{len(measure_calls)} to measure on ({n_measure} grades, part {args.measure_part})"
          f"{', noisy' if args.noisy else ''}", flush=True)

    score_all(groups, args.workspace)
    before = agreement(args.workspace, work / "measure.csv")
    before_fit = agreement(args.workspace, work / "fit.csv")
    said = qa("calibrate", str(work / "fit.csv"), "--fit", "-w", str(args.workspace),
              *(["--objection-settings"] if args.objection_settings else []))
    print("\n".join(line for line in said.splitlines() if "calibration profile" in line))
    applied = score_all(groups, args.workspace)
    print("\n".join(line for line in applied.splitlines() if "calibration" in line))
    after = agreement(args.workspace, work / "measure.csv")

    print_table(before, after, before_fit)
    if args.json:
        args.json.write_text(json.dumps({"before": before, "after": after, "fit_in_sample": before_fit},
                                        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
