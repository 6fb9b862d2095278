"""Scoring one chunk of problems: the engine's ``Matcher.recommend_frame`` shaped into the batch output.

Inputs: a fitted ``Matcher``, a chunk of staged problems (``training.batch.sources.read_chunk``) and ``k``.
Output: a frame with ``OUTPUT_COLUMNS`` (one row per problem and rank; an escalated problem has one row of
rank 0 with no institution), typed as ``OUTPUT_SCHEMA`` so that every part file has the same schema. The
same function runs in the local loop and inside each Dask partition, so both engines write the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from matching import Matcher, Ranker
from training.batch.sources import Context

__all__ = ["OUTPUT_COLUMNS", "OUTPUT_SCHEMA", "fit_matcher", "score_chunk", "empty_output"]

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


def fit_matcher(context: Context, ranker: Ranker, *, chunk_cells: int = 1_000_000) -> Matcher:
    """A Matcher over the context's institutions, with its outcomes as track record and every enterprise's
    district as a known region. ``chunk_cells`` bounds the engine's dense (problems x institutions) work."""
    regions: Sequence[str] = sorted(context.enterprises["region"].astype(str).unique())
    return Matcher(ranker, chunk_cells=chunk_cells).fit(context.institutions, outcomes=context.outcomes,
                                                        regions=regions)


def score_chunk(problems: pd.DataFrame, matcher: Matcher, k: int) -> pd.DataFrame:
    """Recommendations for one chunk of problems as output rows (see the module docstring)."""
    if len(problems) == 0:
        return empty_output()
    frame = matcher.recommend_frame(problems, k=k)
    frame = frame.loc[:, list(OUTPUT_COLUMNS)]
    return pa.Table.from_pandas(frame, schema=OUTPUT_SCHEMA, preserve_index=False).to_pandas()


def empty_output() -> pd.DataFrame:
    return OUTPUT_SCHEMA.empty_table().to_pandas()
