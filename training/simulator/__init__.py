"""The sample-data simulator: a city's enterprise-support programme with a hidden ground truth.

``generate`` (sizes, the run and the files it writes), ``institutions`` (the institutions and their
archetypes), ``outcomes`` (the hidden truth and the caseworkers' biased choices), ``text`` (problem texts in
English and Chinese, with typos). Word lists and templates are data files in ``data/`` (JSON, UTF-8; names,
places and words as [English, Chinese] pairs, but ``code_switch`` as [Chinese, English]), which the modules
read once, when they are imported: ``words.json``, ``templates.json`` and ``institutions.json``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["load_data", "pairs"]


@cache
def load_data(name: str) -> Any:
    """The parsed JSON file ``data/<name>`` of this package, read once (callers copy what they keep)."""
    return json.loads((resources.files(__name__) / "data" / name).read_text(encoding="utf-8"))


def pairs(items: list[list[str]]) -> tuple[tuple[str, str], ...]:
    """A JSON list of [English, Chinese] pairs as the tuple of pairs the simulator draws from."""
    return tuple((english, chinese) for english, chinese in items)
