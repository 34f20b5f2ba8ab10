#!/usr/bin/env python3
"""Measure the meaning layer on real, human-labelled dialogues (CaSiNo, CC BY 4.0).

CaSiNo (Chawla et al., NAACL 2021) holds 396 two-party negotiation chats whose every
utterance was labelled by humans with negotiation strategies. ``/work/shared/data/casino``
renders them as ``Manager:``/``Client:`` transcripts and maps five strategies to call-level
QA items (see its SOURCE.md): an item is present in a dialogue when any utterance of that
side carries the label.

The phrase lists below (:data:`ITEMS`) were written the way a QA specialist writes a script:
a few short example phrases per item, from the label *definitions* in the CaSiNo paper, not
mined from the dialogues. Nothing below tunes them.

Split (fixed, seed 12, over the sorted call ids): ``fit`` 100 calls (stands for "100 calls a
human graded"; calibration learns from it), ``dev`` 96 calls (the zero-shot defaults --
one threshold and margin per encoder -- are chosen here), ``test`` 200 calls (held out: only
measured, never tuned on). Noisy = every utterance through :func:`qa.meaning.noise.asr_noise`
(rate 0.15, seed 0); example phrases stay clean.

Methods, each per item and as macro F1 (mean over the five items of the F1 of "present"):

- ``fuzzy``: naive ``rapidfuzz.fuzz.partial_ratio(phrase, utterance) >= 80`` (lower case)
  over the same phrases;
- ``meaning``: :func:`qa.meaning.best_items`, default threshold and margin (zero-shot);
- ``fuzzy|meaning``: either fires (what scoring will do);
- ``cal-threshold``: fuzzy OR meaning with one meaning threshold per item fitted on ``fit``;
- ``cal-logistic``: a per-item logistic regression on [fuzzy best, meaning best, margin at
  the best, relative position of the best, share of the side's utterances over the default
  threshold], fitted on ``fit``.

Also ``qa score``: today's matcher over the same phrases, read back from a workspace.

Usage::

    python tools/eval_casino.py --write-configs /tmp/casino_cfg     # script, rubric, grades
    qa score /work/shared/data/casino/dialogues -s /tmp/casino_cfg/script.yaml \
        -r /tmp/casino_cfg/rubric.yaml -w /tmp/casino_ws
    python tools/eval_casino.py --encoder use --qa-workspace /tmp/casino_ws  # /tmp/h6_eval_use.json
    python tools/eval_casino.py --encoder e5 --cache /tmp/h6_vectors.sqlite
    qa calibrate /tmp/casino_cfg/test.csv -w /tmp/casino_ws --fit
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz  # noqa: E402

from qa.calibrate import cohen_kappa, fit_logistic, fit_threshold, prf  # noqa: E402
from qa.meaning import (  # noqa: E402
    DEFAULT_MARGINS,
    DEFAULT_THRESHOLDS,
    SqliteVectorCache,
    best_items,
    embed,
    encoder,
    item_similarities,
)
from qa.meaning.noise import asr_noise  # noqa: E402

DATA = Path("/work/shared/data/casino")
SEED = 12
NOISE_RATE = 0.15

#: item -> (side, example phrases). Written from the CaSiNo label definitions:
#: small-talk "discussing topics apart from the negotiation, to build rapport";
#: elicit-pref "an attempt to discover the preference order of the opponent";
#: showing-empathy "positive acknowledgement or empathy towards the partner's personal
#: context"; promote-coordination "language that works towards a mutually beneficial
#: solution"; uv-part "undervalues the partner's requirements / suggests they need less".
ITEMS: dict[str, tuple[str, list[str]]] = {
    "rapport_small_talk_by_manager": ("Manager", [
        "hello, how are you today?",
        "hi there, nice to meet you",
        "are you excited for the camping trip?",
        "I hope you have a great time",
        "have a nice day",
        "good luck and enjoy your trip",
    ]),
    "needs_question_by_manager": ("Manager", [
        "what do you need the most?",
        "which item is most important to you?",
        "what are you looking for?",
        "what is your priority?",
        "what item do you care the most about?",
        "what do you need least?",
    ]),
    "empathy_by_manager": ("Manager", [
        "I understand how you feel",
        "I'm sorry to hear that",
        "that sounds really hard",
        "I completely understand your situation",
        "oh no, I hope they are okay",
        "oh I wouldn't want for you to freeze",
    ]),
    "offer_coordination_by_manager": ("Manager", [
        "let's find a deal that works for both of us",
        "how about we split it evenly?",
        "let's work together on a fair compromise",
        "I think we can both be happy with this",
        "would you be willing to meet me halfway?",
        "let's try to make a deal that benefits us both!",
    ]),
    "client_objection_uv_part": ("Client", [
        "you don't really need that much",
        "you can find water at the lake",
        "you can just collect firewood there",
        "surely you don't need more than me",
        "there should be plenty around the campsite",
        "do you have help carrying all that extra firewood? could be heavy?",
    ]),
}


@dataclass
class Call:
    call_id: str
    roles: list[str]
    texts: list[str]
    labels: dict[str, bool]


def load_calls(root: Path = DATA) -> list[Call]:
    labels = json.loads((root / "labels.json").read_text(encoding="utf-8"))
    calls = []
    for cid in sorted(labels):
        roles, texts = [], []
        for line in (root / "dialogues" / f"{cid}.txt").read_text(encoding="utf-8").splitlines():
            if ": " in line:
                r, t = line.split(": ", 1)
                roles.append(r)
                texts.append(t)
        calls.append(Call(cid, roles, texts, {k: bool(v) for k, v in labels[cid].items()}))
    return calls


def split(calls: Sequence[Call]) -> dict[str, list[Call]]:
    order = list(calls)
    random.Random(SEED).shuffle(order)
    return {"fit": order[:100], "dev": order[100:196], "test": order[196:]}


def fuzzy_best(phrases: Sequence[str], texts: Sequence[str]) -> tuple[float, int]:
    """Best partial_ratio over phrases x texts and the index of that text (-1: none)."""
    best, at = 0.0, -1
    for i, t in enumerate(texts):
        t = t.lower()
        for p in phrases:
            s = fuzz.partial_ratio(p.lower(), t)
            if s > best:
                best, at = s, i
    return best, at


def features(calls: Sequence[Call], enc, cache, noisy: bool, margin: float) -> dict:
    """Per call and item: fuzzy best, meaning best over utterances whose lead >= margin,
    margin at the meaning best, relative position, and the share of the side's utterances
    over the default threshold."""
    items = list(ITEMS)
    ex = {k: embed(ITEMS[k][1], enc, cache) for k in items}
    out: dict[str, dict[str, list[float]]] = {}
    thr0 = DEFAULT_THRESHOLDS[key_of(enc)]
    for c in calls:
        texts = [asr_noise(t, NOISE_RATE, 0) if noisy else t for t in c.texts]
        vecs = embed(texts, enc, cache)
        out[c.call_id] = {}
        for side in ("Manager", "Client"):
            side_items = [k for k in items if ITEMS[k][0] == side]
            mask = np.array([r == side for r in c.roles])
            sims, _ = item_similarities(vecs[mask], {k: ex[k] for k in side_items})
            side_texts = [t for t, m in zip(texts, mask) if m]
            n = len(side_texts)
            for j, k in enumerate(side_items):
                col = sims[:, j]
                others = np.delete(sims, j, axis=1)
                lead = col - others.max(axis=1) if others.shape[1] else np.full(n, np.inf)
                ok = lead >= margin
                mbest = float(col[ok].max()) if ok.any() else -1.0
                at = int(np.flatnonzero(ok)[np.argmax(col[ok])]) if ok.any() else 0
                fz, _ = fuzzy_best(ITEMS[k][1], side_texts)
                out[c.call_id][k] = [
                    fz / 100.0, mbest, float(min(lead[at], 1.0)) if n else 0.0,
                    at / max(n - 1, 1), float(((col >= thr0) & ok).mean()) if n else 0.0,
                ]
    return out


def key_of(enc) -> str:
    return "e5" if enc.name.startswith("e5") else "use"


def zero_shot(calls, enc, cache, noisy, threshold, margin) -> dict[str, dict[str, bool]]:
    """Decisions from the real API: best_items per side, per call."""
    ex = {k: embed(ITEMS[k][1], enc, cache) for k in ITEMS}
    out = {}
    for c in calls:
        texts = [asr_noise(t, NOISE_RATE, 0) if noisy else t for t in c.texts]
        vecs = embed(texts, enc, cache)
        eligible = {k: [r == ITEMS[k][0] for r in c.roles] for k in ITEMS}
        # the two sides never compete: decide each side's items on their own
        hits = {}
        for side in ("Manager", "Client"):
            side_ex = {k: v for k, v in ex.items() if ITEMS[k][0] == side}
            hits.update(best_items(vecs, side_ex, threshold, margin,
                                   {k: eligible[k] for k in side_ex}))
        out[c.call_id] = {k: h.found for k, h in hits.items()}
    return out


def scores(truth: dict[str, list[bool]], pred: dict[str, list[bool]]) -> dict:
    per = {}
    for k in ITEMS:
        p, r, f = prf(truth[k], pred[k])
        agree = float(np.mean(np.array(truth[k]) == np.array(pred[k])))
        f_no = prf([not x for x in truth[k]], [not x for x in pred[k]])[2]
        per[k] = {"precision": p, "recall": r, "f1": f, "f1_2class": (f + f_no) / 2,
                  "kappa": cohen_kappa(truth[k], pred[k]), "agreement": agree}
    macro = float(np.mean([v["f1_2class"] for v in per.values()]))
    kmin = float(min(v["kappa"] for v in per.values()))
    return {"macro_f1": macro, "macro_f1_yes": float(np.mean([v["f1"] for v in per.values()])), "min_kappa": kmin,
            "mean_kappa": float(np.mean([v["kappa"] for v in per.values()])), "items": per}


def qa_score_decisions(workspace: str) -> dict[str, dict[str, bool]]:
    """Today's ``qa score`` (the fuzzy matcher in qa.matching) over the same phrases, read
    back from a workspace scored with :func:`write_configs`' script and rubric."""
    from qa.calibrate import tool_decisions
    from qa.store import Workspace

    d = tool_decisions(Workspace(workspace, create=False)).decisions
    out: dict[str, dict[str, bool]] = {}
    for cid, q, v in zip(d["call_id"], d["question"], d["tool"]):
        if q in ITEMS:
            out.setdefault(cid, {})[q] = bool(v)
    return out


def write_configs(folder: Path) -> tuple[Path, Path]:
    """ITEMS as a script (4 manager stages) and a rubric (the client objection), for
    ``qa score``."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    st = [{"id": k, "weight": 10, "phrases": v[1]} for k, v in ITEMS.items() if v[0] == "Manager"]
    ob = [{"id": k, "triggers": v[1],
           "steps": [{"id": "answer", "weight": 1, "phrases": ["i understand"]}]}
          for k, v in ITEMS.items() if v[0] == "Client"]
    s, r = folder / "script.yaml", folder / "rubric.yaml"
    s.write_text(yaml.safe_dump({"name": "CaSiNo strategies", "language": "en", "stages": st},
                                sort_keys=False), encoding="utf-8")
    r.write_text(yaml.safe_dump({"name": "CaSiNo objections", "language": "en", "objections": ob},
                                sort_keys=False), encoding="utf-8")
    return s, r


def write_grades(path: Path, part: str = "fit") -> int:
    """The human labels of one split part as a ``qa calibrate`` grades CSV."""
    calls = split(load_calls())[part]
    lines = ["call_id,item_id,value,grader"]
    for c in calls:
        lines += [f"{c.call_id},{k},{'yes' if v else 'no'},casino" for k, v in c.labels.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(calls)


def run(enc_name: str, cache_path: str, margin: float | None,
        qa_workspace: str | None = None) -> dict:
    enc = encoder(enc_name)
    cache = SqliteVectorCache(cache_path)
    calls = load_calls()
    parts = split(calls)
    margin = DEFAULT_MARGINS[enc_name] if margin is None else margin
    result: dict = {"encoder": enc.name, "margin": margin, "noise_rate": NOISE_RATE,
                    "split": {k: len(v) for k, v in parts.items()}}
    t0 = time.perf_counter()
    for noisy in (False, True):
        cond = "noisy" if noisy else "clean"
        feats = {p: features(parts[p], enc, cache, noisy, margin) for p in parts}
        # zero-shot threshold: one global value chosen on dev (never test)
        dev_truth = {k: [c.labels[k] for c in parts["dev"]] for k in ITEMS}
        grid = np.round(np.arange(0.20, 0.96, 0.01), 2)
        dev_f1 = []
        for t in grid:
            pred = {k: [feats["dev"][c.call_id][k][1] >= t for c in parts["dev"]] for k in ITEMS}
            dev_f1.append(scores(dev_truth, pred)["macro_f1"])
        result.setdefault("dev_best_threshold", {})[cond] = float(grid[int(np.argmax(dev_f1))])
        thr = DEFAULT_THRESHOLDS[key_of(enc)]
        test = parts["test"]
        truth = {k: [c.labels[k] for c in test] for k in ITEMS}
        f = feats["test"]
        fz = {k: [f[c.call_id][k][0] >= 0.80 for c in test] for k in ITEMS}
        zs = zero_shot(test, enc, cache, noisy, thr, margin)
        mn = {k: [zs[c.call_id][k] for c in test] for k in ITEMS}
        both = {k: [a or b for a, b in zip(fz[k], mn[k])] for k in ITEMS}
        # calibrated on fit (100 calls)
        fit = parts["fit"]
        cal_t, cal_l = {}, {}
        for k in ITEMS:
            y = [c.labels[k] for c in fit]
            X = np.array([feats["fit"][c.call_id][k] for c in fit])
            Xt = np.array([f[c.call_id][k] for c in test])
            # meaning threshold given fuzzy: fuzzy hits are found either way
            score_fit = np.where(X[:, 0] >= 0.80, 2.0, X[:, 1])
            t_k = fit_threshold(score_fit, y)
            cal_t[k] = [bool(v) for v in (np.where(Xt[:, 0] >= 0.80, 2.0, Xt[:, 1]) >= t_k)]
            model = fit_logistic(X, y)
            cal_l[k] = [bool(v) for v in model.predict(Xt)]
        yes = {k: [True] * len(test) for k in ITEMS}
        result[cond] = {"always-yes": scores(truth, yes)}
        if qa_workspace and not noisy:
            qs = qa_score_decisions(qa_workspace)
            result[cond]["qa score"] = scores(
                truth, {k: [qs[c.call_id][k] for c in test] for k in ITEMS})
        result[cond] |= {
            "fuzzy": scores(truth, fz), "meaning": scores(truth, mn),
            "fuzzy|meaning": scores(truth, both), "cal-threshold": scores(truth, cal_t),
            "cal-logistic": scores(truth, cal_l),
        }
    result["seconds"] = time.perf_counter() - t0
    cache.close()
    return result


def table(res: dict) -> str:
    rows = ["| method | clean macro F1 | clean F1 (yes) | clean mean kappa | noisy macro F1 "
            "| noisy F1 (yes) | noisy mean kappa |", "|---|---|---|---|---|---|---|"]
    for m in res["clean"]:
        c = res["clean"][m]
        n = res["noisy"].get(m)
        noisy = (f"{n['macro_f1']:.3f} | {n['macro_f1_yes']:.3f} | {n['mean_kappa']:.2f}"
                 if n else "- | - | -")
        rows.append(f"| {m} | {c['macro_f1']:.3f} | {c['macro_f1_yes']:.3f} | {c['mean_kappa']:.2f} "
                    f"| {noisy} |")
    rows.append("")
    rows.append("| item (clean: F1 yes / kappa) | " + " | ".join(res["clean"]) + " |")
    rows.append("|---" * (len(res["clean"]) + 1) + "|")
    for k in ITEMS:
        rows.append(f"| {k} | " + " | ".join(
            f"{res['clean'][m]['items'][k]['f1']:.2f} / {res['clean'][m]['items'][k]['kappa']:.2f}"
            for m in res["clean"]) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoder", default="use", choices=["use", "e5"])
    ap.add_argument("--cache", default="/tmp/h6_vectors.sqlite")
    ap.add_argument("--margin", type=float, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--qa-workspace", default=None,
                    help="a workspace scored by 'qa score' with --write-configs' files: adds a "
                    "'qa score' row (clean only)")
    ap.add_argument("--write-configs", default=None, metavar="DIR",
                    help="write script.yaml and rubric.yaml for 'qa score' and fit.csv / "
                    "test.csv grades for 'qa calibrate' into DIR, then stop")
    a = ap.parse_args()
    if a.write_configs:
        d = Path(a.write_configs)
        print(*write_configs(d), sep="\n")
        for part in ("fit", "test"):
            print(d / f"{part}.csv", write_grades(d / f"{part}.csv", part), "calls")
        return
    res = run(a.encoder, a.cache, a.margin, a.qa_workspace)
    out = Path(a.out or f"/tmp/h6_eval_{a.encoder}.json")
    out.write_text(json.dumps(res, indent=1), encoding="utf-8")
    print(f"encoder {res['encoder']}; split {res['split']}; margin {res['margin']}; "
          f"dev-best zero-shot thresholds {res['dev_best_threshold']}; {res['seconds']:.0f}s")
    print(table(res))


if __name__ == "__main__":
    main()
