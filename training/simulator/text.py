"""The simulator's text bank: how enterprises name themselves and state their problems, in English and Chinese.

Inputs: per-problem arrays drawn by ``training.simulator.generate`` (true categories as indexes into
``matching.records.CATEGORIES``, sector and district indexes, amounts asked for, staff, founding year) and
a numpy ``Generator``. Outputs: the problem texts with their language (``en``, ``zh`` or ``mixed``) and a
flag telling which texts carry typos (``render_problem_texts``), and enterprise names (``enterprise_names``).

Every random choice reads a pre-drawn uniform matrix, one row per problem, so a seed gives the same texts
whatever else changes, and a rendering with ``typo_share=0`` is the typo-free version of the same texts.
Institution names and descriptions are in ``training.simulator.institutions``; the vocabulary both share
(the city, its districts and streets) is here. The words, names and places come from ``data/words.json``, the
problem statements and their openings, closings and connectors from ``data/templates.json``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from matching.records import CATEGORIES, SECTORS
from training.simulator import load_data, pairs

__all__ = [
    "CITY",
    "CITIES",
    "DISTRICTS",
    "DISTRICT_WEIGHTS",
    "BRANDS",
    "SECTOR_NAMES",
    "STREETS",
    "SECTOR_WORDS",
    "TEMPLATES",
    "ProblemTexts",
    "render_problem_texts",
    "enterprise_names",
    "format_amount",
]

Pair = tuple[str, str]  # (English, Chinese)

_WORDS = load_data("words.json")
_TEMPLATES = load_data("templates.json")

# The city of the programme first; the others appear only in province-sized runs (thousands of institutions).
CITIES: tuple[Pair, ...] = pairs(_WORDS["cities"])
CITY: Pair = CITIES[0]
# District names as stored in the tables (pinyin) and in Chinese; the first is the city centre.
DISTRICTS: tuple[Pair, ...] = pairs(_WORDS["districts"])
# How enterprises spread over the districts (the centre and the two river banks are the busiest).
DISTRICT_WEIGHTS: tuple[float, ...] = (0.18, 0.16, 0.15, 0.13, 0.11, 0.10, 0.09, 0.08)
STREETS: tuple[Pair, ...] = pairs(_WORDS["streets"])


SECTOR_NAMES: dict[str, Pair] = {sector: (english, chinese)
                                 for sector, (english, chinese) in _WORDS["sector_names"].items()}


@dataclass(frozen=True, slots=True)
class SectorWords:
    trades: tuple[Pair, ...]  # what the firm is, for names and "we are a ... company"
    products: tuple[Pair, ...]
    equipment: tuple[Pair, ...]


SECTOR_WORDS: dict[str, SectorWords] = {
    sector: SectorWords(pairs(words["trades"]), pairs(words["products"]), pairs(words["equipment"]))
    for sector, words in _WORDS["sector_words"].items()
}

# Slots: {amount} {product} {equipment} {place} {staff} {years} {trade} {mu} {kva}. English templates hold no
# Chinese and Chinese templates no Latin letters, so the language of a text is the language it was drawn in.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    category: {language: tuple(texts) for language, texts in by_language.items()}
    for category, by_language in _TEMPLATES["problems"].items()
}

_PREFIXES: dict[str, tuple[str, ...]] = {language: tuple(t) for language, t in _TEMPLATES["prefixes"].items()}
_CLOSINGS: dict[str, tuple[str, ...]] = {language: tuple(t) for language, t in _TEMPLATES["closings"].items()}
_CONNECTORS: dict[str, tuple[str, ...]] = {language: tuple(t) for language, t in _TEMPLATES["connectors"].items()}
# Chinese words that bilingual writers often put in English ("需要一笔working capital").
_CODE_SWITCH: tuple[Pair, ...] = tuple((chinese, english) for chinese, english in _WORDS["code_switch"])
# Pinyin-input slips: the intended character and a homophone typed by mistake.
_ZH_SLIPS: dict[str, str] = dict(_WORDS["zh_slips"])

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_LATIN_WORD = re.compile(r"[A-Za-z]{4,}")
_DICE_COLUMNS = 48


@dataclass(frozen=True, slots=True)
class ProblemTexts:
    texts: list[str]
    languages: np.ndarray  # "en", "zh" or "mixed"
    typos: np.ndarray  # bool: the text differs from its typo-free rendering


class _Dice:
    """Reads one pre-drawn row of uniforms in order; past its end it reuses the row, rescrambled."""

    __slots__ = ("row", "at")

    def __init__(self, row: list[float]) -> None:
        self.row = row
        self.at = 0

    def uniform(self) -> float:
        self.at += 1
        if self.at <= _DICE_COLUMNS:
            return self.row[self.at - 1]
        return (self.row[self.at % _DICE_COLUMNS] * 7919.0 + self.at * 0.6180339887) % 1.0

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.uniform() * len(options))]

    def below(self, share: float) -> bool:
        return self.uniform() < share


def format_amount(amount: float, language: str, choice: float) -> str:
    """Money as people write it: ``RMB 1.2 million``, ``350,000 yuan``, ``120万元``..."""
    if language == "zh":
        if amount >= 1e8:
            return f"{amount / 1e8:g}亿元"
        options = (f"{amount / 1e4:g}万元", f"{amount / 1e4:g}万", f"人民币{amount / 1e4:g}万元")
    elif amount >= 1e6:
        options = (f"RMB {amount / 1e6:g} million", f"{amount / 1e6:g} million yuan", f"¥{amount:,.0f}",
                   f"{amount:,.0f} yuan", f"{amount / 1e6:g}m RMB")
    else:
        options = (f"{amount:,.0f} yuan", f"¥{amount:,.0f}", f"RMB {amount / 1e3:g}k", f"{amount / 1e3:g}k yuan")
    return options[int(choice * len(options))]


@lru_cache(maxsize=1024)
def _slot_names(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@lru_cache(maxsize=64)
def _templates(category: str, language: str, with_amount: bool) -> tuple[str, ...]:
    bank = TEMPLATES[category][language]
    return bank if with_amount else tuple(t for t in bank if "amount" not in _slot_names(t))


def _slots(side: int, words: SectorWords, picks: list[float], district: int, amount: float, staff: int,
           years: int) -> dict[str, str]:
    """Slot values in English (side 0) or Chinese (1); ``picks`` choose the same things in both languages."""
    place_en, place_zh = DISTRICTS[district]
    trade = words.trades[int(picks[0] * len(words.trades))][side]
    return {
        "amount": format_amount(amount, "zh" if side else "en", picks[4]) if amount == amount else "",
        "product": words.products[int(picks[1] * len(words.products))][side],
        "equipment": words.equipment[int(picks[2] * len(words.equipment))][side],
        "place": place_zh if side else (place_en if picks[3] < 0.5 else f"{place_en} District"),
        "staff": str(max(staff, 2)),
        "years": str(max(years, 1)),
        "trade": trade if side else trade.lower(),
        "mu": str(5 + int(picks[5] * 60)),
        "kva": str((2 + int(picks[6] * 12)) * 100),
    }


def _statement(dice: _Dice, category: str, language: str, slots: dict[str, str], with_amount: bool) -> str:
    return dice.pick(_templates(category, language, with_amount)).format_map(slots)


def _join(first: str, second: str, connector: str) -> str:
    """Two statements in one text: close the first sentence and lower-case the second's first word."""
    if _CJK.search(connector):
        return first.rstrip("。，,. ") + "。" + connector + second
    first = _sentence(first)
    if len(second) > 1 and second[1].islower():
        second = second[0].lower() + second[1:]
    return f"{first} {connector}{second}"


def _sentence(text: str) -> str:
    return text if not text or text[-1] in ".!?。？！" else text + "."


def _mixed(dice: _Dice, category: str, slots: dict[str, dict[str, str]], with_amount: bool) -> str:
    """One statement in both scripts, by one of the ways bilingual writers mix them."""
    way = int(dice.uniform() * 4)
    zh = dice.pick(_templates(category, "zh", with_amount))
    en = dice.pick(_templates(category, "en", with_amount))
    if way == 0 and _slot_names(zh) & {"product", "equipment"}:  # Chinese sentence, English product names
        text = zh.format_map({**slots["zh"], "product": slots["en"]["product"],
                              "equipment": slots["en"]["equipment"]})
    elif way == 1 and _slot_names(en) & {"product", "equipment", "place"}:  # English sentence, Chinese names
        text = en.format_map({**slots["en"], "product": slots["zh"]["product"],
                              "equipment": slots["zh"]["equipment"], "place": slots["zh"]["place"]})
    elif way == 2:  # Chinese sentence with English key words
        text = zh.format_map(slots["zh"])
        for chinese, english in _CODE_SWITCH:
            if chinese in text and dice.below(0.7):
                text = text.replace(chinese, english, 1)
    else:
        text = ""
    if not (_CJK.search(text) and _LATIN.search(text)):  # the same need stated in both languages
        text = en.format_map(slots["en"]) + " " + zh.format_map(slots["zh"])
    return text


def _typo(text: str, dice: _Dice) -> str:
    """One to three slips: swapped or dropped letters in English words, homophones in Chinese."""
    latin = list(_LATIN_WORD.finditer(text))
    for _ in range(1 + int(dice.uniform() * (3 if len(text) > 80 else 2))):
        if latin and (not _CJK.search(text) or dice.below(0.6)):
            match = latin[int(dice.uniform() * len(latin))]
            word, start = match.group(), match.start()
            at = 1 + int(dice.uniform() * (len(word) - 2))
            op = dice.uniform()
            if op < 0.5 and word[at] != word[at + 1]:
                word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            elif op < 0.85:
                word = word[:at] + word[at + 1 :]
            else:
                word = word[:at] + word[at] + word[at:]
            text = text[:start] + word + text[match.end() :]
            latin = list(_LATIN_WORD.finditer(text))
        else:
            slips = [i for i, ch in enumerate(text) if ch in _ZH_SLIPS]
            if slips:
                i = slips[int(dice.uniform() * len(slips))]
                text = text[:i] + _ZH_SLIPS[text[i]] + text[i + 1 :]
            else:
                cjk = [m.start() for m in _CJK.finditer(text)]
                if len(cjk) > 2:
                    i = cjk[int(dice.uniform() * len(cjk))]
                    text = text[:i] + text[i + 1 :]
    return text


def render_problem_texts(
    rng: np.random.Generator,
    *,
    first: np.ndarray,
    second: np.ndarray,
    sectors: np.ndarray,
    districts: np.ndarray,
    amounts: np.ndarray,
    staff: np.ndarray,
    years: np.ndarray,
    zh_share: float = 0.20,
    mixed_share: float = 0.10,
    typo_share: float = 0.10,
) -> ProblemTexts:
    """Texts for problems with true categories ``first`` and ``second`` (indexes; -1: none).

    ``amounts`` is NaN where no amount was asked for; then no template mentioning an amount is used.
    """
    n = len(first)
    slot_picks = rng.random((n, 7)).tolist()
    dice_rows = rng.random((n, _DICE_COLUMNS)).tolist()
    draw = rng.random((n, 2))
    languages = np.where(draw[:, 0] < zh_share, "zh", np.where(draw[:, 0] < zh_share + mixed_share, "mixed", "en"))
    typo_wanted = (draw[:, 1] < typo_share).tolist()
    texts: list[str] = []
    typos = np.zeros(n, dtype=bool)
    names = [(CATEGORIES[f], CATEGORIES[s] if s >= 0 else None) for f, s in zip(first.tolist(), second.tolist(),
                                                                                  strict=True)]
    words = [SECTOR_WORDS[SECTORS[k]] for k in range(len(SECTORS))]
    rows = zip(languages.tolist(), names, sectors.tolist(), districts.tolist(), amounts.tolist(), staff.tolist(),
               years.tolist(), strict=True)
    for i, (language, categories, sector, district, amount, size, age) in enumerate(rows):
        dice = _Dice(dice_rows[i])
        with_amount = amount == amount
        sides = ("en", "zh") if language == "mixed" else (language,)
        slots = {side: _slots(side == "zh", words[sector], slot_picks[i], district, amount, size, age)
                 for side in sides}
        base = language if language != "mixed" else ("zh" if dice.below(0.5) else "en")
        if language == "mixed":
            text = _mixed(dice, categories[0], slots, with_amount)
        else:
            text = _statement(dice, categories[0], base, slots[base], with_amount)
        if categories[1] is not None:
            second_text = _statement(dice, categories[1], base, slots[base], with_amount)
            text = _join(text, second_text, dice.pick(_CONNECTORS[base]))
        if dice.below(0.3):
            prefix = dice.pick(_PREFIXES[base]).format_map(slots[base])
            text = prefix + ("" if base == "zh" else " ") + text
        if dice.below(0.2):
            closing = dice.pick(_CLOSINGS[base])
            text = text + closing if base == "zh" else _sentence(text) + " " + closing
        if typo_wanted[i]:
            slipped = _typo(text, dice)
            typos[i] = slipped != text
            text = slipped
        texts.append(text)
    return ProblemTexts(texts=texts, languages=languages, typos=typos)


# --------------------------------------------------------------------------------------- enterprise names

BRANDS: tuple[Pair, ...] = pairs(_WORDS["brands"])
_SURNAMES: tuple[Pair, ...] = pairs(_WORDS["surnames"])
_SHOP_SECTORS = frozenset({"wholesale_retail", "catering_accommodation", "other"})


def enterprise_names(rng: np.random.Generator, sectors: np.ndarray, districts: np.ndarray,
                     zh_share: float = 0.55) -> list[str]:
    """Company names as registered: ``江城市恒达机械有限公司``, ``Jiangbei Jiahe Tea Cooperative``, ``王记火锅店``."""
    draw = rng.random((len(sectors), 5))
    names: list[str] = []
    for i in range(len(sectors)):
        u = draw[i]
        sector = SECTORS[int(sectors[i])]
        trade = SECTOR_WORDS[sector].trades
        trade_en, trade_zh = trade[int(u[1] * len(trade))]
        brand_en, brand_zh = BRANDS[int(u[2] * len(BRANDS))]
        district_en, district_zh = DISTRICTS[int(districts[i])]
        form = u[3]
        if sector in _SHOP_SECTORS and form < 0.3:
            surname_en, surname_zh = _SURNAMES[int(u[4] * len(_SURNAMES))]
            en, zh = f"{surname_en}'s {trade_en}", f"{surname_zh}记{trade_zh}店"
        elif sector == "agriculture" and form < 0.4:
            en = f"{district_en} {brand_en} {trade_en} Cooperative"
            zh = f"{district_zh}{brand_zh}{trade_zh}专业合作社"
        elif form < 0.55:
            en, zh = f"{CITY[0]} {brand_en} {trade_en} Co., Ltd.", f"{CITY[1]}市{brand_zh}{trade_zh}有限公司"
        elif form < 0.75:
            en, zh = f"{district_en} {brand_en} {trade_en} Co., Ltd.", f"{district_zh}{brand_zh}{trade_zh}有限公司"
        else:
            en, zh = f"{brand_en} {trade_en} Co., Ltd.", f"{brand_zh}{trade_zh}有限公司"
        names.append(zh if u[0] < zh_share else en)
    return names
