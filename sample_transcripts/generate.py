"""GENERATED sample calls: writes the JSON transcripts of this folder (run it to rebuild them).

    python sample_transcripts/generate.py          # rewrites sample_transcripts/*.json

Every call here is made up by this script from the phrase pools below, deterministically
(a fixed seed): no real client, manager or company. They exist so that the trainer's
commands (``qa mine``, ``qa suggest``, ``qa clips``) have enough calls to say something on
the bundled samples: a department's week of inbound calls about new-build flats, in
Russian and in English, by four managers per language, with a spread of

- good calls: every stage of ``scripts_library/real_estate_inbound.<lang>.yaml``, in the
  words of the script and in wordings the script does not know yet (what mining should
  find), objections handled, mostly won deals; one of them lets slip a stop word («не
  знаю» / "I don't know"): a high score with a forbidden phrase, never a source;
- average calls: introduction and farewell, one needs question, a vague next step;
- weak calls: no introduction, no needs discovery, objections brushed off, stop words;
- rude calls: critical phrases of the script («не морочьте мне голову», "are you even
  listening") and dismissive ones («покупайте у других», "go and buy elsewhere").

A client objection no rubric trigger covers («далеко от метро» / "a long way from the
station") recurs in the lost calls, and the good managers answer it the same way in a few
won ones: ``qa mine`` lists it as a candidate objection, ``qa suggest`` proposes it with
the good answers only.

Files are named as the default PBX template reads them
(``<date>_<time>_<manager>_<phone>_in.json``: manager, client phone, start and direction
come from the name); the deal ``outcome`` and the ``script`` to score with are in each
file's ``meta``. The format is the project JSON (:mod:`qa.transcripts`) that ``qa score``
and ``qa transcribe`` import.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 13
DAYS = ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27")
SCRIPT = "real_estate_inbound"  # the manifest-style script name every call is scored with

M, C = "manager", "client"

# ---- what each language's calls are made of ------------------------------------------------
# Lists of alternatives. "{name}" is the manager's name. A good call takes the alternative
# ``k % len(list)`` of each list, k counting the good calls, so each wording recurs.
POOLS: dict[str, dict[str, list[str]]] = {
    "ru": {
        "company": ["«Новый дом»"],
        "good_hello": [
            "Добрый день, компания «Новый дом», меня зовут {name}.",
            "Здравствуйте, «Новый дом», отдел продаж, меня зовут {name}, слушаю вас.",
            "Добрый день! Компания «Новый дом», с вами говорит {name}.",
        ],
        "client_open": [
            "Здравствуйте, я по поводу квартир в «Северном парке».",
            "Добрый день, хотел узнать про квартиры в новом доме.",
            "Здравствуйте, звоню по объявлению о новостройке.",
            "Алло, здравствуйте, интересуют двухкомнатные квартиры.",
        ],
        "good_permission": [
            "Вам удобно говорить пару минут? Задам несколько вопросов, чтобы подобрать вариант точнее.",
            "Есть пара минут? Я задам пару вопросов, чтобы подобрать вариант точнее.",
            "Вам удобно сейчас разговаривать? Хочу подобрать вариант точнее под вас.",
        ],
        "client_yes": ["Да, удобно.", "Да, конечно.", "Да, давайте."],
        "good_needs_1": [
            "Для кого рассматриваете квартиру, сколько человек будет жить?",
            "Расскажите, для себя или для семьи покупаете и кто будет жить?",
            "Для кого рассматриваете покупку? Сколько вас в семье?",
        ],
        "client_needs_1": ["Для семьи, нас трое, сыну семь лет.", "Для себя и жены, скоро ребёнок.",
                           "Для семьи, двое детей."],
        "good_needs_2": [
            "Какой бюджет рассматриваете? И что вас не устраивает в нынешней квартире?",
            "На какую сумму рассчитываете? Что вас не устраивает в нынешней квартире?",
            "В пределах какой суммы смотрите? И что для вас самое важное в новой квартире?",
        ],
        "client_needs_2": ["Около девяти миллионов, сейчас тесно, нужна школа рядом.",
                           "До десяти миллионов, хотим тихий двор.",
                           "Миллионов восемь-девять, и чтобы садик рядом."],
        "good_offer": [
            "Под ваш запрос могу предложить двухкомнатную квартиру у парка, это как раз то, о чём вы говорили.",
            "Исходя из того, что вы сказали, вам подойдёт двушка окнами во двор, это как раз то, о чём вы говорили.",
            "Под ваш бюджет есть отличный вариант в третьем корпусе, школа прямо во дворе.",
        ],
        "client_price": ["Дороговато, честно говоря.", "Это дорого для нас.", "Как-то дороговато выходит."],
        "good_price": [
            "Понимаю вас. С чем сравниваете? В стоимость входит отделка, давайте посчитаем ежемесячный платёж.",
            "Понимаю ваши сомнения. Давайте посчитаем ежемесячный платёж, в стоимость входит отделка и кладовая.",
            "Понимаю вас, цена важный вопрос. Давайте посчитаем ежемесячный платёж по ипотеке с господдержкой.",
        ],
        "client_ok": ["Хорошо, это уже интереснее.", "Да, так понятнее.", "Ну, если так, то можно."],
        "client_metro": ["Только это далеко от метро.", "Но это далеко от метро, вот что смущает.",
                         "А это не далеко от метро?", "Всё-таки далеко от метро."],
        "good_metro": [
            "Понимаю. До метро ходит бесплатный автобус от дома, семь минут в пути.",
            "Понимаю вас. До метро ходит бесплатный автобус каждые десять минут, семь минут в пути.",
        ],
        "good_close": [
            "Давайте запишу вас на просмотр в субботу в одиннадцать?",
            "Приглашаю вас на просмотр, в какой день вам удобно подъехать, в субботу или в воскресенье?",
            "Давайте я запишу вас на просмотр, когда вам удобно подъехать?",
        ],
        "client_agree": ["Давайте в субботу.", "В субботу в одиннадцать подойдёт.", "Можно в воскресенье утром."],
        "good_bye": [
            "Отлично, записал вас. Пришлю адрес и схему проезда в сообщении. Всего доброго!",
            "Договорились, пришлю адрес и схему проезда в сообщении. До свидания!",
            "Отлично, жду вас. Пришлю адрес и схему проезда в сообщении, всего хорошего!",
        ],
        "client_bye": ["Спасибо, до свидания.", "Спасибо, до встречи.", "Хорошо, спасибо."],
        "slip": ["Честно, не знаю, уточню у коллег и перезвоню."],
        # average
        "avg_hello": ["Добрый день, «Новый дом», меня зовут {name}.", "Компания «Новый дом», здравствуйте.",
                      "Здравствуйте, «Новый дом», {name}, слушаю."],
        "avg_needs": ["Какой бюджет?", "Сколько комнат нужно?", "На какую сумму рассчитываете?"],
        "client_needs_short": ["Миллионов девять.", "Две комнаты.", "До десяти миллионов."],
        "avg_offer": ["Могу предложить двухкомнатные квартиры от девяти миллионов, дом сдаётся через год.",
                      "Есть варианты в третьем корпусе, там сейчас скидка.",
                      "Могу предложить двушки, от девяти миллионов."],
        "avg_price": ["Ну, это рыночная цена, у нас отделка включена.", "Понимаю, но скидок сейчас нет.",
                      "Цена нормальная для района."],
        "avg_metro": ["Ну, на машине недалеко.", "Да, метро пока не построили.", "Есть автобус, кажется."],
        "avg_close": ["Пришлю вам планировки на почту.", "Посмотрите планировки на сайте.",
                      "Могу скинуть планировки."],
        "avg_bye": ["До свидания.", "Всего доброго.", "Хорошего дня."],
        "client_think": ["Хорошо, я подумаю.", "Ладно, посмотрим.", "Понятно, спасибо."],
        # weak and rude
        "weak_hello": ["Алло.", "Да, слушаю.", "Алло, говорите."],
        "weak_offer": ["Есть однушки и двушки, цены на сайте.", "Квартиры есть, смотрите на сайте.",
                       "От восьми миллионов всё."],
        "weak_price": ["Ну, цены сейчас везде такие.", "Ну а что вы хотели, новостройка.",
                       "Это не ко мне, цены не я ставлю."],
        "weak_metro": ["Не знаю, я там не был.", "Ну, это не ко мне.", "Не знаю, наверное далеко."],
        "weak_bye": ["Ладно, до свидания.", "Ну всё, пока.", "Звоните, если что."],
        "client_weak_end": ["Понятно. Я подумаю.", "Ладно, спасибо.", "Ясно, поищу ещё."],
        "rude_price": ["Вы меня вообще слушаете? Я же сказал, цены на сайте.",
                       "Не морочьте мне голову, не нравится цена, покупайте у других.",
                       "Покупайте у других, если дорого, мне всё равно."],
        "rude_metro": ["Вы мешаете работать, метро не моя забота.", "Это не моя проблема, стройте метро сами.",
                       "Вы покупать будете или нет? Про метро не ко мне."],
    },
    "en": {
        "company": ["Riverside Homes"],
        "good_hello": [
            "Good afternoon, Riverside Homes, my name is {name}.",
            "Good morning, you've reached Riverside Homes sales office, my name is {name}.",
            "Hello, Riverside Homes, {name} speaking, how can I help?",
        ],
        "client_open": [
            "Hi, I'm calling about the flats at Riverside Park.",
            "Hello, I saw your ad for the new development.",
            "Hi there, I'd like to ask about two bedroom apartments.",
            "Good afternoon, I'm interested in the new build by the river.",
        ],
        "good_permission": [
            "Is now a good time to talk? I'll ask a few questions so I can find the right home for you.",
            "Do you have a few minutes? A couple of quick questions so I can find the right home for you.",
            "Have you got a couple of minutes? I want to find the right home for you.",
        ],
        "client_yes": ["Yes, go ahead.", "Sure, that's fine.", "Yes, I have a few minutes."],
        "good_needs_1": [
            "Who is the apartment for, and how many people will be living there?",
            "Are you buying for yourself or for the family, who will be living there?",
            "Who will be living there, is it for the whole family?",
        ],
        "client_needs_1": ["For my family, there are three of us.", "For me and my partner, a baby is on the way.",
                           "For the family, we have two kids."],
        "good_needs_2": [
            "What budget do you have in mind? And what's not working in your current home?",
            "What price range are you looking at? And what's not working in your current home?",
            "How much are you looking to spend? And what matters most to you in the new place?",
        ],
        "client_needs_2": ["About four hundred thousand, we need more space and a school nearby.",
                           "Up to four hundred and fifty, a quiet courtyard would be nice.",
                           "Around three fifty, and a nursery close by."],
        "good_offer": [
            "Based on what you've told me, I can offer a two bedroom flat by the park, exactly what you described.",
            "Since you mentioned the school, I'd recommend a flat facing the courtyard, exactly what you described.",
            "Within your budget we have a great option in building three, with a school right next door.",
        ],
        "client_price": ["That's a bit too expensive for us.", "Honestly, it's too expensive.",
                         "It seems expensive compared to others."],
        "good_price": [
            "I understand. What are you comparing with? The price includes the finish, let's work out the monthly payment.",
            "I completely understand. Let's work out the monthly payment, the price includes the finish and a storage room.",
            "I hear you, price matters. Let's work out the monthly payment with the help to buy scheme.",
        ],
        "client_ok": ["Okay, that sounds better.", "Right, that makes it clearer.", "Well, in that case maybe."],
        "client_metro": ["It's a long way from the station though.", "But it's a long way from the station, that worries me.",
                         "Isn't it a long way from the station?", "It is a long way from the station."],
        "good_metro": [
            "I understand. There's a free shuttle bus to the station, seven minutes door to door.",
            "I see. There's a free shuttle bus to the station every ten minutes, seven minutes door to door.",
        ],
        "good_close": [
            "Shall we book a viewing for Saturday at eleven?",
            "Let's book you in for a viewing, what day works for you, Saturday or Sunday?",
            "I can book you for a viewing, what time works for you?",
        ],
        "client_agree": ["Saturday works.", "Saturday at eleven is fine.", "Sunday morning, please."],
        "good_bye": [
            "Great, you're booked. I'll text you the address and directions. Have a nice day!",
            "Perfect, I'll text you the address and directions. Goodbye!",
            "Lovely, see you then. I'll text you the address and directions, have a great day!",
        ],
        "client_bye": ["Thank you, bye.", "Thanks, see you.", "Great, thanks."],
        "slip": ["Honestly, I don't know, I'll check with a colleague."],
        "avg_hello": ["Good afternoon, Riverside Homes, my name is {name}.", "Riverside Homes, hello.",
                      "Hello, Riverside Homes sales, {name} speaking."],
        "avg_needs": ["What budget?", "How many bedrooms?", "What price range?"],
        "client_needs_short": ["About four hundred.", "Two bedrooms.", "Up to four fifty."],
        "avg_offer": ["I can offer two bedroom flats from four hundred thousand, ready next year.",
                      "There are some units in building three, with a discount now.",
                      "I can offer two beds from four hundred."],
        "avg_price": ["Well, that's the market price, the finish is included.", "I see, but there are no discounts now.",
                      "The price is normal for the area."],
        "avg_metro": ["Well, it's close by car.", "Yes, the new line isn't built yet.", "There's a bus, I think."],
        "avg_close": ["I'll email you the floor plans.", "Have a look at the plans on our website.",
                      "I can send you the floor plans."],
        "avg_bye": ["Goodbye.", "Have a good day.", "Bye now."],
        "client_think": ["Okay, I'll think about it.", "Alright, we'll see.", "I see, thanks."],
        "weak_hello": ["Hello?", "Yeah, hello.", "Sales, hello."],
        "weak_offer": ["We've got one and two beds, prices are online.", "There are flats, check the website.",
                       "Everything starts from three fifty."],
        "weak_price": ["Well, prices are like that everywhere.", "What did you expect, it's a new build.",
                       "Not my department, I don't set the prices."],
        "weak_metro": ["No idea, I've never been there.", "That's not my department.", "I don't know, it's probably far."],
        "weak_bye": ["Okay, bye.", "Right, bye then.", "Call if you need anything."],
        "client_weak_end": ["I see. I'll think about it.", "Okay, thanks anyway.", "Right, I'll look elsewhere."],
        "rude_price": ["Are you even listening? I said the prices are online.",
                       "Stop wasting my time, if you don't like the price, go and buy elsewhere.",
                       "Go and buy elsewhere if it's too expensive, I don't care."],
        "rude_metro": ["You're keeping me from my work, the station is not my concern.",
                       "That's not my problem, build a station yourself.",
                       "Are you buying or not? The station is not my business."],
    },
}

# Managers (file-name id, name said in the greeting) and what share of their calls is of
# each kind: the strong ones are mostly good, the weak ones weak or rude.
MANAGERS = {
    "ru": [("orlova", "Ольга Орлова"), ("sokolov", "Дмитрий Соколов"),
           ("kuznetsova", "Мария Кузнецова"), ("morozov", "Игорь Морозов")],
    "en": [("taylor", "Emma Taylor"), ("walker", "James Walker"),
           ("evans", "Sophie Evans"), ("hughes", "Tom Hughes")],
}
# The calls of each language: (kind, manager index, outcome, options). Options: "price",
# "metro" (the uncovered objection), "slip" (a stop word in a good call).
PLAN: list[tuple[str, int, str | None, tuple[str, ...]]] = [
    # 12 good calls: 11 won, 1 lost; 4 answer the station objection; 1 lets slip a stop word
    ("good", 0, "won", ("price", "metro")), ("good", 2, "won", ("price",)),
    ("good", 0, "won", ("price", "metro")), ("good", 1, "won", ()),
    ("good", 0, "won", ("price",)), ("good", 1, "won", ("price", "metro")),
    ("good", 2, "won", ("price",)), ("good", 0, "won", ()),
    ("good", 1, "won", ("price", "metro")), ("good", 0, "won", ("price", "slip")),
    ("good", 2, "lost", ("price",)), ("good", 1, "won", ()),
    # 12 average calls: 5 won, 7 lost
    ("average", 1, "won", ("price",)), ("average", 2, "lost", ("price", "metro")),
    ("average", 3, "lost", ("metro",)), ("average", 2, "won", ()),
    ("average", 1, "lost", ("price", "metro")), ("average", 3, "won", ("price",)),
    ("average", 2, "lost", ("metro",)), ("average", 1, "won", ()),
    ("average", 3, "lost", ("price", "metro")), ("average", 2, "won", ("price",)),
    ("average", 3, "lost", ("metro",)), ("average", 2, "lost", ()),
    # 8 weak and 4 rude calls: lost
    ("weak", 3, "lost", ("price", "metro")), ("weak", 2, "lost", ("metro",)),
    ("weak", 3, "lost", ("price", "metro")), ("weak", 1, "lost", ("price",)),
    ("weak", 3, "lost", ("metro",)), ("weak", 2, "lost", ("price", "metro")),
    ("weak", 3, "lost", ("price", "metro")), ("weak", 3, "lost", ("metro",)),
    ("rude", 3, "lost", ("price", "metro")), ("rude", 3, "lost", ("price", "metro")),
    ("rude", 2, "lost", ("price", "metro")), ("rude", 3, "lost", ("price",)),
]


@dataclass
class Taken:
    """Per kind, how many calls of it were made so far (picks the next alternative)."""

    seen: dict[str, int]

    def take(self, kind: str) -> int:
        k = self.seen.get(kind, 0)
        self.seen[kind] = k + 1
        return k


def dialogue(pools: dict[str, list[str]], kind: str, k: int, name: str, options: tuple[str, ...],
             rng: random.Random) -> list[tuple[str, str]]:
    """The turns of one call: (role, text)."""
    def pick(key: str, i: int | None = None) -> str:
        values = pools[key]
        return values[(k if i is None else i) % len(values)]

    def any_of(key: str) -> str:
        return rng.choice(pools[key])

    turns: list[tuple[str, str]] = []
    if kind == "good":
        turns += [(M, pick("good_hello").format(name=name)), (C, any_of("client_open")),
                  (M, pick("good_permission")), (C, any_of("client_yes")),
                  (M, pick("good_needs_1")), (C, any_of("client_needs_1")),
                  (M, pick("good_needs_2")), (C, any_of("client_needs_2")),
                  (M, pick("good_offer"))]
        if "price" in options:
            turns += [(C, any_of("client_price")), (M, pick("good_price")), (C, any_of("client_ok"))]
        if "metro" in options:
            turns += [(C, any_of("client_metro")), (M, pick("good_metro", k // 3)), (C, any_of("client_ok"))]
        if "slip" in options:
            turns += [(C, "А когда сдача второго корпуса?" if "Новый" in pools["company"][0]
                       else "When will building two be finished?"), (M, pick("slip"))]
        turns += [(M, pick("good_close")), (C, any_of("client_agree")), (M, pick("good_bye")),
                  (C, any_of("client_bye"))]
    elif kind == "average":
        turns += [(M, pick("avg_hello").format(name=name)), (C, any_of("client_open")), (M, pick("avg_needs")),
                  (C, any_of("client_needs_short")), (M, pick("avg_offer"))]
        if "price" in options:
            turns += [(C, any_of("client_price")), (M, pick("avg_price"))]
        if "metro" in options:
            turns += [(C, any_of("client_metro")), (M, pick("avg_metro"))]
        turns += [(M, pick("avg_close")), (C, any_of("client_think")), (M, pick("avg_bye"))]
    else:  # weak or rude
        turns += [(M, pick("weak_hello")), (C, any_of("client_open")), (M, pick("weak_offer"))]
        if "price" in options:
            turns += [(C, any_of("client_price")), (M, pick("rude_price" if kind == "rude" else "weak_price"))]
        if "metro" in options:
            turns += [(C, any_of("client_metro")), (M, pick("rude_metro" if kind == "rude" else "weak_metro"))]
        turns += [(C, any_of("client_weak_end")), (M, pick("weak_bye"))]
    return turns


def timed(turns: list[tuple[str, str]], rng: random.Random) -> list[dict[str, object]]:
    """Utterances with times: about 0.4 s a word, a short pause between turns."""
    t = round(rng.uniform(0.3, 1.2), 2)
    out = []
    for role, text in turns:
        length = round(0.6 + 0.38 * len(text.split()), 2)
        out.append({"role": role, "start": round(t, 2), "end": round(t + length, 2), "text": text,
                    "channel": 0 if role == M else 1})
        t += length + rng.uniform(0.3, 1.1)
    return out


def phone(language: str, n: int) -> str:
    return f"7916555{n:04d}" if language == "ru" else f"1415777{n:04d}"


def calls(language: str) -> list[tuple[str, dict[str, object]]]:
    """(file name, transcript JSON) of every call of ``language``."""
    rng = random.Random(f"{SEED}-{language}")
    pools = POOLS[language]
    counter = Taken({})
    out = []
    for n, (kind, who, outcome, options) in enumerate(PLAN):
        manager, name = MANAGERS[language][who]
        k = counter.take(kind)
        # a few clients call twice (a second call about the same flat)
        client = n - 3 if n in (14, 27, 33) else n
        day = DAYS[n % len(DAYS)]
        hh, mm = 9 + (n * 7) % 9, (n * 13) % 60
        utterances = timed(dialogue(pools, kind, k, name, options, rng), rng)
        stem = f"{day}_{hh:02d}-{mm:02d}-00_{manager}_{phone(language, client)}_in"
        doc = {
            "format": "call-qa",
            "version": 1,
            "call_id": stem,
            "meta": {"call_id": stem, "outcome": outcome,
                     "extra": {"script": SCRIPT, "generated": "sample_transcripts/generate.py",
                               "kind": kind, "company": pools["company"][0].strip("«»")}},
            "language": language,
            "duration": round(float(utterances[-1]["end"]) + 1.0, 2),  # type: ignore[arg-type]
            "utterances": utterances,
        }
        out.append((f"{stem}.json", doc))
    return out


def main() -> None:
    for old in HERE.glob("*.json"):
        old.unlink()
    total = 0
    for language in POOLS:
        for name, doc in calls(language):
            (HERE / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            total += 1
    print(f"Wrote {total} generated transcripts to {HERE}")


if __name__ == "__main__":
    main()
