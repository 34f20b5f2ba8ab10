"""qa.normalize: what counts as the same phrase."""

from __future__ import annotations

import pytest
import snowballstemmer

from qa.normalize import (
    PRESETS,
    STEPS,
    Normalizer,
    alphabet,
    analyze,
    available_languages,
    language_code,
    load_language,
    normalize,
    sound_key,
    tokens,
)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # case, ё, punctuation
        ("Добрый ДЕНЬ!", "ru", "добрый день"),
        ("Ещё раз: всё ясно?", "ru", "еще раз все ясно"),
        ("Good AFTERNOON, sir.", "en", "good afternoon sir"),
        # apostrophes are removed inside words, hyphens split words
        ("I don't know, we’re busy", "en", "i dont know were busy"),
        ("как-то так", "ru", "как то так"),
        ("snake_case", "en", "snake case"),
        # numbers: words -> digits, inflected forms, compounds
        ("десять лет", "ru", "10 лет"),
        ("рассрочка на двадцать пять лет", "ru", "рассрочка на 25 лет"),
        ("от пятнадцати минут", "ru", "от 15 минут"),
        ("два миллиона триста тысяч", "ru", "2300000"),
        ("сто двадцать", "ru", "120"),
        ("пятнадцать три", "ru", "15 3"),  # "три" cannot follow a teen: two numbers
        ("5 тысяч", "ru", "5000"),
        ("1,5 миллиона", "ru", "1500000"),
        ("twenty-five dollars", "en", "25 dollars"),
        ("two hundred and five", "en", "205"),
        ("six thousand and", "en", "6000 and"),  # a trailing joiner stays a word
        ("one hundred twenty", "en", "120"),
        # digit groups join; punctuation ends a number
        ("1 500 000 рублей", "ru", "1500000 рублей"),
        ("2024 500", "en", "2024 500"),
        ("два, три", "ru", "2 3"),
        ("1.5 or 1,5", "en", "1.5 or 1.5"),
        # fillers, single and multi-word
        ("Добрый, э-э, день", "ru", "добрый день"),
        ("ну как бы добрый день", "ru", "добрый день"),
        ("um, good morning, you know", "en", "good morning"),
        # unknown language: case and punctuation only
        ("Guten Tag, ähm!", "de", "guten tag ähm"),
        ("Ёлка", None, "ёлка"),
        ("", "ru", ""),
        ("?!...", "en", ""),
    ],
)
def test_normalize(text: str, language: str | None, expected: str) -> None:
    assert normalize(text, language) == expected


@pytest.mark.parametrize(
    ("forms", "language"),
    [
        (["бюджет", "бюджета", "бюджетом", "бюджету", "бюджетах"], "ru"),
        (["квартира", "квартиру", "квартирой", "квартиры"], "ru"),
        (["понимаю", "понимаете"], "ru"),
        (["call", "called", "calling", "calls"], "en"),
        (["discuss", "discussed", "discussing"], "en"),
        (["budget", "budgets"], "en"),
    ],
)
def test_inflected_forms_share_a_stem(forms: list[str], language: str) -> None:
    stems = {tokens(f, language)[0] for f in forms}
    assert len(stems) == 1, stems


def test_irregular_english_forms_are_not_unified() -> None:
    # documented limit of stemming: irregular verbs keep different stems
    assert tokens("spoke", "en") != tokens("speak", "en")


def test_unknown_language_is_not_stemmed() -> None:
    assert tokens("budgets called", "xx") == ["budgets", "called"]
    assert tokens("budgets called", None) == ["budgets", "called"]


def test_tokens_example() -> None:
    assert tokens("Какой у вас бюджет? А бюджетом кто распоряжается?", "ru") == [
        "как", "у", "вас", "бюджет", "а", "бюджет", "кто", "распоряжа",
    ]


def test_analyze_keeps_the_source_words() -> None:
    an = analyze("Ну, добрый день! Двадцать пять тысяч, хорошо", "ru")
    assert an.words == ("Ну,", "добрый", "день!", "Двадцать", "пять", "тысяч,", "хорошо")
    assert [t[0] for t in an.tokens] == ["добр", "ден", "25000", "хорош"]
    assert an.tokens[2][1:] == (3, 5)  # the number covers three source words
    assert an.source(0, 1) == "добрый день!"
    assert an.source(2, 2) == "Двадцать пять тысяч,"


def test_presets() -> None:
    assert set(PRESETS) == {"plain", "match", "stems"}
    for steps in PRESETS.values():
        assert set(steps) <= set(STEPS)
    assert normalize("Ну, десять лет", "ru", "plain") == "ну десять лет"
    assert normalize("Ну, десять лет", "ru", "match") == "10 лет"
    assert normalize("Ну, десять лет", "ru", "stems") == "10 лет"
    assert Normalizer("ru", ["lowercase"]).normalize("Ну, ДА") == "ну, да"


@pytest.mark.parametrize(
    ("preset", "message"),
    [("fancy", "unknown normalisation preset 'fancy'"), (["lowercase", "nope"], "unknown normalisation step 'nope'")],
)
def test_bad_presets(preset: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Normalizer("ru", preset)  # type: ignore[arg-type]


def test_language_codes_and_data() -> None:
    assert language_code("ru-RU") == "ru"
    assert language_code("EN_us") == "en"
    assert language_code(None) == ""
    assert load_language("ru-RU").code == "ru"
    assert not load_language("xx").known
    assert {"ru", "en"} <= set(available_languages())


@pytest.mark.parametrize("code", available_languages())
def test_language_files_are_complete(code: str) -> None:
    lang = load_language(code)
    assert lang.known
    assert lang.stemmer in snowballstemmer.algorithms()
    assert lang.fillers or lang.filler_phrases
    assert lang.question_words
    assert len(lang.stop_words) >= 50
    assert lang.negations and lang.negation_prefixes
    assert lang.numbers
    # word lists are written in normalised form, so they can match normalised text
    for word in lang.stop_words | lang.question_words | lang.fillers | lang.negations:
        assert normalize(word, code, "plain") == word, word


@pytest.mark.parametrize(
    ("a", "b"),
    [("афтернун", "afternoon"), ("гуд", "good"), ("хелло", "hello"), ("джон", "john")],
)
def test_sound_key_bridges_alphabets(a: str, b: str) -> None:
    from rapidfuzz import fuzz

    assert fuzz.ratio(sound_key(a), sound_key(b)) >= 80


def test_sound_key_examples() -> None:
    assert sound_key("афтернун") == sound_key("afternoon") == "afternun"
    assert sound_key("гуд") == sound_key("good") == "gud"


@pytest.mark.parametrize(
    ("token", "expected"),
    [("hello", "LATIN"), ("привет", "CYRILLIC"), ("2024", ""), ("3д", "CYRILLIC"), ("ελλάδα", "GREEK")],
)
def test_alphabet(token: str, expected: str) -> None:
    assert alphabet(token) == expected


def test_analyze_keeps_each_token_before_stemming() -> None:
    an = analyze("Мы договорились, двадцать пять!", "ru")
    assert an.texts == ["мы", "договор", "25"]
    assert an.surfaces == ("мы", "договорились", "25")
    assert an.surface(1) == "договорились"
    # nothing stemmed: the tokens are their own surfaces
    plain = analyze("Мы договорились", "ru", "match")
    assert plain.surfaces == () and plain.surface(1) == "договорились"


def test_word_order_comes_from_the_language_file() -> None:
    from qa.errors import ConfigError
    from qa.normalize import _word_order

    assert load_language("ru").free_word_order
    assert not load_language("en").free_word_order
    assert not load_language("xx").free_word_order
    with pytest.raises(ConfigError, match="word_order must be 'free' or 'fixed', got 'sideways'"):
        _word_order("sideways", "xx")


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # colloquial and recogniser spellings become the group's first entry
        ("Щас скока стоит?", "ru", ["сейчас", "скольк", "сто"]),
        ("it is kinda pricey, I dunno", "en", ["it", "is", "kind", "of", "expens", "i", "dont", "know"]),
        ("send it by e-mail", "en", ["send", "it", "by", "email"]),
        # a negation written together or apart
        ("нам неинтересно", "ru", ["нам", "не", "интересн"]),
        ("некогда сейчас", "ru", ["нет", "времен", "сейчас"]),
        # inflected forms of an entry follow it
        ("обсужу с начальником", "ru", ["обсуж", "с", "руководител"]),
        # the longest entry wins: "less expensive" is "cheaper", not "less" + "expensive"
        ("a bit less expensive", "en", ["a", "bit", "cheaper"]),
    ],
)
def test_synonyms(text: str, language: str, expected: list[str]) -> None:
    assert tokens(text, language) == expected


def test_synonyms_keep_the_source_words_and_their_own_forms() -> None:
    an = analyze("Нам неинтересно, спасибо", "ru")
    assert an.texts == ["нам", "не", "интересн", "спасиб"]
    assert an.surfaces == ("нам", "не", "интересно", "спасибо")
    assert [t[1:] for t in an.tokens[1:3]] == [(1, 1), (1, 1)]
    assert an.source(1, 2) == "неинтересно,"
    # the match preset has no synonyms step
    assert normalize("Щас", "ru") == "щас"


def test_synonym_groups_are_checked() -> None:
    from dataclasses import replace

    from qa.errors import ConfigError
    from qa.normalize import _synonym_groups

    assert _synonym_groups([["Сейчас", "щас"]], "ru") == (("сейчас", "щас"),)
    with pytest.raises(ConfigError, match=r"synonyms\[0\] must be a list of two or more words"):
        _synonym_groups([["одно"]], "ru")
    clash = replace(load_language("ru"), synonyms=(("сейчас", "щас"), ("теперь", "щас")))
    with pytest.raises(ConfigError, match="synonyms: 'щас' is in the groups of 'сейчас' and 'теперь'"):
        Normalizer(clash)


@pytest.mark.parametrize("code", available_languages())
def test_synonym_entries_are_written_in_normalised_form(code: str) -> None:
    for group in load_language(code).synonyms:
        for entry in group:
            assert normalize(entry, code, "plain") == entry, entry


# ---- the shortcuts take the same path as the full chain -------------------------------------
_SHORTCUT_TEXTS = [
    "Добрый день, меня зовут Анна",  # one token per word: the plain path
    "ну э-э как бы в общем дорого",  # fillers and filler phrases among other words
    "в общем в общем, ну и ну",  # filler phrases back to back
    "два миллиона, 300 тысяч и 1 500 рублей",  # number words, digit groups, a pause
    "сто двадцать пять тысяч и",  # a trailing joiner
    "щас неинтересно",  # synonyms
    "[PHONE] позвоните мне",  # a redaction token: no token at all
    "don't_know twenty five and six, um, well",
    "",
]


@pytest.mark.parametrize("language", ["ru", "en", None])
@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("text", _SHORTCUT_TEXTS)
def test_plain_tokens_agree_with_analyze(text: str, language: str | None, preset: str) -> None:
    """Normalizer.plain_tokens (most utterances) gives what analyze gives, or None."""
    from qa.normalize import plain_analysis

    norm = Normalizer(language, preset)
    full = norm.analyze(text)
    assert norm.tokens(text) == [t[0] for t in full.tokens]
    plain = norm.plain_tokens(text)
    if plain is not None:
        assert plain[0] == [t[0] for t in full.tokens]
        assert plain_analysis(text, plain[0], plain[1], norm.stems) == full


def test_plain_path_is_taken_only_when_no_word_needs_a_sequence_step() -> None:
    norm = Normalizer("ru")
    assert norm.plain_tokens("Добрый день, меня зовут Анна") is not None
    assert norm.plain_tokens("ну добрый день") is None  # a filler
    assert norm.plain_tokens("два дня") is None  # a number word
    assert norm.plain_tokens("щас удобно") is None  # a synonym
