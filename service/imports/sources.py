"""Reading a real-data source file: a CSV of text cells, or one clear ``InvalidInput`` saying what is wrong.

Input: a path (a file, or a folder holding exactly the expected file name), the columns the adapter needs and a
short description of the file for messages. Output: a frame of ``str`` cells (empty string for an empty cell,
BOM stripped, header names stripped). A missing file, a file that is not a CSV table, and every missing column
are reported together, each naming the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from matching.errors import InvalidInput, Issue

__all__ = ["read_source", "resolve_file", "money"]


def resolve_file(path: Path, default_name: str, what: str) -> Path:
    """``path`` itself when it is a file; ``path / default_name`` when it is a folder holding that file."""
    if path.is_dir():
        candidate = path / default_name
        if candidate.is_file():
            return candidate
        raise InvalidInput(Issue(column=None, expected=f"{what} ({default_name})", file=str(path),
                                 found=f"a folder without {default_name}"))
    if not path.is_file():
        raise InvalidInput(Issue(column=None, expected=f"{what}", file=str(path), found="no such file"))
    return path


def read_source(path: Path, required: Sequence[str], *, what: str) -> pd.DataFrame:
    """The file's rows as text; raise one InvalidInput naming every required column that is missing."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(Issue(column=None, expected=what, file=path.name, found=str(error))) from None
    if b"\x00" in data[:4096]:
        raise InvalidInput(Issue(column=None, expected=f"{what} as a CSV text file", file=path.name,
                                 found="binary data"))
    text = data.decode("utf-8-sig", errors="replace")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                            quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidInput(Issue(column=None, expected=f"{what} as a CSV table with a header row",
                                 file=path.name, found=reason)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        shown = ", ".join(frame.columns[:12]) + (" ..." if len(frame.columns) > 12 else "")
        raise InvalidInput([
            Issue(column=c, expected=f"a column {c!r} of {what}", file=path.name, found=f"columns {shown or 'none'}")
            for c in missing
        ])
    if len(frame) == 0:
        raise InvalidInput(Issue(column=None, expected=f"{what} with at least one data row", file=path.name,
                                 found="a header only"))
    return frame


def money(values: pd.Series) -> pd.Series:
    """Amount cells as floats: plain numbers or the Kaggle style ``$60,000.00``; NaN where unreadable."""
    cleaned = values.astype(str).str.replace(r"[$,\s]", "", regex=True)
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")
