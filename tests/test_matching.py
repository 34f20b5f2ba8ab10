"""qa.matching: finding script phrases in utterances, with evidence."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from qa.matching import (
    Match,
    MatchOptions,
    PhraseQuery,
    PhraseSet,
    filter_matches,
    find_phrase,
    group_similar,
    near_duplicates,
    prepare,
    similarity,
)
from qa.transcripts import CallMeta, Transcript, Utterance, Word


def U(role: str, start: float, end: float, text: str, words: tuple[Word, ...] = ()) -> Utterance:
    return Utterance(role, start, end, text, words)


def found(text: str, phrase: str, language: str, threshold: float = 85.0, role: str = "manager") -> list[Match]:
    return find_phrase([U(role, 0, 2, text)], phrase, language, threshold=threshold)


# ---- what is found ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "phrase", "language", "matched"),
    [
        # recognition errors
        ("Гуд афтернун, меня зовут Анна", "good afternoon", "en", "Гуд афтернун,"),
        ("Good afternon, how are you?", "good afternoon", "en", "Good afternon,"),
        ("Здраствуйте, слушаю вас", "здравствуйте", "ru", "Здраствуйте,"),
        ("добрый дэнь", "добрый день", "ru", "добрый дэнь"),
        # Russian cases
        ("А по бюджету вы уже решили?", "бюджет", "ru", "бюджету"),
        ("обсудим вопрос бюджета", "вопрос бюджет", "ru", "вопрос бюджета"),
        ("с бюджетом всё понятно", "бюджет", "ru", "бюджетом"),
        ("приглашаю вас на просмотры квартир", "приглашаю вас на просмотр", "ru", "приглашаю вас на просмотры"),
        # English tenses
        ("we called you back yesterday", "we call you back", "en", "we called you back"),
        ("I'm calling about the offer", "call about the offer", "en", "calling about the offer"),
        ("they discussed the budget", "discuss the budget", "en", "discussed the budget"),
        # numbers written either way
        ("рассрочка на десять лет", "рассрочка на 10 лет", "ru", "рассрочка на десять лет"),
        ("two bedrooms left", "2 bedrooms", "en", "two bedrooms"),
        # fillers and punctuation inside the phrase
        ("Добрый, э-э, день!", "добрый день", "ru", "Добрый, э-э, день!"),
        ("good, um, morning", "good morning", "en", "good, um, morning"),
        # function words inside the phrase are skipped, the phrase's own words are not
        ("Какой у вас бюджет?", "какой бюджет", "ru", "Какой у вас бюджет?"),
        ("what is your budget", "what budget", "en", "what is your budget"),
        # merged / split recognised words
        ("after noon sir", "afternoon", "en", "after noon"),
        # a phrase with its own negation, and a negated mention next to a plain one
        ("мне не интересно", "не интересно", "ru", "не интересно"),
        ("I do not know", "i don't know", "en", "I do not know"),
        ("не дорого, но вообще-то дорого", "дорого", "ru", "дорого"),
        # a phrase word split or two phrase words merged by the recogniser
        ("клин про, добрый день", "клинпро", "ru", "клин про,"),
        ("в вашем бизнесцентре", "в вашем бизнес-центре", "ru", "в вашем бизнесцентре"),
        ("главноерассрочка без переплаты", "рассрочка без переплаты", "ru", "главноерассрочка без переплаты"),
        # one stem, close endings: an inflection
        ("договоримся на завтра", "договорились", "ru", "договоримся"),
        # an inflection the stemmer does not join ("записа"/"запиш" are 73 alike)
        ("давайте я запишу вас на просмотр", "записать вас на просмотр", "ru", "запишу вас на просмотр"),
        # synonyms from the language file
        ("нам сейчас неинтересно", "не интересно", "ru", "неинтересно"),
        ("it's a bit pricey for us", "bit expensive", "en", "bit pricey"),
        ("Щас удобно говорить?", "сейчас удобно говорить", "ru", "Щас удобно говорить?"),
        # Russian word order is free (ru.yaml: word_order: free)
        ("мне надо с директором обсудить", "обсудить с директором", "ru", "с директором обсудить"),
        ("вы ипотеку рассматриваете?", "рассматриваете ипотеку", "ru", "ипотеку рассматриваете?"),
        ("день добрый!", "добрый день", "ru", "день добрый!"),
        ("говорить сейчас не могу", "не могу говорить", "ru", "говорить сейчас не могу"),
    ],
)
def test_found(text: str, phrase: str, language: str, matched: str) -> None:
    got = found(text, phrase, language)
    assert [m.matched for m in got] == [matched]
    assert got[0].similarity >= 85


@pytest.mark.parametrize(
    ("text", "phrase", "language"),
    [
        ("с бюджетом определились", "какой бюджет", "ru"),  # not the question
        ("бюджет", "какой бюджет", "ru"),  # a phrase word may not be dropped
        ("дом", "дым", "ru"),
        ("good evening", "good afternoon", "en"),
        ("we will call you", "we called you back", "en"),
        ("недорого", "дорого", "ru"),
        # negations: before, inside, or as a prefix of a phrase word
        ("это не дорого", "дорого", "ru"),
        ("мне не интересно", "мне интересно", "ru"),
        ("вам удобно говорить", "неудобно говорить", "ru"),
        ("вам неудобно говорить", "удобно говорить", "ru"),
        ("небольшой бюджет", "большой бюджет", "ru"),
        ("I am not interested", "interested", "en"),
        ("I am unhappy with it", "happy with it", "en"),
        # every content word of the phrase needs a close word: one long shared word does not
        # carry the phrase (whole-string similarity 85.7)
        ("Перезвоните через полгода", "перезвоните вечером", "ru"),
        # short stems are compared as written ("дор"/"добр" 86, "дорого"/"добрый" 50)
        ("Добрый день", "дорого", "ru"),
        ("вы не знаете, кто решает?", "не знаю", "ru"),
        ("рассрочка на 15 лет", "рассрочка на 10 лет", "ru"),
        # one stem, endings 5 letters apart: the stemmer joined a verb and a noun
        ("когда заканчивается договор с компанией", "договорились", "ru"),
        # another order needs reorder_penalty more: "дэнь добрый" is 87.5 alike, not 90
        ("дэнь добрый", "добрый день", "ru"),
        # a negation moves with the word after it
        ("нам пока просто интересно, мы ещё не решили", "не интересно", "ru"),
        # English word order is fixed (en.yaml: word_order: fixed)
        ("the price what is included in", "what is included in the price", "en"),
        # a phrase that negates needs the negation ("ready to decide" is 87.5 alike)
        ("we are ready to decide", "not ready to decide", "en"),
    ],
)
def test_not_found(text: str, phrase: str, language: str) -> None:
    assert found(text, phrase, language) == []


def test_threshold_edges() -> None:
    # "добрый ден" vs "добрый день" -> stems "добр ден" vs "добр ден"; use an unstemmed pair
    text, phrase = "здраствуйте", "здравствуйте"
    sim = found(text, phrase, "xx", threshold=1)[0].similarity
    assert sim == pytest.approx(fuzz.ratio("здраствуйте", "здравствуйте"))
    assert found(text, phrase, "xx", threshold=sim)  # exactly at the threshold: found
    assert not found(text, phrase, "xx", threshold=min(100.0, sim + 0.01))  # just above: not


def test_evidence_uses_word_timings_when_they_line_up() -> None:
    words = (
        Word(10.0, 10.4, " Алло,"),
        Word(10.5, 10.9, " добрый"),
        Word(11.0, 11.3, " день!"),
        Word(11.4, 12.0, " Анна."),
    )
    m = find_phrase([U("manager", 10.0, 12.0, "Алло, добрый день! Анна.", words)], "добрый день", "ru")[0]
    assert (m.start, m.end) == (10.5, 11.3)
    assert m.matched == "добрый день!"
    assert m.text == "Алло, добрый день! Анна."
    assert m.role == "manager"
    assert m.phrase == "добрый день"
    assert m.utterance_index == 0 and m.utterance_indices == (0,)
    assert m.similarity == 100.0
    assert m.evidence() == {
        "start": 10.5, "end": 11.3, "role": "manager", "text": "Алло, добрый день! Анна.",
        "matched": "добрый день!", "phrase": "добрый день", "similarity": 100.0,
    }


def test_evidence_falls_back_to_the_utterance_times() -> None:
    m = find_phrase([U("manager", 3.0, 7.5, "Алло, добрый день!")], "добрый день", "ru")[0]
    assert (m.start, m.end) == (3.0, 7.5)


# ---- split segments -------------------------------------------------------------------------
def test_phrase_split_across_two_segments_of_one_speaker() -> None:
    utts = [
        U("manager", 0, 2.0, "Компания Новый дом. Какой у вас"),
        U("manager", 2.5, 4.0, "бюджет на покупку?"),
    ]
    (m,) = find_phrase(utts, "какой у вас бюджет", "ru")
    assert m.utterance_indices == (0, 1)
    assert (m.start, m.end) == (0, 4.0)
    assert m.matched == "Какой у вас бюджет"
    assert m.text == "Компания Новый дом. Какой у вас бюджет на покупку?"


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (U("client", 2.5, 4.0, "бюджет на покупку?"), "other speaker"),
        (U("manager", 9.0, 10.0, "бюджет на покупку?"), "gap longer than join_gap_s"),
    ],
)
def test_no_join_across_speakers_or_long_gaps(second: Utterance, why: str) -> None:
    utts = [U("manager", 0, 2.0, "Какой у вас"), second]
    assert find_phrase(utts, "какой у вас бюджет", "ru", roles=None) == [], why


def test_whole_phrase_in_one_segment_is_not_reported_twice() -> None:
    utts = [U("manager", 0, 2.0, "Добрый день"), U("manager", 2.2, 4.0, "меня зовут Анна")]
    got = find_phrase(utts, "добрый день", "ru")
    assert [m.utterance_indices for m in got] == [(0,)]


# ---- roles ----------------------------------------------------------------------------------------
def test_role_aware_and_mono_fallback() -> None:
    stereo = [U("client", 0, 2, "Это дорого"), U("manager", 2, 4, "Понимаю, дорого")]
    got = find_phrase(stereo, "дорого", "ru", roles=["client"])
    assert [m.utterance_index for m in got] == [0]
    got = find_phrase(stereo, "дорого", "ru", roles=["manager"])
    assert [m.utterance_index for m in got] == [1]
    got = find_phrase(stereo, "дорого", "ru")  # no roles: anyone
    assert [m.utterance_index for m in got] == [0, 1]
    mono = [U("unknown", 0, 2, "Это дорого"), U("unknown", 2, 4, "Понимаю, дорого")]
    got = find_phrase(mono, "дорого", "ru", roles=["client"])
    assert [m.utterance_index for m in got] == [0, 1]
    assert prepare(Transcript(CallMeta("m"), mono), "ru").mono


# ---- time windows -----------------------------------------------------------------------------
def test_time_windows() -> None:
    utts = [
        U("manager", 1, 3, "Добрый день"),
        U("manager", 30, 32, "добрый день ещё раз"),
        U("manager", 55, 58, "Всего доброго, добрый день"),
    ]
    t = Transcript(CallMeta("c"), utts, duration=60.0)
    assert [m.start for m in find_phrase(t, "добрый день", "ru")] == [1, 30, 55]
    assert [m.start for m in find_phrase(t, "добрый день", "ru", within_first_seconds=20)] == [1]
    assert [m.start for m in find_phrase(t, "добрый день", "ru", within_first_seconds=30)] == [1, 30]
    assert [m.start for m in find_phrase(t, "добрый день", "ru", within_last_seconds=10)] == [55]
    assert [m.start for m in find_phrase(t, "добрый день", "ru", within_last_seconds=28)] == [30, 55]


def test_filter_matches_by_utterances() -> None:
    utts = [U("manager", 0, 1, "дорого"), U("manager", 5, 6, "дорого"), U("manager", 9, 10, "дорого")]
    got = find_phrase(utts, "дорого", "ru")
    assert [m.utterance_index for m in filter_matches(got, utterances=[1, 2])] == [1, 2]
    assert [m.utterance_index for m in filter_matches(got, start_before=5)] == [0, 1]
    assert [m.utterance_index for m in filter_matches(got, end_after=6)] == [1, 2]


# ---- phrase sets -------------------------------------------------------------------------------
def test_phrase_set_scans_every_phrase_once() -> None:
    queries = [
        PhraseQuery("добрый день", 85, frozenset({"manager"})),
        PhraseQuery("дорого", 85, frozenset({"client"})),
        PhraseQuery("понимаю вас", 90, frozenset({"manager"})),
        PhraseQuery("не было сказано", 85),
    ]
    ps = PhraseSet(queries, "ru")
    t = Transcript(
        CallMeta("c"),
        [
            U("manager", 0, 2, "Добрый день!"),
            U("client", 2, 4, "Дороговато у вас, дорого"),
            U("manager", 4, 6, "Я вас понимаю, понимаю вас"),
        ],
    )
    result = ps.scan(prepare(t, "ru"))
    assert len(result) == 4
    assert [(m.utterance_index, m.query) for m in result[0]] == [(0, 0)]
    assert [(m.utterance_index, m.query) for m in result[1]] == [(1, 1)]
    assert [(m.utterance_index, m.matched) for m in result[2]] == [(2, "понимаю вас")]
    assert result[3] == []
    # limited to some phrases
    only = ps.scan(prepare(t, "ru"), only=[1])
    assert only[0] == [] and len(only[1]) == 1


def test_empty_phrase_and_empty_transcript() -> None:
    ps = PhraseSet([PhraseQuery("?!", 85), PhraseQuery("добрый день", 85)], "ru")
    assert ps.scan(prepare([], "ru")) == [[], []]
    assert ps.scan(prepare([U("manager", 0, 1, "добрый день ?!")], "ru"))[0] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token_cutoff": 101}, "token_cutoff"),
        ({"word_floor": -1}, "word_floor"),
        ({"joined_floor": 100.5}, "joined_floor"),
        ({"ending_gap": 0}, "ending_gap"),
        ({"keyword_gap": -1}, "keyword_gap"),
        ({"window_slack": -1}, "window_slack"),
        ({"join_gap_s": -0.5}, "join_gap_s"),
    ],
)
def test_match_options_are_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MatchOptions(**kwargs)  # type: ignore[arg-type]


def test_phrase_query_is_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        PhraseQuery("x", 120)


# ---- similarity and grouping ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "language", "low", "high"),
    [
        ("Добрый день!", "добрый день", "ru", 100, 100),
        ("какой бюджет", "каким бюджетом", "ru", 100, 100),
        ("good afternoon", "гуд афтернун", "en", 100, 100),
        ("добрый день", "до свидания", "ru", 0, 60),
        ("", "", "ru", 100, 100),
        ("", "что-то", "ru", 0, 0),
    ],
)
def test_similarity(a: str, b: str, language: str, low: float, high: float) -> None:
    assert low <= similarity(a, b, language) <= high


def test_group_similar() -> None:
    texts = ["Добрый день!", "добрый дэнь", "До свидания", "добрый день", "всего доброго", "До свиданья!"]
    assert group_similar(texts, 85, "ru") == [[0, 1, 3], [2, 5], [4]]
    assert group_similar([], 85, "ru") == []
    # every text is in exactly one group, also with small blocks
    assert group_similar(texts, 85, "ru", chunk=1) == [[0, 1, 3], [2, 5], [4]]


def test_match_spans_count_tokens_over_the_whole_call() -> None:
    utts = [
        U("manager", 0, 2, "Добрый день! Какой у вас"),  # tokens 0-4
        U("manager", 2.5, 4, "бюджет?"),  # token 5
        U("client", 5, 6, "Какой у вас бюджет, такой и бюджет"),  # tokens 6-12
    ]
    ps = PhraseSet([PhraseQuery("какой у вас бюджет"), PhraseQuery("вас бюджет"), PhraseQuery("добрый день")], "ru")
    full, part, hello = ps.scan(prepare(utts, "ru"))
    assert [m.span for m in hello] == [(0, 1)]
    assert [(m.utterance_indices, m.span) for m in full] == [((0, 1), (2, 5)), ((2,), (6, 9))]
    assert full[0].overlaps(part[0]) and not full[0].overlaps(hello[0])
    assert not full[0].overlaps(full[1])
    unknown = Match("x", 100, 0, 0, 1, "manager", "x", "x")
    assert unknown.span == (-1, -1) and not unknown.overlaps(full[0])


@pytest.mark.parametrize(
    ("word_floor", "found_it"),
    [(60.0, True), (70.0, False)],  # "вечер"/"через" are 60 alike
)
def test_word_floor_option(word_floor: float, found_it: bool) -> None:
    opts = MatchOptions(word_floor=word_floor)
    got = find_phrase([U("client", 0, 2, "Перезвоните через полгода")], "перезвоните вечером", "ru", options=opts)
    assert bool(got) == found_it


# ---- key words (objection triggers) ------------------------------------------------------------
def keyword_matches(text: str, phrase: str, language: str, keywords: bool = True) -> list[str]:
    ps = PhraseSet([PhraseQuery(phrase, 85, None, keywords)], language)
    return [m.matched for m in ps.scan(prepare([U("client", 0, 2, text)], language))[0]]


@pytest.mark.parametrize(
    ("text", "phrase", "language", "matched"),
    [
        # content words in order, other words between them
        ("у конкурентов в соседнем районе дешевле", "у конкурентов дешевле", "ru", "конкурентов в соседнем районе дешевле"),
        ("honestly the price they quoted us is way too high", "price is too high", "en", "price they quoted us is way too high"),
        # the phrase's negation just before its key words
        ("we are not really ready right now to decide", "not ready to decide", "en", "ready right now to decide"),
        # negative cases
        ("у конкурентов в соседнем районе не дешевле", "у конкурентов дешевле", "ru", None),  # negated
        ("Rent it out. Budget is around 300 thousand.", "out of our budget", "en", None),  # two sentences
        ("у конкурентов, как говорили знакомые из соседнего района, дешевле", "у конкурентов дешевле", "ru", None),
        ("cheaper, I guess, than the competitors", "competitors are cheaper", "en", None),  # not in order
        ("we are ready to decide", "not ready to decide", "en", None),  # the phrase's negation missing
    ],
)
def test_key_words(text: str, phrase: str, language: str, matched: str | None) -> None:
    assert keyword_matches(text, phrase, language) == ([matched] if matched else [])
    if matched:  # only a key-word phrase is found this way
        assert keyword_matches(text, phrase, language, keywords=False) == []


def test_key_word_gap_option() -> None:
    ps = PhraseSet([PhraseQuery("у конкурентов дешевле", 85, None, True)], "ru", MatchOptions(keyword_gap=1))
    utts = [U("client", 0, 2, "у конкурентов в соседнем районе дешевле"), U("client", 3, 4, "у конкурентов там дешевле")]
    assert [m.utterance_index for m in ps.scan(prepare(utts, "ru"))[0]] == [1]


@pytest.mark.parametrize("language", ["ru", "en", None])
def test_near_duplicates_are_the_pairs_similarity_finds(language: str | None) -> None:
    # a small vocabulary in two alphabets, so there are many near pairs, same- and mixed-alphabet
    import random

    rng = random.Random(7)
    words = ["добрый", "день", "дэнь", "цена", "цену", "good", "day", "afternoon", "афтернун", "price", "prise", "ээ", "12"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 3))) for _ in range(120)]
    thresholds = [rng.choice([60.0, 80.0, 85.0, 95.0]) for _ in texts]
    expected = [
        (i, j, similarity(texts[i], texts[j], language))
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if similarity(texts[i], texts[j], language) >= min(thresholds[i], thresholds[j])
    ]
    assert len(expected) > 100  # the case is not trivial
    # a small block: several blocks per alphabet group
    assert near_duplicates(texts, thresholds, language, block=500) == expected



# ---- the bounds that spare the run search never change what is found --------------------------
def test_the_run_bounds_never_skip_a_run_that_reaches_the_threshold() -> None:
    """_may_reach (plain runs and runs with skipped words) and _may_reorder (order-free runs)
    only say no when no run of the utterance could reach the cutoff: checked against every
    subsequence of words of 600 random utterances and phrases."""
    import random
    from collections import Counter
    from itertools import combinations

    from qa.matching import _may_reach, _may_reorder

    rng = random.Random(7)
    letters = "абвдеклмнорст"

    def words(n: int) -> list[str]:
        return ["".join(rng.choice(letters) for _ in range(rng.randint(1, 5))) for _ in range(n)]

    skipped = 0
    for _ in range(600):
        said, phrase = words(rng.randint(1, 7)), words(rng.randint(1, 3))
        if rng.random() < 0.3:  # often something like the phrase is said
            said[rng.randrange(len(said))] = phrase[0]
        cutoff = rng.uniform(50, 100)
        runs = [list(c) for k in range(1, len(said) + 1) for c in combinations(said, k)]
        target, text = " ".join(phrase), " ".join(said)
        best = max(fuzz.ratio(target, " ".join(r)) for r in runs)
        if not _may_reach(target, text, cutoff):
            skipped += 1
            assert best < cutoff, (target, text, cutoff)
        ordered = " ".join(sorted(phrase))
        best = max(fuzz.ratio(ordered, " ".join(sorted(r))) for r in runs)
        if not _may_reorder(dict(Counter(ordered)), len(ordered), text, cutoff):
            assert best < cutoff, (ordered, text, cutoff)
    assert skipped > 100  # the bound does spare work
