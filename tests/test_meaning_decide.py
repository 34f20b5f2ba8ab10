"""The meaning layer's decision as whole-array operations decides as the per-item loop did.

:func:`reference` is the decision as it was written before issue 12's speed-up (a Python
loop per item, main at 6f10923), kept here as the specification. The vectorised
:func:`qa.meaning.best_items` and :class:`qa.meaning.MeaningMatcher` must give equal
:class:`~qa.meaning.MeaningHit` values on the cases that make a decision hard: ties between
items and between utterances, masks that leave an item nothing, one item, no utterance,
per-item thresholds. ``tests/test_meaning_golden.py`` checks the same on real calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest

from qa.meaning import MeaningHit, MeaningMatcher, MeaningOptions, best_items, item_similarities


def reference(
    ids: list[str],
    sims: np.ndarray,
    which: np.ndarray | Callable[[int, int], int],
    threshold: float | Mapping[str, float],
    margin: float,
    eligible: Mapping[str, Sequence[bool]] | None,
) -> dict[str, MeaningHit]:
    """The old ``qa.meaning._decide_items``, verbatim but for the error class."""
    n, m = sims.shape
    if eligible:
        for j, item in enumerate(ids):
            if item in eligible:
                mask = np.asarray(eligible[item], dtype=bool)
                assert mask.shape == (n,)
                sims[~mask, j] = -np.inf
    if n == 0:
        return {item: MeaningHit(item, False, None, 0.0, 0.0, None) for item in ids}
    if m > 1:
        top2 = np.partition(sims, m - 2, axis=1)[:, m - 2:] if m > 2 else np.sort(sims, axis=1)
        second, first = top2[:, 0], top2[:, 1]
        rival = np.where(sims >= first[:, None], second[:, None], first[:, None])
    else:
        rival = np.full((n, 1), -np.inf, dtype=sims.dtype)
    with np.errstate(invalid="ignore"):
        lead = np.where(np.isfinite(rival), sims - rival, np.inf)
    thr = np.asarray([float(threshold[i] if isinstance(threshold, Mapping) else threshold) for i in ids])
    finite = np.isfinite(sims)
    with np.errstate(invalid="ignore"):
        ahead = finite & (lead >= margin)
        ok = ahead & (sims >= thr[None, :])
    clear = np.where(ahead, sims, -np.inf).max(axis=0)
    any_finite = finite.any(axis=0)
    best_any = np.argmax(np.where(finite, sims, -np.inf), axis=0)
    out: dict[str, MeaningHit] = {}
    for j, item in enumerate(ids):
        if not any_finite[j]:
            out[item] = MeaningHit(item, False, None, 0.0, 0.0, None)
            continue
        hits = np.flatnonzero(ok[:, j])
        col = sims[:, j]
        best = int(hits[np.argmax(col[hits])]) if hits.size else int(best_any[j])
        ex = which(best, j) if callable(which) else int(which[best, j])
        out[item] = MeaningHit(
            item_id=item, found=bool(hits.size), utterance=best, similarity=float(col[best]),
            margin=float(lead[best, j]), example=ex, all_found=tuple(hits.tolist()),
            clear=float(clear[j]) if np.isfinite(clear[j]) else None,
        )
    return out


def reference_best_items(U, examples, threshold, margin, eligible=None):  # type: ignore[no-untyped-def]
    sims, which = item_similarities(U, examples)
    return reference(list(examples), sims, which, threshold, margin, eligible)


def reference_match(mm: MeaningMatcher, vecs: np.ndarray, eligible=None):  # type: ignore[no-untyped-def]
    """The old ``MeaningMatcher.match`` on vectors."""
    ids = list(mm.vectors)
    ex = np.concatenate(list(mm.vectors.values())).astype(np.float32)
    norms = np.linalg.norm(ex, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    examples = ex / norms
    sizes = [len(v) for v in mm.vectors.values()]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    thresholds = {k: mm.options.threshold_for(k) for k in ids}
    if len(vecs) == 0:
        return reference(ids, np.zeros((0, len(ids)), np.float32), np.zeros((0, len(ids)), np.int64),
                         thresholds, mm.options.lead, eligible)
    u = np.asarray(vecs, dtype=np.float32)
    un = np.linalg.norm(u, axis=1, keepdims=True)
    un[un == 0] = 1.0
    s = (u / un) @ examples.T
    sims = np.maximum.reduceat(s, offsets, axis=1)

    def which(row: int, j: int) -> int:
        return int(s[row, offsets[j]:offsets[j] + sizes[j]].argmax())

    return reference(ids, sims, which, thresholds, mm.options.lead, eligible)


def _case(rng: np.random.Generator, n: int, m: int, dim: int, coarse: bool):  # type: ignore[no-untyped-def]
    """Utterance vectors and per-item example vectors; ``coarse``: values on a grid of
    quarters, so equal similarities (ties) are common."""
    def draw(*shape: int) -> np.ndarray:
        x = rng.standard_normal(shape).astype(np.float32)
        return np.round(x * 2) / 4 if coarse else x

    U = draw(n, dim)
    if n > 2:
        U[1] = U[0]  # two utterances alike: ties between utterances
    examples = {f"i{j}": draw(int(rng.integers(1, 4)), dim) for j in range(m)}
    if m > 1:
        examples["i1"] = examples["i0"].copy()  # two items alike: ties between items
    return U, examples


def _masks(rng: np.random.Generator, ids: list[str], n: int):  # type: ignore[no-untyped-def]
    shared = (rng.random(n) < 0.6).tolist()
    out = {}
    for item in ids:
        r = rng.random()
        if r < 0.3:
            out[item] = shared  # the same list object for several items, as scoring passes
        elif r < 0.4:
            out[item] = [False] * n  # nothing eligible: not found, no evidence
        elif r < 0.6:
            out[item] = (rng.random(n) < 0.5).tolist()
        elif r < 0.8:
            out[item] = rng.random(n) < 0.5  # an array, as scoring passes for stages
    if ids and rng.random() < 0.3:
        return dict.fromkeys(ids, np.asarray(shared))  # one array for every item (triggers)
    return out


@pytest.mark.parametrize("seed", range(60))
def test_vectorised_decision_equals_the_per_item_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, dim = int(rng.integers(0, 12)), int(rng.integers(1, 7)), int(rng.integers(2, 6))
    coarse = seed % 2 == 0
    U, examples = _case(rng, n, m, dim, coarse)
    ids = list(examples)
    margin = float(rng.choice([0.0, 0.02, 0.1]))
    threshold: float | dict[str, float] = float(rng.choice([-0.2, 0.0, 0.3, 0.5]))
    if seed % 3 == 0:
        threshold = {i: float(rng.choice([0.0, 0.25, 0.5, 0.9])) for i in ids}
    eligible = _masks(rng, ids, n) if seed % 4 else None

    got = best_items(U, examples, threshold, margin, eligible)
    assert got == reference_best_items(U, examples, threshold, margin, eligible)

    opts = MeaningOptions(threshold=threshold if isinstance(threshold, float) else 0.4,
                          item_thresholds=threshold if isinstance(threshold, dict) else {},
                          margin=margin)
    mm = MeaningMatcher({k: [f"{k}/{e}" for e in range(len(v))] for k, v in examples.items()},
                        opts, enc=_Table(examples))
    assert mm.match(U, eligible) == reference_match(mm, U, eligible)
    # read-only vectors (as scoring hands them) are normalised once for several matchers
    R = U.copy()
    R.flags.writeable = False
    assert mm.match(R, eligible) == mm.match(R, eligible) == reference_match(mm, R, eligible)
    # a writable array may change in place between calls: never taken from the last call
    U[:] = U[::-1].copy()
    assert mm.match(U, eligible) == reference_match(mm, U, eligible)


def test_vectorised_decision_on_real_sized_calls() -> None:
    """A call's size (45 word windows, 8-40 items, 512 dimensions) at random: equal hits."""
    rng = np.random.default_rng(12)
    for m in (8, 15, 40):
        examples = {f"i{j}": rng.standard_normal((int(rng.integers(1, 8)), 512)).astype(np.float32)
                    for j in range(m)}
        mm = MeaningMatcher({k: [f"{k}/{e}" for e in range(len(v))] for k, v in examples.items()},
                            MeaningOptions(threshold=0.02, margin=0.005), enc=_Table(examples))
        for _ in range(20):
            U = rng.standard_normal((45, 512)).astype(np.float32)
            eligible = _masks(rng, list(examples), 45)
            got = mm.match(U, eligible)
            assert got == reference_match(mm, U, eligible)
            assert any(h.found for h in got.values())


class _Table:
    """An encoder that looks the example vectors up by their text (``<item>/<index>``)."""

    name = "table@1"

    def __init__(self, examples: Mapping[str, np.ndarray]):
        self.examples = examples
        self.dim = next(iter(examples.values())).shape[1]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self.examples[t.split("/")[0]][int(t.split("/")[1])] for t in texts]
        return np.stack(rows).astype(np.float32)
