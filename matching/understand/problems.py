"""Problems in, validated and prepared: normalised text, TF-IDF vectors, detected categories and the numeric
context (sector, region, amount, enterprise size and age) as arrays.

``validate_problems`` checks every row and raises one ``InvalidInput`` naming each bad field (and row, for
more than one problem). ``prepare_problems`` returns a ``PreparedProblems`` the rest of the pipeline reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matching.catalogue import Catalogue
from matching.errors import InvalidInput, Issue
from matching.normalise import has_content, normalize, words
from matching.records import MAX_TEXT_LENGTH, SECTORS, Problem
from matching.understand.lexicon import CategoryDetector, Detection

__all__ = ["PreparedProblems", "as_problem_columns", "validate_problems", "prepare_problems",
           "MAX_K", "PROBLEM_COLUMNS"]

MAX_K = 50
_SECTOR_POSITIONS = {s: i for i, s in enumerate(SECTORS)}
OPTIONAL_COLUMNS = ("problem_id", "enterprise_id", "sector", "region", "amount", "employees",
                    "annual_revenue", "founded", "stated_at")
PROBLEM_COLUMNS = ("text", *OPTIONAL_COLUMNS)
_NUMERIC_COLUMNS = frozenset({"amount", "employees", "annual_revenue", "founded"})


@dataclass(slots=True)
class PreparedProblems:
    columns: dict[str, np.ndarray]  # ``as_problem_columns``: the problems as given, one array per column
    normalized: list[str]
    tokens: list[list[str]]  # ``matching.normalise.words`` of each normalised text: split once, read three times
    queries: sp.csr_matrix
    detection: Detection
    sector: np.ndarray  # index into SECTORS, -1 when not given
    region: np.ndarray  # index into Catalogue.regions, -1 when not given
    amount: np.ndarray
    employees: np.ndarray
    revenue: np.ndarray
    age: np.ndarray  # years since founding at the time the problem was stated

    def __len__(self) -> int:
        return len(self.normalized)


ProblemRows = pd.DataFrame | Sequence[Problem | Mapping[str, Any]] | Problem


def as_problem_columns(problems: ProblemRows | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Problems as one array per column of ``PROBLEM_COLUMNS`` (missing ones all None), in input order.

    Takes a frame, ``Problem`` records or plain mappings (rows as an HTTP request gives them: no frame is
    built for them). The arrays are what the pipeline reads column by column: a frame's column lookup has a
    fixed cost in pandas, paid dozens of times a call, and an array's has none, which matters most to a
    one-problem call (the engine alone in ``benchmarks/bench_api.py``). Numeric columns of a frame come as
    float64 (NaN for missing), every other column as objects; rows' values are kept as given.
    """
    if isinstance(problems, Mapping):  # already columns (``validate_problems`` then ``prepare_problems``)
        return dict(problems)
    if isinstance(problems, pd.DataFrame):
        if "text" not in problems.columns:
            raise InvalidInput(Issue(column="text", expected="a column of problem texts", found="missing"))
        empty = np.full(len(problems), None, dtype=object)
        return {column: _frame_column(problems[column], column) if column in problems.columns else empty
                for column in PROBLEM_COLUMNS}
    rows = [asdict(p) if isinstance(p, Problem) else p for p in ([problems] if isinstance(problems, Problem)
                                                                 else problems)]
    if not any("text" in row for row in rows):
        raise InvalidInput(Issue(column="text", expected="a column of problem texts", found="missing"))
    count = len(rows)
    return {column: np.fromiter((row.get(column) for row in rows), dtype=object, count=count)
            for column in PROBLEM_COLUMNS}


def _frame_column(values: pd.Series, column: str) -> np.ndarray:
    if column in _NUMERIC_COLUMNS and pd.api.types.is_numeric_dtype(values.dtype) \
            and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if column == "stated_at" and pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.to_numpy()
    return values.to_numpy(dtype=object)


def _none(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT


def validate_problems(problems: ProblemRows | Mapping[str, np.ndarray], *, regions: Sequence[str] = (),
                      k: int | None = None) -> None:
    """Raise one InvalidInput listing every bad field; ``row`` is set when there is more than one problem."""
    columns = as_problem_columns(problems)
    issues: list[Issue] = []
    many = len(columns["text"]) > 1

    def add(row: int, column: str, expected: str, found: str) -> None:
        issues.append(Issue(column=column, expected=expected, found=found, row=row + 1 if many else None))

    if k is not None and not (isinstance(k, int | np.integer) and 1 <= k <= MAX_K):
        issues.append(Issue(column="k", expected=f"an integer from 1 to {MAX_K}", found=repr(k)))
    known_regions = set(regions)
    sectors = set(SECTORS)
    amounts = _numeric(columns["amount"])  # NaN where missing or not a number
    for row, (text, sector, region, amount, parsed) in enumerate(
        zip(columns["text"], columns["sector"], columns["region"], columns["amount"], amounts, strict=True)
    ):
        if not isinstance(text, str) or not text.strip():
            add(row, "text", "a non-empty problem statement", "empty text" if isinstance(text, str) else repr(text))
        elif len(text) > MAX_TEXT_LENGTH:
            add(row, "text", f"at most {MAX_TEXT_LENGTH} characters", f"{len(text)} characters")
        elif not has_content(text):
            add(row, "text", "words (letters, digits or Chinese characters)", "only punctuation or symbols")
        if not _none(sector) and sector not in sectors:
            add(row, "sector", f"one of {', '.join(SECTORS)}", repr(sector))
        if not _none(region) and known_regions and region not in known_regions:
            shown = ", ".join(sorted(known_regions)[:12]) + (" ..." if len(known_regions) > 12 else "")
            add(row, "region", f"a known region ({shown})", repr(region))
        if not _none(amount):
            if np.isnan(parsed):
                add(row, "amount", "a number", repr(amount))
            elif parsed < 0:
                add(row, "amount", "a number >= 0", repr(amount))
    if issues:
        raise InvalidInput(issues)


def _numeric(values: np.ndarray) -> np.ndarray:
    """float64, NaN where missing or not a number."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    # Plain Python numbers and None (what a request holds) without pandas; anything else through to_numeric.
    if all(value is None or (type(value) in (int, float)) for value in values):
        return np.fromiter((np.nan if value is None else value for value in values), dtype=np.float64,
                           count=len(values))
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _positions(values: np.ndarray, positions: dict[str, int]) -> np.ndarray:
    """Each value's position in ``positions`` (-1: none or unknown). A dict lookup per row: for the few rows
    of a request, ``Series.map``'s fixed cost per column outweighs the rest of the step."""
    return np.fromiter((positions.get(v, -1) if isinstance(v, str) else -1 for v in values),
                       dtype=np.int64, count=len(values))


def _years(values: np.ndarray) -> np.ndarray:
    """The year of each date (NaN when missing or unreadable)."""
    if pd.isna(values).all():  # ad-hoc requests state no date: skip parsing a column of nothing
        return np.full(len(values), np.nan)
    return pd.to_datetime(pd.Series(values), errors="coerce").dt.year.to_numpy(dtype=np.float64)


def prepare_problems(
    problems: ProblemRows | Mapping[str, np.ndarray], *, catalogue: Catalogue, detector: CategoryDetector
) -> PreparedProblems:
    """Vectorise validated problems against a catalogue (its index and its list of regions)."""
    columns = as_problem_columns(problems)
    normalized = [normalize(t) for t in columns["text"]]
    tokens = [words(text) for text in normalized]
    year = _years(columns["stated_at"])
    year = np.where(np.isnan(year), float(datetime.now().year), year)
    founded = _numeric(columns["founded"])
    return PreparedProblems(
        columns=columns,
        normalized=normalized,
        tokens=tokens,
        queries=catalogue.index.transform(normalized, normalized=True, tokens=tokens),
        detection=detector.detect(normalized, tokens),
        sector=_positions(columns["sector"], _SECTOR_POSITIONS),
        region=_positions(columns["region"], catalogue.region_positions),
        amount=_numeric(columns["amount"]),
        employees=_numeric(columns["employees"]),
        revenue=_numeric(columns["annual_revenue"]),
        age=np.clip(year - founded, 0, None),
    )
