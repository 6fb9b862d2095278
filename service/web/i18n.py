"""The console's words in English and Simplified Chinese: one catalogue, ``static/labels.json``.

The same file is read here (to render the page in the reader's language and to test it) and fetched by the
page's JavaScript (to switch language without a reload), so the two can never disagree. It holds
``labels``: key -> {language -> text}, every key in every language of ``languages``.

Reasons are not labels: the page renders them from their code and parameters with the templates of
``matching.explain.reasons`` (served at ``/console/reasons.json``).

Inputs: the JSON file and a language code. Outputs: label dicts and a language chosen from ``?lang=`` or
``Accept-Language``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Catalogue", "catalogue", "LABELS_FILE", "choose_language"]

LABELS_FILE = Path(__file__).resolve().parent / "static" / "labels.json"


@dataclass(frozen=True, slots=True)
class Catalogue:
    languages: dict[str, str]  # code -> its own name, e.g. "zh-Hans" -> "中文"
    default: str
    labels: dict[str, dict[str, str]]

    def labels_for(self, language: str) -> dict[str, str]:
        """Every label in ``language`` (the default language's text where one were missing)."""
        return {key: texts.get(language) or texts[self.default] for key, texts in self.labels.items()}


@cache
def catalogue(path: Path = LABELS_FILE) -> Catalogue:
    """The catalogue in ``path``, read once per process (the first time it is asked for)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Catalogue(languages=dict(raw["languages"]), default=str(raw["default"]), labels=dict(raw["labels"]))


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
