"""A small, hand-written city catalogue (tests/data/institutions_city.csv) for the engine's tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent / "data"


def city_institutions() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "institutions_city.csv", dtype=str, keep_default_na=False)
    for column in ("min_amount", "max_amount", "capacity"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    frame["active"] = frame["active"] == "true"
    return frame


def handwritten_cases() -> list[dict]:
    lines = (DATA / "handwritten_cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
