"""Which scores a view reads: the one rule, used by every view of the workspace.

A score belongs to one (script_hash, rubric_hash) :class:`Version`. By default a view reads,
for each script file (``real_estate_inbound`` in ``real_estate_inbound.ru.yaml``) and
language, the version most recently scored with: translations of a script and different
scripts (inbound and cold calls) count together, while an edit of a file supersedes its
older versions. Calls scored only under superseded versions are kept apart (the views
report them in notes). Within the chosen versions each call counts once: its latest score.
``version=`` picks other versions by hash prefix (``SCRIPT[:RUBRIC]``, comma-separated).

:func:`resolve_versions` applies the rule; a :class:`Scope` (versions and period) writes the
SQL ``FROM ... WHERE`` that every reader appends its columns and conditions to. The
scorecards, coaching, mining, clips and the HTML report all read through a scope, so a day
page, a manager page, a scorecard, the leaderboard, the miner and the clip library count
the same calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, QAError
from .store import Workspace, day_range

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qa")

__all__ = [
    "Scope",
    "Version",
    "parse_day",
    "period_bounds",
    "resolve_versions",
    "script_family",
    "versions",
]


def parse_day(value: str | date | None, what: str = "date") -> str | None:
    """``"2024-05-01"`` / a ``date`` -> ``"2024-05-01"``; raises :class:`QAError` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise QAError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-05-01") from None


def _period_bounds(date_from: str | date | None, date_to: str | date | None) -> tuple[str | None, str | None]:
    lo, hi = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if lo and hi and lo > hi:
        raise QAError(f"--from {lo} is after --to {hi}; swap them")
    return lo, hi


# ---- versions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Version:
    """One (script, rubric) version scores were made with; names come from ``configs``."""

    script_hash: str
    rubric_hash: str
    script_name: str | None = None
    rubric_name: str | None = None
    language: str | None = None

    def __post_init__(self) -> None:
        if not self.script_hash or not self.rubric_hash:
            raise ValueError("script_hash and rubric_hash must not be empty")

    @property
    def key(self) -> tuple[str, str]:
        return (self.script_hash, self.rubric_hash)

    @property
    def label(self) -> str:
        script = f"{self.script_name or 'script'} ({self.script_hash[:8]})"
        if self.rubric_hash == "none":
            return script
        return f"{script} + {self.rubric_name or 'rubric'} ({self.rubric_hash[:8]})"


def _config_text(ws: Workspace, hash_: str) -> tuple[str | None, str]:
    cfg = ws.config(hash_)
    if cfg is None:
        return None, ""
    return cfg.get("name"), cfg.get("text") or ""


def parsed_script(ws: Workspace, hash_: str) -> Any | None:
    """The script of a version, parsed with :mod:`qa.scripts`; None when not stored/parsable."""
    return _parsed("script", hash_, _config_text(ws, hash_)[1])


def parsed_rubric(ws: Workspace, hash_: str) -> Any | None:
    if hash_ == "none":
        return None
    return _parsed("rubric", hash_, _config_text(ws, hash_)[1])


@lru_cache(maxsize=64)
def _parsed(kind: str, hash_: str, text: str) -> Any | None:
    # A stored text never changes under its hash: each view parses it again otherwise.
    if not text.strip():
        return None
    try:
        from .scripts import parse_rubric, parse_script

        return (parse_script if kind == "script" else parse_rubric)(text, f"<configs {hash_}>")
    except (QAError, ValueError, ImportError) as e:  # an old or foreign text: fall back to the items
        log.debug("%s %s not parsable (%s); using item titles and max scores", kind, hash_, e)
        return None


def _version(ws: Workspace, script_hash: str, rubric_hash: str) -> Version:
    script_name, _ = _config_text(ws, script_hash)
    rubric_name = _config_text(ws, rubric_hash)[0] if rubric_hash != "none" else None
    parsed = parsed_script(ws, script_hash)
    return Version(
        script_hash, rubric_hash,
        script_name=script_name or (parsed.name if parsed else None),
        rubric_name=rubric_name,
        language=parsed.language if parsed else None,
    )


def versions(ws: Workspace) -> pd.DataFrame:
    """Every version with scores: hashes, names, calls scored, last scored (newest first)."""
    df = ws.frame(
        """SELECT s.script_hash, s.rubric_hash, cs.name AS script_name, cr.name AS rubric_name,
                  COUNT(*) AS calls, MIN(c.day) AS first_day, MAX(c.day) AS last_day,
                  MAX(s.scored_at) AS last_scored
           FROM scores s LEFT JOIN calls c ON c.call_id = s.call_id
           LEFT JOIN configs cs ON cs.hash = s.script_hash
           LEFT JOIN configs cr ON cr.hash = s.rubric_hash
           GROUP BY s.script_hash, s.rubric_hash, cs.name, cr.name ORDER BY last_scored DESC"""
    )
    return df


def resolve_versions(
    ws: Workspace,
    version: str | Version | tuple[str, str] | None = None,
    *,
    stats: list[dict[str, Any]] | None = None,
) -> tuple[Version, ...]:
    """The versions a view reads (see the module docstring).

    ``version``: None (latest, plus its translations), a :class:`Version`, a
    ``(script_hash, rubric_hash)`` pair, or text ``SCRIPT[:RUBRIC]`` of hash prefixes
    (several separated by commas). Raises :class:`NotFoundError` listing known versions.
    ``stats``: :meth:`Workspace.version_stats` when the caller has read it already (it
    groups every score: a tenth of a second on 100,000 calls).
    """
    if isinstance(version, Version):
        return (version,)
    known = ws.version_stats() if stats is None else stats
    if not known:
        raise NotFoundError(
            f"{ws.path}: no scored calls in this workspace; run 'qa score PATH --script FILE' first"
        )
    pairs = [(r["script_hash"], r["rubric_hash"]) for r in known]
    if isinstance(version, tuple):
        if tuple(version) not in pairs:
            raise NotFoundError(f"no scores under version {version[0]}:{version[1]}; known: {_known_list(pairs)}")
        return (_version(ws, *version),)
    if version:
        chosen: list[tuple[str, str]] = []
        for spec in str(version).split(","):
            s_pre, _, r_pre = spec.strip().partition(":")
            hits = [p for p in pairs if p[0].startswith(s_pre) and p[1].startswith(r_pre)]
            if not s_pre or not hits:
                raise NotFoundError(f"no scores under version {spec.strip()!r}; known: {_known_list(pairs)}")
            if len(hits) > 1:
                raise NotFoundError(
                    f"version {spec.strip()!r} is ambiguous ({_known_list(hits)}); "
                    "give SCRIPT:RUBRIC hash prefixes"
                )
            chosen.append(hits[0])
        return tuple(_version(ws, *p) for p in dict.fromkeys(chosen))
    # One version per script file and language: the most recently used. A run that scores
    # each call with the script in its language (or inbound and cold calls with their own
    # scripts) makes several versions at once and they all count; an edit of a file
    # supersedes its older versions, which are kept apart and reported in notes.
    chosen_v: list[Version] = []
    families: set[tuple[str, str | None]] = set()
    for pair in pairs:
        v = _version(ws, *pair)
        family = (script_family(ws, pair[0]), v.language)
        if family not in families:
            families.add(family)
            chosen_v.append(v)
    return tuple(chosen_v)


def script_family(ws: Workspace, script_hash: str) -> str:
    """Which script a version is an edit of: its file name without language and extension
    (``real_estate_inbound`` for ``scripts_library/real_estate_inbound.ru.yaml``)."""
    cfg = ws.config(script_hash)
    if cfg and cfg.get("path"):
        return Path(str(cfg["path"])).name.split(".", 1)[0]
    return str((cfg or {}).get("name") or script_hash)


def _known_list(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{s[:8]}:{r[:8]}" for s, r in pairs)


# ---- scope: which scores a view reads --------------------------------------------------------
# CROSS JOIN fixes the join order: calls (by day) drive, items and scores are looked up by
# call through their primary key / covering index. Without it, on a workspace without
# ANALYZE statistics, SQLite may scan every item of the version even for one week.
_ITEMS_JOIN = (
    " CROSS JOIN items i ON i.call_id = s.call_id AND i.script_hash = s.script_hash"
    " AND i.rubric_hash = s.rubric_hash"
)


@dataclass(frozen=True)
class Scope:
    """Versions and period (inclusive days, None = open) a view reads."""

    versions: tuple[Version, ...]
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a scope needs at least one version")

    def _version_sql(self, alias: str) -> tuple[str, list[Any]]:
        if len(self.versions) == 1:
            v = self.versions[0]
            return f"{alias}.script_hash = ? AND {alias}.rubric_hash = ?", [v.script_hash, v.rubric_hash]
        values = ",".join("(?,?)" for _ in self.versions)
        params = [h for v in self.versions for h in v.key]
        return f"({alias}.script_hash, {alias}.rubric_hash) IN (VALUES {values})", params

    def period_sql(self, alias: str = "c") -> tuple[str, list[Any]]:
        conds, params = day_range(f"{alias}.day", self.date_from, self.date_to)
        return (" AND ".join(conds) or "1"), params

    def where(
        self,
        *,
        manager: str | None = None,
        unassigned: bool = False,
        items: bool = False,
        scores: bool = True,
    ) -> tuple[str, list[Any]]:
        """``FROM calls c JOIN scores s [JOIN items i] WHERE ...`` for the calls in scope.

        Each call counts once (its latest score among the versions); callers append
        ``AND ...`` conditions. ``scores=False`` (with ``items=True``) lets a one-version
        query skip the scores table when it reads only ``c.*`` and ``i.*``.
        """
        psql, pparams = self.period_sql("c")
        if items and not scores and len(self.versions) == 1:
            # one version: the items say which version they belong to, no scores needed
            v = self.versions[0]
            sql = (
                "FROM calls c CROSS JOIN items i ON i.call_id = c.call_id AND i.script_hash = ?"
                f" AND i.rubric_hash = ? WHERE {psql}"
            )
            params = [v.script_hash, v.rubric_hash, *pparams]
        else:
            vsql, vparams = self._version_sql("s")
            join = _ITEMS_JOIN if items else ""
            sql = f"FROM calls c CROSS JOIN scores s ON s.call_id = c.call_id{join} WHERE {vsql} AND {psql}"
            params = [*vparams, *pparams]
        if len(self.versions) > 1:
            # each call once: its latest score among the chosen versions
            v2sql, v2params = self._version_sql("s2")
            sql += (
                f" AND NOT EXISTS (SELECT 1 FROM scores s2 WHERE s2.call_id = s.call_id AND {v2sql}"
                " AND s2.scored_at > s.scored_at)"
            )
            params += v2params
        if manager is not None:
            sql += " AND c.manager = ?"
            params.append(manager)
        elif unassigned:
            sql += " AND c.manager IS NULL"
        return sql, params

    @property
    def label(self) -> str:
        if self.date_from and self.date_to:
            return self.date_from if self.date_from == self.date_to else f"{self.date_from} … {self.date_to}"
        if self.date_from:
            return f"from {self.date_from}"
        if self.date_to:
            return f"until {self.date_to}"
        return "all days"


def period_bounds(date_from: str | date | None, date_to: str | date | None) -> tuple[str | None, str | None]:
    """``--from`` / ``--to`` as ``YYYY-MM-DD`` (None = open); raises :class:`QAError` when reversed."""
    return _period_bounds(date_from, date_to)


def scope(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    version: str | Version | tuple[str, str] | None = None,
) -> Scope:
    """The scope a view reads: :func:`resolve_versions` and the period (inclusive days)."""
    lo, hi = _period_bounds(date_from, date_to)
    return Scope(resolve_versions(ws, version), lo, hi)
