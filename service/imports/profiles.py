"""Small helpers that word an institution's history as profile text (what it served, where, how much).

Profiles are built from the rows an adapter allows (those before the profile cut-off); these helpers only turn
already filtered values into readable phrases, e.g. ``counted(["a", "b", "a"])`` -> ``"a (2), b (1)"``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["counted", "amount_phrase", "years_phrase"]


def counted(values: Iterable[str], limit: int = 10) -> str:
    """The most frequent non-empty values with their counts, most frequent first (ties by value)."""
    series = pd.Series([v for v in values if isinstance(v, str) and v.strip()], dtype=object)
    if series.empty:
        return ""
    counts = series.value_counts()
    order = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return ", ".join(f"{value} ({count})" for value, count in order)


def amount_phrase(amounts: np.ndarray, currency: str = "$") -> str:
    """``median $50,000 (from $10,000 to $250,000)`` for the finite amounts; "" when there are none."""
    finite = amounts[np.isfinite(amounts)]
    if finite.size == 0:
        return ""
    low, median, high = np.min(finite), np.median(finite), np.max(finite)
    return f"median {currency}{median:,.0f} (from {currency}{low:,.0f} to {currency}{high:,.0f})"


def years_phrase(times: pd.Series) -> str:
    years = pd.to_datetime(times).dt.year
    if years.empty:
        return ""
    first, last = int(years.min()), int(years.max())
    return str(first) if first == last else f"{first}-{last}"
