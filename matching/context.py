"""Joins the engine needs from the four tables: each problem with its enterprise's context, the regions the
city knows, and a matcher fitted on a ``Tables`` (institutions, outcome track record, every district).

Input: a ``matching.tables.Tables``. Output: frames and a fitted ``Matcher``; nothing here reads files.
"""

from __future__ import annotations

import pandas as pd

from matching.matcher import Matcher
from matching.ranking import Ranker
from matching.tables import Tables

__all__ = ["ENTERPRISE_CONTEXT", "TAKEN_UP", "problem_frame", "known_regions", "monthly_load", "fit_matcher"]

ENTERPRISE_CONTEXT = ("sector", "region", "employees", "annual_revenue", "founded")


def problem_frame(problems: pd.DataFrame, enterprises: pd.DataFrame) -> pd.DataFrame:
    """Problems with their enterprise's sector, region, employees, annual_revenue and founded year."""
    context = enterprises.loc[:, ["enterprise_id", *ENTERPRISE_CONTEXT]]
    drop = [c for c in ENTERPRISE_CONTEXT if c in problems.columns]
    return problems.drop(columns=drop).merge(context, on="enterprise_id", how="left", validate="many_to_one")


def known_regions(tables: Tables) -> list[str]:
    return sorted(set(tables.enterprises["region"].dropna().astype(str)))


# Outcomes that take up an institution's monthly capacity (a declined case took none of it).
TAKEN_UP = ("contacted", "accepted", "solved", "failed")


def monthly_load(outcomes: pd.DataFrame, *, as_of: pd.Timestamp | None = None) -> pd.Series:
    """Cases each institution has taken up in the calendar month of ``as_of`` (default: now, UTC)."""
    if len(outcomes) == 0:
        return pd.Series(dtype=float)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if as_of is None else pd.Timestamp(as_of)
    month = now.to_period("M")
    recorded = pd.to_datetime(outcomes["recorded_at"])
    taken = outcomes[(recorded.dt.to_period("M") == month) & outcomes["status"].isin(TAKEN_UP)]
    return taken.groupby(taken["institution_id"].astype(str)).size().astype(float)


def fit_matcher(
    tables: Tables, ranker: Ranker | None = None, *, as_of: pd.Timestamp | None = None, **options: object
) -> Matcher:
    """A Matcher over the tables' institutions, with their outcomes as track record, every known district,
    and this month's load against each institution's capacity."""
    outcomes = tables.outcomes if len(tables.outcomes) else None
    load = monthly_load(tables.outcomes, as_of=as_of) if outcomes is not None else None
    return Matcher(ranker, **options).fit(
        tables.institutions, outcomes=outcomes, regions=known_regions(tables), load=load
    )
