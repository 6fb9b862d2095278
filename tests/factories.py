"""Tiny builders of valid tables for tests: frames that pass ``matching.tables.files.validate_tables`` as they are.

Each ``*_frame(n, **columns)`` returns ``n`` valid rows with typed values (ints, floats, tuples, datetimes);
a keyword replaces a whole column, e.g. ``enterprises_frame(2, sector=["agriculture", "farming"])``.
``valid_frames()`` returns the four frames wired together (every reference resolves), ``valid_tables()``
the same as validated ``Tables``, and ``write_tables(folder, ...)`` writes a data folder of CSV (or Parquet)
files, where any table can be replaced by another frame, by raw text or bytes, or left out with ``None``.

Ids follow the contract's pattern: ``E000001``, ``P000001``, ``I0001``, ``O0000001``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from matching.tables.files import TABLE_NAMES, Tables, validate_tables

__all__ = [
    "enterprise_ids",
    "problem_ids",
    "institution_ids",
    "outcome_ids",
    "enterprises_frame",
    "problems_frame",
    "institutions_frame",
    "outcomes_frame",
    "valid_frames",
    "valid_tables",
    "write_tables",
    "csv_text",
]


def enterprise_ids(n: int) -> list[str]:
    return [f"E{i:06d}" for i in range(1, n + 1)]


def problem_ids(n: int) -> list[str]:
    return [f"P{i:06d}" for i in range(1, n + 1)]


def institution_ids(n: int) -> list[str]:
    return [f"I{i:04d}" for i in range(1, n + 1)]


def outcome_ids(n: int) -> list[str]:
    return [f"O{i:07d}" for i in range(1, n + 1)]


def _cycle(values: Sequence[Any], n: int) -> list[Any]:
    return [values[i % len(values)] for i in range(n)]


def _frame(base: dict[str, list[Any]], columns: dict[str, Any]) -> pd.DataFrame:
    unknown = set(columns) - set(base)
    if unknown:
        raise TypeError(f"not a column of this table: {sorted(unknown)}")
    return pd.DataFrame({**base, **columns})


def enterprises_frame(n: int = 3, **columns: Any) -> pd.DataFrame:
    """``n`` enterprises ``E000001``.. in manufacturing/agriculture/catering, districts 西湖区/Binjiang."""
    base = {
        "enterprise_id": enterprise_ids(n),
        "name": _cycle(["杭州明达机械有限公司", "Green Valley Farm Co.", "老街茶馆"], n),
        "sector": _cycle(["manufacturing", "agriculture", "catering_accommodation"], n),
        "region": _cycle(["西湖区", "Binjiang"], n),
        "employees": [5 + 3 * i for i in range(n)],
        "annual_revenue": [1_200_000.0 + 50_000.5 * i for i in range(n)],
        "founded": _cycle([2008, 2015, 2020], n),
    }
    return _frame(base, columns)


def problems_frame(n: int = 3, *, enterprises: int = 3, **columns: Any) -> pd.DataFrame:
    """``n`` problems ``P000001``.. of enterprises ``E000001``..``E{enterprises}``, round robin."""
    base = {
        "problem_id": problem_ids(n),
        "enterprise_id": _cycle(enterprise_ids(enterprises), n),
        "text": _cycle(
            ["需要贷款 500万 购买新设备", "We need help to upgrade irrigation and save water", "员工技能培训 training"],
            n,
        ),
        "amount": _cycle([5_000_000.0, float("nan"), float("nan")], n),
        "stated_at": pd.to_datetime(_cycle(["2024-01-15", "2024-02-01", "2024-03-10"], n)),
    }
    return _frame(base, columns)


def institutions_frame(n: int = 3, **columns: Any) -> pd.DataFrame:
    """``n`` institutions ``I0001``..: a bank with an amount range, a research institute, a college."""
    base = {
        "institution_id": institution_ids(n),
        "name": _cycle(["杭州银行", "Zhejiang Water Research Institute", "City Vocational College"], n),
        "kind": _cycle(["bank", "research_institute", "college"], n),
        "description": _cycle(["小微企业贷款 loans for equipment", "irrigation, water saving", "skills training"], n),
        "sectors": _cycle([("manufacturing", "agriculture"), (), ("catering_accommodation",)], n),
        "regions": _cycle([("西湖区",), (), ("西湖区", "Binjiang")], n),
        "min_amount": _cycle([100_000.0, float("nan"), float("nan")], n),
        "max_amount": _cycle([10_000_000.0, float("nan"), float("nan")], n),
        "capacity": _cycle([20, 5, 8], n),
        "active": _cycle([True, True, False], n),
    }
    return _frame(base, columns)


def outcomes_frame(n: int = 3, *, problems: int = 3, institutions: int = 3, **columns: Any) -> pd.DataFrame:
    """``n`` outcomes ``O0000001``.. pairing problems and institutions round robin."""
    base = {
        "outcome_id": outcome_ids(n),
        "problem_id": _cycle(problem_ids(problems), n),
        "institution_id": _cycle(institution_ids(institutions), n),
        "status": _cycle(["solved", "declined", "contacted", "accepted", "failed"], n),
        "amount": _cycle([3_000_000.0, float("nan")], n),
        "recorded_at": pd.to_datetime(_cycle(["2024-02-01T09:30:00", "2024-03-05T14:00:00.25"], n), format="ISO8601"),
        "recorded_by": _cycle(["caseworker-1", float("nan")], n),
    }
    return _frame(base, columns)


def valid_frames(
    enterprises: int = 3, problems: int = 3, institutions: int = 3, outcomes: int = 3
) -> dict[str, pd.DataFrame]:
    """The four tables, sized as asked and wired together (every reference resolves)."""
    return {
        "enterprises": enterprises_frame(enterprises),
        "problems": problems_frame(problems, enterprises=enterprises),
        "institutions": institutions_frame(institutions),
        "outcomes": outcomes_frame(outcomes, problems=problems, institutions=institutions),
    }


def valid_tables(**sizes: int) -> Tables:
    """``valid_frames(**sizes)`` validated: normalised ``Tables``."""
    return validate_tables(**valid_frames(**sizes))


def csv_text(frame: pd.DataFrame) -> str:
    """A frame as the CSV text a person would write: tuples joined by ';', datetimes in ISO 8601."""
    out = frame.copy()
    for column in out.columns:
        if out[column].map(lambda value: isinstance(value, tuple | list)).any():
            out[column] = out[column].map(lambda value: ";".join(value) if isinstance(value, tuple | list) else value)
        elif pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].map(lambda value: value.isoformat() if pd.notna(value) else "")
    return out.to_csv(index=False)


def write_tables(
    folder: str | Path,
    frames: dict[str, pd.DataFrame] | None = None,
    *,
    format: str = "csv",
    **replace: pd.DataFrame | str | bytes | None,
) -> Path:
    """Write a data folder: ``frames`` (default ``valid_frames()``), with tables replaced by keyword.

    A replacement may be a frame, raw CSV text, raw bytes (written as they are, for encoding tests) or
    ``None`` (the file is left out). Returns the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = {**(frames if frames is not None else valid_frames()), **replace}
    for table in TABLE_NAMES:
        content = tables.get(table)
        if content is None:
            continue
        if isinstance(content, bytes):
            (folder / f"{table}.csv").write_bytes(content)
        elif isinstance(content, str):
            (folder / f"{table}.csv").write_text(content, encoding="utf-8")
        elif format == "parquet":
            content.to_parquet(folder / f"{table}.parquet", index=False)
        else:
            (folder / f"{table}.csv").write_text(csv_text(content), encoding="utf-8")
    return folder
