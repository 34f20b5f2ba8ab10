"""The meaning layer: is an utterance *saying* one of an item's examples, in other words?

Beside the fuzzy layer (:mod:`qa.matching`, same words with small slips), this layer embeds
every utterance and every example phrase of an item (stage phrases, objection triggers,
handling steps) with an offline multilingual sentence encoder (:mod:`.encoders`) and compares
them by cosine similarity. Each distinct text is embedded once per model and kept in a
pluggable :class:`~.cache.VectorCache`.

The rule (:func:`best_items`): an item is found in an utterance when the utterance's
similarity to the item's closest example is at least ``threshold`` AND beats every other
competing item's similarity on that utterance by at least ``margin``. The overall verdict
(:func:`decide`) is fuzzy OR meaning; the evidence says which layer fired and how similar.

Integration from scoring is one object and one call per transcript::

    from qa.meaning import MeaningMatcher, MeaningOptions, decide
    mm = MeaningMatcher({"greeting": ["hello", "good afternoon"], ...}, MeaningOptions())
    hits = mm.match([u.text for u in utterances], eligible={"greeting": is_manager_mask})
    verdict = decide(fuzzy_found, fuzzy_similarity, hits["greeting"])

It hands on :class:`MeaningHit` values (utterance index, similarity, margin, example).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .cache import MemoryVectorCache, SqliteVectorCache, VectorCache, text_key
from .encoders import DEFAULT_ENCODER, ENCODERS, Encoder, MeaningError, available, encoder

__all__ = [
    "DEFAULT_ENCODER", "DEFAULT_MARGIN", "DEFAULT_MARGINS", "DEFAULT_THRESHOLDS", "ENCODERS", "Encoder",
    "MeaningError", "MeaningHit", "MeaningMatcher", "MeaningOptions", "MemoryVectorCache",
    "SqliteVectorCache", "VectorCache", "Verdict", "available", "best_items", "cosine", "decide", "embed",
    "encoder", "item_similarities", "one_thread", "text_key", "windows",
]

#: Zero-shot similarity thresholds per encoder, chosen on the CaSiNo development split
#: (never on its held-out test split; see docs/meaning.md). Cosine scales differ per model.
DEFAULT_THRESHOLDS: dict[str, float] = {"use": 0.35, "e5": 0.86}
#: How far an item must beat every competing item on the same utterance, per encoder (e5's
#: cosines crowd into 0.8-0.95, so any fixed lead would be a large one for it).
DEFAULT_MARGINS: dict[str, float] = {"use": 0.02, "e5": 0.0}
DEFAULT_MARGIN = DEFAULT_MARGINS["use"]


@dataclass(frozen=True)
class MeaningOptions:
    """How the meaning layer decides. ``None`` fields take the encoder's default."""

    #: ``use`` (default) or ``e5``; see :mod:`qa.meaning.encoders`.
    encoder: str = DEFAULT_ENCODER
    #: Similarity an utterance needs to an item's closest example (None: per-encoder default).
    threshold: float | None = None
    #: Per-item thresholds (e.g. learned by ``qa calibrate --fit``); override ``threshold``.
    item_thresholds: Mapping[str, float] = field(default_factory=dict)
    #: A script's thresholds per kind of item (``stage``, ``trigger``, ``step``: e.g. learned
    #: by ``qa calibrate --fit``), in place of :data:`qa.meaning.items.KIND_THRESHOLDS`;
    #: ``threshold`` and ``item_thresholds`` still win.
    kind_thresholds: Mapping[str, float] = field(default_factory=dict)
    #: Lead over the best competing item on the same utterance (None: per-encoder default).
    margin: float | None = None
    #: A script's *tentative* objection raises: a client window this similar to an
    #: objection's examples (ahead of its rivals, under the trigger threshold) raises it when
    #: the manager's answer bears it out (:class:`qa.scoring.ScoringOptions.tentative_share`).
    #: A trigger with a threshold of its own in ``item_thresholds`` keeps it. None or 1.0:
    #: none (the default: zero-shot, they cost more precision on calls nobody tuned on than
    #: they gave recall, docs/meaning.md "Fourth pass"; a calibration profile may set it).
    tentative: float | None = None

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise MeaningError(
                f"unknown meaning encoder {self.encoder!r}; choose one of: {', '.join(ENCODERS)}")
        for name, t in [("threshold", self.threshold), ("tentative", self.tentative),
                        *self.item_thresholds.items(), *self.kind_thresholds.items()]:
            if t is not None and not -1.0 <= t <= 1.0:
                raise MeaningError(f"meaning threshold {name!r} must be in [-1, 1], got {t}")
        if self.margin is not None and not 0.0 <= self.margin < 2.0:
            raise MeaningError(f"meaning margin must be in [0, 2), got {self.margin}")

    def threshold_for(self, item_id: str) -> float:
        if item_id in self.item_thresholds:
            return float(self.item_thresholds[item_id])
        if self.threshold is not None:
            return float(self.threshold)
        return DEFAULT_THRESHOLDS[self.encoder]

    @property
    def lead(self) -> float:
        """The margin in force: ``margin`` or the encoder's default."""
        return DEFAULT_MARGINS[self.encoder] if self.margin is None else float(self.margin)


@dataclass(frozen=True)
class MeaningHit:
    """The meaning layer's evidence for one item in one transcript.

    ``utterance`` is the index of the best qualifying utterance when ``found``, else of the
    most similar one (None when no utterance was eligible). ``margin`` is the lead over the
    best competing item on that utterance (``inf`` when nothing competes). ``all_found``
    lists every qualifying utterance, in order (for "said first" checks). ``clear`` is the
    best similarity among the eligible utterances that beat their rivals by the margin,
    whatever the threshold (None when none does): the item is found at threshold ``t``
    exactly when ``clear >= t``, which is what calibration learns its cuts from.
    """

    item_id: str
    found: bool
    utterance: int | None
    similarity: float
    margin: float
    example: int | None
    all_found: tuple[int, ...] = ()
    clear: float | None = None


@dataclass(frozen=True)
class Verdict:
    """Fuzzy OR meaning: which layer fired (``fuzzy`` first) and its similarity (0-1)."""

    found: bool
    layer: str | None
    similarity: float | None


def embed(texts: Sequence[str], enc: Encoder, cache: VectorCache | None = None) -> np.ndarray:
    """Vectors for ``texts`` (rows in order), embedding each distinct uncached text once."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, enc.dim), dtype=np.float32)
    keys = [text_key(t) for t in texts]
    have = cache.get_many(enc.name, keys) if cache is not None else {}
    todo = {k: t for k, t in zip(keys, texts) if k not in have}
    if todo:
        new = enc.encode(list(todo.values()))
        fresh = dict(zip(todo.keys(), new))
        if cache is not None:
            cache.put_many(enc.name, fresh)
        have = {**have, **fresh}
    # rows copied into one array made once (np.stack makes a 2-D view of every row first)
    out = np.empty((len(keys), np.size(have[keys[0]])), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = have[k]
    return out


_CONTROLLER: Any = None
_BLAS: Any = None


def one_thread() -> AbstractContextManager[Any]:
    """Keep numpy's BLAS to one thread inside (the per-call products are small: threads
    only add waiting, 5-10x on a busy machine). A no-op without ``threadpoolctl``, and when
    every BLAS is at one thread already (a worker started with ``OPENBLAS_NUM_THREADS=1``):
    asking how many threads is cheap, setting and restoring them on every call is not."""
    global _CONTROLLER, _BLAS
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - part of the meaning extra
        return nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
        _BLAS = _CONTROLLER.select(user_api="blas").lib_controllers
    if all(lib.num_threads == 1 for lib in _BLAS):
        return nullcontext()
    return cast(AbstractContextManager[Any], _CONTROLLER.limit(limits=1, user_api="blas"))


#: Windows of an utterance the meaning layer embeds (:func:`windows`): words per window and
#: step. A key phrase is short; embedded with a whole long turn, its meaning drowns.
WINDOW_WORDS = 8
WINDOW_STEP = 4


def windows(
    texts: Sequence[str], size: int = WINDOW_WORDS, step: int = WINDOW_STEP
) -> tuple[list[str], list[int]]:
    """Each text as overlapping word windows: ``(window texts, index of the text each came
    from)``. A text of at most ``size`` words is one window; every text has at least one."""
    out: list[str] = []
    owner: list[int] = []
    for i, t in enumerate(texts):
        words = str(t).split()
        if len(words) <= size:
            out.append(" ".join(words))
            owner.append(i)
            continue
        starts = list(range(0, len(words) - size + 1, step))
        if starts[-1] + size < len(words):
            starts.append(len(words) - size)
        for s in starts:
            out.append(" ".join(words[s:s + size]))
            owner.append(i)
    return out, owner


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``(len(a), len(b))``."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float32))
    b = np.atleast_2d(np.asarray(b, dtype=np.float32))
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    na[na == 0] = 1.0
    nb[nb == 0] = 1.0
    return np.asarray((a / na) @ (b / nb).T)


def item_similarities(
    utterance_vectors: np.ndarray, item_example_vectors: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per utterance and item: similarity to the item's closest example and that example.

    Returns ``(sims, examples)``, both ``(n_utterances, n_items)`` in the mapping's order.
    """
    n = len(utterance_vectors)
    sims = np.full((n, len(item_example_vectors)), -np.inf, dtype=np.float32)
    which = np.zeros((n, len(item_example_vectors)), dtype=np.int64)
    for j, ex in enumerate(item_example_vectors.values()):
        if n and len(ex):
            s = cosine(utterance_vectors, ex)
            sims[:, j] = s.max(axis=1)
            which[:, j] = s.argmax(axis=1)
    return sims, which


def best_items(
    utterance_vectors: np.ndarray,
    item_example_vectors: Mapping[str, np.ndarray],
    threshold: float | Mapping[str, float],
    margin: float = DEFAULT_MARGIN,
    eligible: Mapping[str, Sequence[bool]] | None = None,
) -> dict[str, MeaningHit]:
    """Decide every item on one transcript (see the module docstring for the rule).

    ``threshold`` is one number or one per item. ``eligible[item]`` masks the utterances an
    item may be found in (its role, its time window); an ineligible utterance neither finds
    the item nor lets it compete with the others there.
    """
    ids = list(item_example_vectors)
    sims, which = item_similarities(utterance_vectors, item_example_vectors)
    return _decide_items(ids, sims, lambda best: which[best, np.arange(len(ids))],
                         _threshold_row(ids, threshold), margin, eligible)


def _threshold_row(ids: Sequence[str], threshold: float | Mapping[str, float]) -> np.ndarray:
    """Each item's threshold, in item order (float64: the thresholds are compared as given)."""
    return np.asarray([float(threshold[i] if isinstance(threshold, Mapping) else threshold) for i in ids])


def _decide_items(
    ids: list[str],
    sims: np.ndarray,
    examples_at: Callable[[np.ndarray], np.ndarray],
    thresholds: np.ndarray,
    margin: float,
    eligible: Mapping[str, Sequence[bool]] | None,
) -> dict[str, MeaningHit]:
    """The rule of :func:`best_items` on a ``(utterances, items)`` similarity matrix, as whole
    array operations (one pass for all items, not a loop per item): mask what is not
    eligible, find each utterance's rival, qualify, pick each item's utterance, hand on.
    ``examples_at(best)``: the closest example of item ``j`` in utterance ``best[j]``."""
    n, m = sims.shape
    sims = _masked(ids, sims, eligible)
    if n == 0:
        return {item: MeaningHit(item, False, None, 0.0, 0.0, None) for item in ids}
    finite = np.isfinite(sims)
    with np.errstate(invalid="ignore"):  # -inf - -inf where an item is not eligible
        lead = _leads(sims)
        ahead = finite & (lead >= margin)
        ok = ahead & (sims >= thresholds[None, :])
    clear = np.where(ahead, sims, -np.inf).max(axis=0)
    any_finite = finite.any(axis=0)
    found = ok.any(axis=0)
    # the best qualifying utterance (argmax: the first of equals), else the most similar one
    best = np.where(found, np.argmax(np.where(ok, sims, -np.inf), axis=0),
                    np.argmax(np.where(finite, sims, -np.inf), axis=0))
    columns = np.arange(m)
    return _hits(ids, any_finite, found, best, sims[best, columns], lead[best, columns],
                 examples_at(best), clear, ok)


def _masked(ids: list[str], sims: np.ndarray, eligible: Mapping[str, Sequence[bool]] | None) -> np.ndarray:
    """``sims`` with the utterances an item may not be found in at ``-inf`` (in place), in one
    step for all items. Items often share one mask (every trigger: the client's turns; an
    objection's steps: its answer window); it is read once."""
    if not eligible:
        return sims
    n = sims.shape[0]
    given = [eligible.get(item) for item in ids]
    read: dict[int, np.ndarray] = {}
    for item, g in zip(ids, given):
        if g is not None and id(g) not in read:
            mask = read[id(g)] = np.asarray(g, dtype=bool)
            if mask.shape != (n,):
                raise MeaningError(f"eligible[{item!r}] has {mask.size} entries for {n} utterances")
    if len(read) == 1 and all(g is not None for g in given):  # one mask for every item: rows
        sims[~next(iter(read.values()))] = -np.inf
        return sims
    allowed = np.ones((len(ids), n), dtype=bool)  # item by item (rows copy fastest)
    for j, g in enumerate(given):
        if g is not None:
            allowed[j] = read[id(g)]
    sims[~allowed.T] = -np.inf
    return sims


def _leads(sims: np.ndarray) -> np.ndarray:
    """Per utterance and item: the lead over the best competitor there (the best item, or the
    second best where the item is the best itself); ``inf`` where nothing competes. Call it
    inside ``np.errstate(invalid="ignore")``: an ineligible item's lead is ``-inf - -inf``."""
    n, m = sims.shape
    if m > 1:
        top2 = np.partition(sims, m - 2, axis=1)[:, m - 2:] if m > 2 else np.sort(sims, axis=1)
        second, first = top2[:, 0], top2[:, 1]
        rival = np.where(sims >= first[:, None], second[:, None], first[:, None])
    else:
        rival = np.full((n, 1), -np.inf, dtype=sims.dtype)
    return np.where(np.isfinite(rival), sims - rival, np.inf)


def _hits(
    ids: list[str], any_finite: np.ndarray, found: np.ndarray, best: np.ndarray,
    similarity: np.ndarray, lead: np.ndarray, example: np.ndarray, clear: np.ndarray, ok: np.ndarray,
) -> dict[str, MeaningHit]:
    """One :class:`MeaningHit` per item from the decided columns (Python values made once,
    by ``tolist``, not per item)."""
    items, rows = np.nonzero(ok.T)  # every qualifying utterance, item by item, in order
    cuts = np.searchsorted(items, np.arange(len(ids) + 1)).tolist()
    rows_ = rows.tolist()
    out: dict[str, MeaningHit] = {}
    for j, (item, eligible, yes, u, s, d, ex, c) in enumerate(zip(
        ids, any_finite.tolist(), found.tolist(), best.tolist(), similarity.tolist(),
        lead.tolist(), example.tolist(), clear.tolist(),
    )):
        if not eligible:
            out[item] = MeaningHit(item, False, None, 0.0, 0.0, None)
            continue
        # item_id, found, utterance, similarity, margin, example, all_found, clear
        out[item] = MeaningHit(item, yes, u, s, d, ex, tuple(rows_[cuts[j]:cuts[j + 1]]),
                               c if math.isfinite(c) else None)
    return out


def _unit_rows(vectors: Any) -> np.ndarray:
    """Rows scaled to length 1 (float32; a zero row stays zero)."""
    u = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return u / norms


#: The last read-only vectors :func:`_unit_rows_once` normalised, and the result: a
#: transcript's vectors go to the stage, trigger and step matchers in turn.
_LAST_UNIT: tuple[np.ndarray, np.ndarray] | None = None


def _unit_rows_once(vectors: np.ndarray) -> np.ndarray:
    """:func:`_unit_rows`, remembered for the last read-only array (what
    :meth:`qa.meaning.items.ScriptMatchers.embed` hands scoring), so a transcript's vectors
    are normalised once, not once per matcher. A writable array could change in place
    between two calls, so it is normalised every time."""
    global _LAST_UNIT
    if vectors.flags.writeable:
        return _unit_rows(vectors)
    last = _LAST_UNIT
    if last is not None and last[0] is vectors:
        return last[1]
    unit = _unit_rows(vectors)
    _LAST_UNIT = (vectors, unit)
    return unit


class MeaningMatcher:
    """An item set embedded once; :meth:`match` decides it on transcript after transcript."""

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]],
        options: MeaningOptions | None = None,
        *,
        cache: VectorCache | None = None,
        enc: Encoder | None = None,
    ):
        self.options = options or MeaningOptions()
        self.encoder = enc or encoder(self.options.encoder)
        self.cache: VectorCache = cache if cache is not None else MemoryVectorCache()
        self.examples = {k: list(v) for k, v in examples.items()}
        empty = [k for k, v in self.examples.items() if not v]
        if empty:
            raise MeaningError(f"item(s) without example phrases: {', '.join(empty)}")
        self.vectors = {k: embed(v, self.encoder, self.cache) for k, v in self.examples.items()}
        # what every transcript needs, made once: all examples in one normalised matrix (one
        # product per transcript), where each item's examples start, which item each column
        # is, and the thresholds in item order
        self._ids = list(self.vectors)
        self._examples = _unit_rows(np.concatenate(list(self.vectors.values())))
        sizes = [len(v) for v in self.vectors.values()]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._sizes = np.asarray(sizes)
        self._item_of_column = np.repeat(np.arange(len(sizes)), sizes)
        self._column = np.arange(len(self._item_of_column))
        self._thresholds = {k: self.options.threshold_for(k) for k in self.vectors}
        self._threshold_row = _threshold_row(self._ids, self._thresholds)
        # the items a tentative cap leaves alone: those with a threshold of their own
        self._own_threshold = np.asarray([k in self.options.item_thresholds for k in self._ids], dtype=bool)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed(texts, self.encoder, self.cache)

    def match(
        self,
        utterances: Sequence[str] | np.ndarray,
        eligible: Mapping[str, Sequence[bool]] | None = None,
    ) -> dict[str, MeaningHit]:
        """Decide every item on one transcript (texts, or their vectors from :meth:`embed`;
        the same vectors given to several matchers are normalised once)."""
        return self.match_at(utterances, eligible)[0]

    def match_at(
        self,
        utterances: Sequence[str] | np.ndarray,
        eligible: Mapping[str, Sequence[bool]] | None = None,
        *caps: float,
    ) -> list[dict[str, MeaningHit]]:
        """:meth:`match`, then the same decision again with the threshold of every item
        capped at each of ``caps`` (a lower, tentative bar), from one similarity product: the
        first dict is :meth:`match`'s, then one per cap. An item with a threshold of its own
        (``options.item_thresholds``: a calibration profile's) keeps it under every cap."""
        vecs = (utterances if isinstance(utterances, np.ndarray)
                else self.embed([str(u) for u in utterances]))
        rows = [self._threshold_row, *(np.where(self._own_threshold, self._threshold_row,
                                                 np.minimum(self._threshold_row, c)) for c in caps)]
        m = len(self._ids)
        if len(vecs) == 0:
            return [_decide_items(self._ids, np.zeros((0, m), np.float32), lambda best: best,
                                  r, self.options.lead, eligible) for r in rows]
        s = _unit_rows_once(vecs) @ self._examples.T
        sims = np.maximum.reduceat(s, self._offsets, axis=1)

        def examples_at(best: np.ndarray) -> np.ndarray:
            # per item, argmax over its own columns of the chosen utterance's row (the first
            # of equals, as argmax): the lowest column that reaches the item's maximum
            row = s[best[self._item_of_column], self._column]
            top = np.maximum.reduceat(row, self._offsets)[self._item_of_column]
            at = np.where(row == top, self._column, len(self._column))
            return np.minimum.reduceat(at, self._offsets) - self._offsets

        # (_decide_items masks ``sims`` in place, the same way each time: the copies agree)
        return [_decide_items(self._ids, sims, examples_at, r, self.options.lead, eligible) for r in rows]

    def example_text(self, hit: MeaningHit) -> str | None:
        """The example phrase a hit was closest to (for the evidence)."""
        return None if hit.example is None else self.examples[hit.item_id][hit.example]


def decide(fuzzy_found: bool, fuzzy_similarity: float | None, hit: MeaningHit | None) -> Verdict:
    """Fuzzy OR meaning. Fuzzy wins when both fire (exact words are the stronger evidence);
    ``fuzzy_similarity`` is on rapidfuzz's 0-100 scale or 0-1 and comes back as 0-1."""
    if fuzzy_found:
        s = None if fuzzy_similarity is None else float(fuzzy_similarity)
        return Verdict(True, "fuzzy", s / 100 if s is not None and s > 1 else s)
    if hit is not None and hit.found:
        return Verdict(True, "meaning", hit.similarity)
    return Verdict(False, None, None)
