"""Scoring one chunk of problems: the engine's ``Matcher.recommend_frame`` shaped into the batch output.

Inputs: a fitted ``Matcher``, a chunk of staged problems (``service.batch.sources.read_chunk``) and ``k``.
Output: a frame with ``OUTPUT_COLUMNS`` (one row per problem and rank; an escalated problem has one row of
rank 0 with no institution), typed as ``OUTPUT_SCHEMA`` so that every part file has the same schema. The
same function runs in the local loop and inside each Dask partition, so both engines write the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from matching import Matcher, Ranker
from matching.tables.context import fit_matcher as fit_service_matcher
from matching.tables.context import monthly_load
from matching.tables.files import Tables
from service.batch.sources import Context

__all__ = ["OUTPUT_COLUMNS", "OUTPUT_SCHEMA", "fit_matcher", "capacity_left", "score_chunk", "empty_output"]

OUTPUT_SCHEMA = pa.schema([
    ("enterprise_id", pa.string()),
    ("problem_id", pa.string()),
    ("rank", pa.int16()),
    ("institution_id", pa.string()),
    ("kind", pa.string()),
    ("score", pa.float64()),
    ("reasons", pa.string()),
    ("model_version", pa.string()),
    ("escalate", pa.bool_()),
    ("escalate_reason", pa.string()),
])
OUTPUT_COLUMNS: tuple[str, ...] = tuple(OUTPUT_SCHEMA.names)


def fit_matcher(context: Context, ranker: Ranker, *, chunk_cells: int = 4_000_000, as_of: object = None) -> Matcher:
    """The service's matcher (``matching.tables.context.fit_matcher``: track record and history of cases, every
    enterprise's district, this month's load against capacity; all as of ``as_of`` when given) over the
    context; ``chunk_cells`` bounds the engine's dense (problems x institutions) work: 4 million cells (400
    problems at a time at 10,000 institutions) keeps memory bounded and is the fastest size from 1 to 16 million
    with the trained model (``benchmarks/bench_batch.py`` times the batch with it)."""
    tables = Tables(context.enterprises, context.history_problems, context.institutions, context.outcomes)
    return fit_service_matcher(tables, ranker, chunk_cells=chunk_cells, as_of=as_of)


def capacity_left(context: Context, *, as_of: object = None) -> np.ndarray:
    """Per institution (in table order): capacity minus the cases taken up in the month (of ``as_of``), at
    least 0."""
    load = monthly_load(context.outcomes, as_of=as_of) if len(context.outcomes) else pd.Series(dtype=float)
    taken = context.institutions["institution_id"].astype(str).map(load).fillna(0.0).to_numpy(dtype=np.float64)
    return np.maximum(context.institutions["capacity"].to_numpy(dtype=np.float64) - taken, 0.0)


def score_chunk(problems: pd.DataFrame, matcher: Matcher, k: int) -> pd.DataFrame:
    """Recommendations for one chunk of problems as output rows (see the module docstring)."""
    if len(problems) == 0:
        return empty_output()
    # Staging ran the engine's own checks on every row, against this matcher's regions, and k was checked.
    frame = matcher.recommend_frame(problems, k=k, checked=True)
    frame = frame.loc[:, list(OUTPUT_COLUMNS)]
    return pa.Table.from_pandas(frame, schema=OUTPUT_SCHEMA, preserve_index=False).to_pandas()


def empty_output() -> pd.DataFrame:
    return OUTPUT_SCHEMA.empty_table().to_pandas()
