"""The interface language: the words call-qa shows people, in their language.

Every word of the interface that is not data (the CLI summaries of ``qa score`` and
``qa transcribe``, the report's pages and its workbook's headers, the metric names of
``qa scorecard``) is a key of a message catalog, one file per language::

    qa/data/ui/en.yaml     day_title: "Calls of {day}"
    qa/data/ui/ru.yaml     day_title: "Звонки за {day}"

so adding a language is adding a file, and nothing language-specific is written in Python.
English is the reference catalog: a key missing in another language falls back to it, and
``tests/test_ui.py`` checks every catalog has exactly its keys.

Which language (:func:`choose`): an explicit one (``--ui ru``, ``$QA_UI``, or the
project config's ``ui``) wins; ``auto`` is the language most of the calls on show are in
when there is a catalog for it, else English. The CLI default is ``en`` for the
summaries (so a cron job's log reads the same whatever the calls) and ``auto`` for the
report (a Russian team's calls give Russian pages). The locale (``$LANG``) is not read: the
same command gives the same output on every machine.

    >>> t = Catalog("ru")
    >>> t("cli_scored", calls=2, mean=50.0, median=50.0, critical=0)
    'Оценено звонков: 2; средняя оценка 50.0, медиана 50.0, критических ошибок: 0.'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .errors import ConfigError

__all__ = ["AUTO", "ENV", "REFERENCE", "Catalog", "choose", "languages"]

#: The environment variable that sets the interface language (the CLI reads it).
ENV = "QA_UI"
#: The value that picks the language of the calls.
AUTO = "auto"
#: The catalog every other one is checked against and falls back to.
REFERENCE = "en"

_FOLDER = "data/ui"


@cache
def languages() -> tuple[str, ...]:
    """The languages with a catalog (``qa/data/ui/<lang>.yaml``), sorted."""
    folder = resources.files("qa").joinpath(_FOLDER)
    return tuple(sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")))


@cache
def _catalog(lang: str) -> dict[str, str]:
    """One catalog file -> {key: text}; a broken file is a clear error naming it."""
    from . import safe_yaml

    where = f"qa/{_FOLDER}/{lang}.yaml"
    try:
        text = resources.files("qa").joinpath(_FOLDER, f"{lang}.yaml").read_text("utf-8")
        data = safe_yaml.load(text, where)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: cannot read the interface words ({e}); reinstall call-qa") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of key: text; fix the file or reinstall call-qa")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def _unknown(lang: str) -> ConfigError:
    return ConfigError(
        f"no interface language {lang!r}; choose one of: {', '.join(languages())} "
        f"(or add qa/{_FOLDER}/{lang}.yaml)"
    )


@dataclass(frozen=True)
class Catalog:
    """The interface words in one language: ``t(key, **values)`` is the text of ``key``
    with ``{name}`` filled from ``values``. A key missing there falls back to English; a
    key missing everywhere (a metric or flag added without a word) shows as its name with
    ``_`` turned into spaces, so a page never breaks for a missing word."""

    lang: str = REFERENCE

    def __post_init__(self) -> None:
        if self.lang not in languages():
            raise _unknown(self.lang)

    @staticmethod
    def languages() -> tuple[str, ...]:
        return languages()

    def __call__(self, key: str, **values: Any) -> str:
        text = _catalog(self.lang).get(key) or _catalog(REFERENCE).get(key)
        if text is None:
            text = key.replace("_", " ")
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in _catalog(self.lang) or key in _catalog(REFERENCE)

    def keys(self) -> frozenset[str]:
        """The keys this language's file defines (without the English fallback)."""
        return frozenset(_catalog(self.lang))

    def word(self, prefix: str, value: Any) -> str:
        """A stored value in words: ``word("value", "in")`` -> "inbound" / "входящий";
        the value itself when the catalog has no word for it."""
        key = f"{prefix}_{value}"
        return self(key) if self.has(key) else str(value)


def choose(value: str | None, call_languages: Iterable[Any] = ()) -> str:
    """The interface language to use: ``value`` when it names a catalog, for ``auto`` (or
    None) the most common of ``call_languages`` that has one, else English. Raises
    :class:`~qa.errors.ConfigError` (exit 2) for a language without a catalog."""
    lang = (value or AUTO).strip().lower()
    if lang != AUTO:
        if lang not in languages():
            raise _unknown(lang)
        return lang
    known = set(languages())
    counts = Counter(str(x) for x in call_languages if x is not None and str(x) in known)
    return counts.most_common(1)[0][0] if counts else REFERENCE
