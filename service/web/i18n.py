"""The console's words in English and Simplified Chinese: one catalogue, ``static/labels.json``.

The same file is read here (to render the page in the reader's language and to test it) and fetched by the
page's JavaScript (to switch language without a reload), so the two can never disagree. It holds:

- ``labels``: key -> {language -> text}, every key in every language of ``languages``.
- ``words``: an English phrase the engine writes into its reasons (a category, a sector, a kind, an
  eligibility rule) -> {language -> text}, for every language but the default.
- ``reasons``: the engine's reason and escalation sentences as patterns (regular expressions valid in both
  Python and JavaScript) with a template per non-default language. In a template ``{n}`` is group n looked up
  in ``words`` (kept as written when unknown), ``{n!}`` is group n as written (numbers, matched terms,
  districts) and ``{n*}`` is a comma-separated list of phrases, each looked up (``phrase: count`` items keep
  their count). A sentence no pattern matches is shown as the engine wrote it.

Inputs: the JSON file and a language code. Outputs: label dicts, a language chosen from ``Accept-Language``,
and ``translate_reason`` (the reference the JavaScript ``translateReason`` in ``static/i18n.js`` mirrors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Catalogue", "catalogue", "LABELS_FILE", "choose_language", "translate_reason"]

LABELS_FILE = Path(__file__).resolve().parent / "static" / "labels.json"
_PLACEHOLDER = re.compile(r"\{(\d+)([!*]?)\}")
_COUNTED = re.compile(r"^(.*): (\d+)$")


@dataclass(frozen=True, slots=True)
class Catalogue:
    languages: dict[str, str]  # code -> its own name, e.g. "zh-Hans" -> "中文"
    default: str
    labels: dict[str, dict[str, str]]
    words: dict[str, dict[str, str]]
    reasons: tuple[tuple[re.Pattern[str], dict[str, str]], ...]

    def labels_for(self, language: str) -> dict[str, str]:
        """Every label in ``language`` (the default language's text where one were missing)."""
        return {key: texts.get(language) or texts[self.default] for key, texts in self.labels.items()}


@cache
def catalogue(path: Path = LABELS_FILE) -> Catalogue:
    """The catalogue in ``path``, read once per process (the first time it is asked for)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    reasons = tuple(
        (re.compile(entry["pattern"]), {k: v for k, v in entry.items() if k != "pattern"})
        for entry in raw["reasons"]
    )
    return Catalogue(languages=dict(raw["languages"]), default=str(raw["default"]), labels=dict(raw["labels"]),
                     words=dict(raw["words"]), reasons=reasons)


def choose_language(accept_language: str | None, found: Catalogue | None = None) -> str:
    """The first language of an ``Accept-Language`` header that the console speaks, else the default.

    Any Chinese (``zh``, ``zh-CN``, ``zh-Hans``...) is served as Simplified Chinese.
    """
    known = found or catalogue()
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if not tag:
            continue
        for code in known.languages:
            if tag == code.lower() or tag.split("-", 1)[0] == code.lower().split("-", 1)[0]:
                return code
    return known.default


def _word(phrase: str, language: str, words: dict[str, dict[str, str]]) -> str:
    return words.get(phrase, {}).get(language, phrase)


def _list(text: str, language: str, words: dict[str, dict[str, str]]) -> str:
    items = []
    for item in text.split(", "):
        counted = _COUNTED.match(item)
        if item not in words and counted:
            items.append(f"{_word(counted.group(1), language, words)}：{counted.group(2)}")
        else:
            items.append(_word(item, language, words))
    return "、".join(items) if language.startswith("zh") else ", ".join(items)


def translate_reason(text: str, language: str, found: Catalogue | None = None) -> str:
    """``text`` (an engine reason or escalation sentence, in English) in ``language``; see the module doc."""
    known = found or catalogue()
    if language == known.default:
        return text
    for pattern, templates in known.reasons:
        match = pattern.match(text)
        if match is None or language not in templates:
            continue

        def fill(placeholder: re.Match[str], match: re.Match[str] = match) -> str:
            value, how = match.group(int(placeholder.group(1))), placeholder.group(2)
            if how == "!":
                return value
            if how == "*":
                return _list(value, language, known.words)
            return _word(value, language, known.words)

        return _PLACEHOLDER.sub(fill, templates[language])
    return text
