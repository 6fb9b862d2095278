"""Digests of our own over every row of a frame (MLflow's dataset digest samples rows and skips bool columns).

``frame_digest(frame)``: sha256 of a canonical text serialisation: columns in name order, each value
rendered by type (numbers by numpy's shortest round-trip repr, booleans as true/false, datetimes as
microseconds since the epoch (naive, or UTC when zoned), tuples/lists joined by ';', missing values as an
empty field), fields separated by U+001F, rows by newline, rows in the frame's order. ``tables_digest``
combines the digests of named frames.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

__all__ = ["frame_digest", "tables_digest"]

_FIELD, _ROW = "\x1f", "\n"


def _canonical(column: pd.Series) -> pd.Series:
    missing = column.isna().to_numpy() if not ptypes.is_bool_dtype(column) else np.zeros(len(column), bool)
    if ptypes.is_bool_dtype(column):
        text = np.where(column.to_numpy(dtype=bool), "true", "false").astype(object)
    elif ptypes.is_integer_dtype(column):
        text = column.astype("int64").astype(str).to_numpy(dtype=object)
    elif ptypes.is_float_dtype(column):
        text = column.to_numpy(dtype=np.float64).astype(str).astype(object)
    elif ptypes.is_datetime64_any_dtype(column):
        stamps = column.dt.tz_localize(None) if getattr(column.dt, "tz", None) is not None else column
        text = stamps.to_numpy(dtype="datetime64[us]").astype(np.int64).astype(str).astype(object)
    else:
        text = np.array(
            [";".join(map(str, v)) if isinstance(v, tuple | list | np.ndarray) else str(v) for v in column],
            dtype=object,
        )
    text[missing] = ""
    return pd.Series(text, index=column.index, dtype=object)


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 (hex) of the canonical serialisation of every row and column of ``frame``."""
    digest = hashlib.sha256()
    columns = sorted(map(str, frame.columns))
    digest.update(_FIELD.join(columns).encode("utf-8") + _ROW.encode())
    renamed = frame.set_axis([str(c) for c in frame.columns], axis=1)
    chunk = 50_000
    for start in range(0, len(frame), chunk):
        part = renamed.iloc[start : start + chunk]
        if part.empty:
            continue
        rows = _canonical(part[columns[0]])
        for name in columns[1:]:
            rows = rows + _FIELD + _canonical(part[name])
        digest.update((_ROW.join(rows.tolist()) + _ROW).encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


def tables_digest(frames: Mapping[str, pd.DataFrame]) -> str:
    """sha256 over the names and frame digests of several frames, in name order."""
    digest = hashlib.sha256()
    for name in sorted(frames):
        digest.update(f"{name}={frame_digest(frames[name])}{_ROW}".encode())
    return digest.hexdigest()
