"""Writes utterances.tsv: the labelled PII set of tests/test_redact.py (run once; the file
is committed). Each line: ``lang<TAB>text``; personal data is marked ``{{KIND|words}}``.

Hand-written sentence frames, filled with numbers that pass the real checks (Luhn for
cards, INN / SNILS check digits, IBAN mod-97, valid phone ranges), said in digits in the
usual formats or dictated as words the way people dictate them (groups of 3-2-2 for
phones, pairs or single digits for cards). Negatives are the look-alikes a sales call is
full of: prices, dates, flats, floors, areas, order and contract numbers, times.

    python tests/data/pii/make_set.py
"""

from __future__ import annotations

import random
from pathlib import Path

R = random.Random(152)
RU_U = ["ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"]
RU_TEEN = ["десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
           "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать"]
RU_T = ["", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят", "восемьдесят", "девяносто"]
RU_H = ["", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот", "девятьсот"]
EN_U = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EN_TEEN = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
EN_T = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def ru_group(g: str) -> str:
    """A digit group as dictated: "916" -> "девятьсот шестнадцать", "05" -> "ноль пять"."""
    if g[0] == "0" or len(g) == 1:
        return " ".join(RU_U[int(c)] for c in g)
    n = int(g)
    out = []
    if len(g) == 3:
        out.append(RU_H[n // 100])
        n %= 100
        if n == 0:
            return out[0]
        if n < 10:
            return out[0] + " " + RU_U[n]
    if 10 <= n < 20:
        out.append(RU_TEEN[n - 10])
    else:
        out.append(RU_T[n // 10])
        if n % 10:
            out.append(RU_U[n % 10])
    return " ".join(x for x in out if x)


def ru_said(groups: list[str], commas: bool = False) -> str:
    sep = ", " if commas else " "
    return sep.join(ru_group(g) for g in groups)


def en_digits(s: str, oh: bool = False) -> str:
    return " ".join(("oh" if oh and c == "0" else EN_U[int(c)]) for c in s)


def en_pairs(s: str) -> str:
    out = []
    for i in range(0, len(s), 2):
        p = s[i : i + 2]
        n = int(p)
        if len(p) == 1 or p[0] == "0":
            out.append(en_digits(p, oh=True))
        elif n < 20:
            out.append(EN_TEEN[n - 10])
        else:
            out.append(EN_T[n // 10] + ("" if n % 10 == 0 else " " + EN_U[n % 10]))
    return " ".join(out)


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(str(R.randrange(10)) for _ in range(length - len(prefix) - 1))
    for d in range(10):
        s = body + str(d)
        total = 0
        for i, ch in enumerate(reversed(s)):
            v = int(ch)
            if i % 2:
                v *= 2
                v -= 9 if v > 9 else 0
            total += v
        if total % 10 == 0:
            return s
    raise AssertionError


def inn10() -> str:
    while True:
        b = "77" + "".join(str(R.randrange(10)) for _ in range(7))
        c = sum(int(a) * w for a, w in zip(b, (2, 4, 10, 3, 5, 9, 4, 6, 8))) % 11 % 10
        return b + str(c)


def inn12() -> str:
    b = "50" + "".join(str(R.randrange(10)) for _ in range(8))
    c1 = sum(int(a) * w for a, w in zip(b, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8))) % 11 % 10
    b += str(c1)
    c2 = sum(int(a) * w for a, w in zip(b, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8))) % 11 % 10
    return b + str(c2)


def snils() -> str:
    b = "".join(str(R.randrange(10)) for _ in range(9))
    s = sum(int(d) * (9 - i) for i, d in enumerate(b)) % 101
    s = 0 if s == 100 else s
    return b + f"{s:02d}"


def iban(country: str, bban: str) -> str:
    s = bban + country + "00"
    num = int("".join(str(int(ch, 36)) for ch in s))
    check = 98 - num % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def mobile() -> str:
    return "9" + R.choice(["16", "03", "26", "85", "99", "67", "10", "52"]) + "".join(str(R.randrange(10)) for _ in range(7))


def us_phone() -> str:
    return R.choice(["415", "212", "646", "312", "617", "206"]) + R.choice(["555", "867", "234", "908"]) + "".join(
        str(R.randrange(10)) for _ in range(4))


def m(kind: str, text: str) -> str:
    return "{{" + kind + "|" + text + "}}"


def ru_phone_forms(d: str) -> list[str]:
    a, b, c, e = d[:3], d[3:6], d[6:8], d[8:]
    return [
        f"+7 ({a}) {b}-{c}-{e}", f"8 {a} {b} {c} {e}", f"8{d}", f"8-{a}-{b}-{c}-{e}", f"+7{d}",
        f"+7 {a} {b} {c}{e}",
        "восемь " + ru_said([a, b, c, e]), "плюс семь " + ru_said([a, b, c, e]),
        "восемь, " + ru_said([a, b, c, e], commas=True), ru_said([a, b, c, e]),
    ]


RU_PHONE_FRAMES = [
    "Запишите мой номер: {}, это мобильный.", "Да, звоните на {} после шести.", "Мой телефон {}",
    "Можно на этот номер {} в ватсап.", "Перезвоните, пожалуйста, {}, спросите Ольгу.",
    "Контактный номер жены {}", "Записываю: {}, верно?", "Лучше на рабочий, {}",
]
EN_PHONE_FRAMES = [
    "My number is {}, call after five.", "You can reach me at {}", "Sure, write it down: {}.",
    "Text me on {} please.", "The office line is {}", "Call my wife instead, {}.",
]
RU_CARD_FRAMES = ["Номер карты {}, срок до конца года.", "Оплачу картой, вот номер: {}", "Карта {}, на имя Ивана."]
EN_CARD_FRAMES = ["The card number is {}.", "Put the deposit on my card, {}", "It's a Visa, {}."]
RU_EMAIL_FRAMES = ["Пришлите на почту {}, пожалуйста.", "Моя почта {}", "Почта жены {}, продублируйте туда."]
EN_EMAIL_FRAMES = ["Email it to {} please.", "My email is {}.", "Send the offer to {}, thanks."]


def main() -> None:
    rows: list[tuple[str, str]] = []
    # --- phones
    for frame in RU_PHONE_FRAMES:
        for form in R.sample(range(10), 4):
            rows.append(("ru", frame.format(m("PHONE", ru_phone_forms(mobile())[form]))))
    rows.append(("ru", "Городской {}, добавочный не нужен.".format(m("PHONE", "+7 495 123-45-67"))))
    rows.append(("ru", "Звоните в офис {}".format(m("PHONE", "8 (812) 309-12-34"))))
    for frame in EN_PHONE_FRAMES:
        for k in range(4):
            d = us_phone()
            form = [f"({d[:3]}) {d[3:6]}-{d[6:]}", f"+1 {d[:3]} {d[3:6]} {d[6:]}", en_digits(d, oh=True),
                    f"{d[:3]}-{d[3:6]}-{d[6:]}"][k]
            rows.append(("en", frame.format(m("PHONE", form))))
    rows.append(("en", "Our London office is {}.".format(m("PHONE", "+44 20 7946 0958"))))
    rows.append(("en", "Call me on {} any time".format(m("PHONE", "four one five double five five oh one two three"))))
    # --- cards
    for frame in RU_CARD_FRAMES:
        for k in range(4):
            c = luhn_complete(R.choice(["4276", "5469", "2202", "4817"]), 16)
            form = [" ".join(c[i : i + 4] for i in range(0, 16, 4)), c,
                    " ".join(ru_group(c[i : i + 2]) for i in range(0, 16, 2)),
                    " ".join(RU_U[int(ch)] for ch in c)][k]
            rows.append(("ru", frame.format(m("CARD", form))))
    for frame in EN_CARD_FRAMES:
        for k in range(4):
            c = luhn_complete(R.choice(["4111", "5500", "3782"]), 16 if k != 3 else 15)
            form = [" ".join(c[i : i + 4] for i in range(0, len(c), 4)), c, en_pairs(c), en_digits(c)][k]
            rows.append(("en", frame.format(m("CARD", form))))
    # --- e-mails
    ru_mails = [("ivan.petrov@mail.ru", "иван точка петров собака мэйл точка ру"),
                ("olga_smirnova@yandex.ru", "ольга нижнее подчеркивание смирнова собака яндекс точка ру"),
                ("sidorov-a@bk.ru", "сидоров дефис а собака бк точка ру"),
                ("info@novydom.ru", "инфо собака новыйдом точка ру"),
                ("k.volkova@gmail.com", "ка точка волкова собака джимейл точка ком"),
                ("anna1985@inbox.ru", "анна1985 собака инбокс точка ру")]
    for frame in RU_EMAIL_FRAMES:
        for written, said in ru_mails:
            rows.append(("ru", frame.format(m("EMAIL", R.choice([written, said])))))
    en_mails = [("john.smith@example.com", "john dot smith at example dot com"),
                ("mary_jones@gmail.com", "mary underscore jones at gmail dot com"),
                ("b.brown@brownhomes.co.uk", "b dot brown at brownhomes dot co dot uk"),
                ("sales@acme.io", "sales at acme dot io")]
    for frame in EN_EMAIL_FRAMES:
        for written, said in en_mails:
            rows.append(("en", frame.format(m("EMAIL", written))))
            rows.append(("en", frame.format(m("EMAIL", said))))
    # --- passport, INN, SNILS, accounts, IBAN
    for _ in range(4):
        s, n = f"{R.randrange(10, 99)}{R.randrange(0, 24):02d}", f"{R.randrange(100000, 999999)}"
        rows.append(("ru", "Паспорт {}, выдан в две тысячи десятом.".format(m("PASSPORT", f"{s[:2]} {s[2:]} {n}"))))
        rows.append(("ru", "Серия и номер паспорта: {}".format(m("PASSPORT", f"{s} {n}"))))
        rows.append(("ru", "паспорт серия {}".format(m("PASSPORT", f"{s} номер {n}"))))
        rows.append(("ru", "Данные паспорта {}".format(m("PASSPORT", ru_said([s[:2], s[2:]]) + ", " + ru_said([n[:3], n[3:]])))))
    for _ in range(3):
        v = inn10()
        rows.append(("ru", "ИНН организации {}, КПП пришлю.".format(m("INN", v))))
        w = inn12()
        rows.append(("ru", "Мой ИНН {}".format(m("INN", w))))
        sn = snils()
        rows.append(("ru", "СНИЛС {}".format(m("SNILS", f"{sn[:3]}-{sn[3:6]}-{sn[6:9]} {sn[9:]}"))))
        rows.append(("ru", "Номер СНИЛС {}, записали?".format(m("SNILS", sn))))
        acc = "40817810" + "".join(str(R.randrange(10)) for _ in range(12))
        rows.append(("ru", "Расчетный счет {}, банк Сбербанк.".format(m("ACCOUNT", acc))))
    rows.append(("ru", "Реквизиты: счет {}".format(m("ACCOUNT", "40702810" + "0" * 3 + "123456789"))))
    rows.append(("en", "Our IBAN is {}.".format(m("IBAN", iban("GB", "NWBK60161331926819")))))
    rows.append(("en", "Wire it to {} please".format(m("IBAN", iban("DE", "370400440532013000")))))
    rows.append(("ru", "IBAN для перевода {}".format(m("IBAN", iban("KZ", "125KZT5004100100")))))
    rows.append(("en", "Account IBAN {}, reference the contract.".format(m("IBAN", iban("FR", "20041010050500013M02606")))))
    # found by hand after the detector was written (held out until then)
    rows.append(("ru", "Моя почта {}, пишите туда.".format(m("EMAIL", "ivan собака мэйл ру"))))
    rows.append(("ru", "Звоните по номеру {}".format(m("PHONE", "8 800 555 35 35"))))
    # --- negatives (no personal data)
    ru_neg = [
        "Квартира стоит восемь миллионов семьсот тысяч.", "Цена 8 700 000 рублей, без отделки.",
        "Это двенадцать миллионов пятьсот тысяч с отделкой.", "Бюджет около десяти миллионов.",
        "Первый взнос два миллиона триста тысяч.", "Ипотека под шесть процентов на двадцать лет.",
        "Сдача дома 21 ноября 2026 года.", "Подписываем 21.11.2026 в 10:30.", "Встречаемся двадцать первого ноября в одиннадцать.",
        "Квартира 125 на восьмом этаже.", "Этаж 8, квартира 125, площадь 54 метра.", "Площадь 78,5 квадратных метров.",
        "Номер заказа 4815162342, посмотрите статус.", "Договор номер 2026-11-345 от пятницы.", "Артикул 1234567, это ламинат.",
        "Корпус 3, подъезд 2, этаж 14.", "Дом 15, строение 2.", "Заказ 9161234567 уже оплачен.",
        "Лот 4508123456 в каталоге.", "Кадастровый номер 50:21:0010101:1234.", "Ставка 5,9% годовых.",
        "Это на 2 миллиона 500 тысяч дешевле.", "У нас три комнаты и два санузла.", "С девяти до восемнадцати, без выходных.",
        "Перезвоню через пятнадцать минут.", "Да, номер квартиры пятнадцать.", "Стоимость метра триста восемьдесят тысяч рублей.",
        "Потолки три метра, окна в пол.", "Это 2025 год постройки.", "Скидка сто пятьдесят тысяч до конца месяца.",
        "Паркинг стоит один миллион двести тысяч.", "Пять минут от метро, остановка рядом.", "Было 9 800 000, стало 9 500 000 рублей.",
        "Продали уже 450 квартир из 600.", "Участок 12 соток.", "В 2024 году сдали второй корпус.",
        "Офис 305 на третьем этаже.", "Код домофона не нужен, консьерж.", "Номер телефона у вас есть в письме.",
        "Позвоните мне завтра, номер вы знаете.", "Карту лояльности дадим на сделке.", "Почту пришлю позже.",
        "Сорок пять квадратов и лоджия.", "Ежемесячный платеж восемьдесят семь тысяч.", "Восемь девятьсот это цена за метр в тысячах.",
        "Да, записала, спасибо.", "Добрый день, компания Новый дом.", "Собака у нас маленькая, можно с ней?",
        "Точка продаж на первом этаже.", "Это дорого для нас.",
        "раз два три четыре пять шесть семь восемь девять десять", "Стоимость 12 345 678 рублей.",
        "Договор 77-01/2026-123456 подписан.",
    ]
    en_neg = [
        "It's $450,000 with parking.", "The price is four hundred and fifty thousand dollars.", "About half a million.",
        "We close on November 21, 2026.", "Meet at 10:30 at the office.", "Apartment 12B on the fourth floor.",
        "Three bedrooms, 1,200 square feet.", "Your order 4815162342 has shipped.", "Invoice 2026-0345 is attached.",
        "Ticket number 5551234567 in our system.", "The rate is 6.5 percent for 30 years.", "We have 250 units left out of 400.",
        "Unit 1402, floor 14.", "Call me tomorrow, you have my number.", "Send me the details by email.",
        "My card is in the car, I'll call back.", "It was built in 2019.", "Twenty minutes from downtown.",
        "The HOA fee is three hundred dollars a month.", "Reference 4111 in the contract.", "Lot 42 in the auction list.",
        "We are at the office at nine.", "Suite 300, 2 Main Street.", "That's too expensive for us.",
        "Room 101 is the showroom.",
    ]
    rows += [("ru", t) for t in ru_neg] + [("en", t) for t in en_neg]
    out = Path(__file__).with_name("utterances.tsv")
    out.write_text("\n".join(f"{lang}\t{text}" for lang, text in rows) + "\n", encoding="utf-8")
    print(f"{len(rows)} utterances, {sum('{{' in t for _, t in rows)} with personal data -> {out}")


if __name__ == "__main__":
    main()
