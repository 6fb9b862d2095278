"""Joins the engine needs from the four tables: each problem with its enterprise's context, the regions the
city knows, and a matcher fitted on a ``Tables`` (institutions, outcome track record, every district).

Input: a ``matching.tables.Tables``. Output: frames and a fitted ``Matcher``; nothing here reads files.
"""

from __future__ import annotations

import pandas as pd

from matching.matcher import Matcher
from matching.ranking import Ranker
from matching.tables import Tables

__all__ = ["ENTERPRISE_CONTEXT", "problem_frame", "known_regions", "fit_matcher"]

ENTERPRISE_CONTEXT = ("sector", "region", "employees", "annual_revenue", "founded")


def problem_frame(problems: pd.DataFrame, enterprises: pd.DataFrame) -> pd.DataFrame:
    """Problems with their enterprise's sector, region, employees, annual_revenue and founded year."""
    context = enterprises.loc[:, ["enterprise_id", *ENTERPRISE_CONTEXT]]
    drop = [c for c in ENTERPRISE_CONTEXT if c in problems.columns]
    return problems.drop(columns=drop).merge(context, on="enterprise_id", how="left", validate="many_to_one")


def known_regions(tables: Tables) -> list[str]:
    return sorted(set(tables.enterprises["region"].dropna().astype(str)))


def fit_matcher(tables: Tables, ranker: Ranker | None = None, **options: object) -> Matcher:
    """A Matcher over the tables' institutions, with their outcomes as track record and every known district."""
    outcomes = tables.outcomes if len(tables.outcomes) else None
    return Matcher(ranker, **options).fit(tables.institutions, outcomes=outcomes, regions=known_regions(tables))
