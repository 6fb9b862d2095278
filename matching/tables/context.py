"""Joins the engine needs from the four tables: each problem with its enterprise's context, the regions the
city knows, and a matcher fitted on a ``Tables`` (institutions, outcome track record, every district).

Input: a ``matching.tables.files.Tables``. Output: frames and a fitted ``Matcher``; nothing here reads files.
"""

from __future__ import annotations

import pandas as pd

from matching.errors import InvalidInput, Issue
from matching.matcher import Matcher
from matching.rank.rankers import Ranker
from matching.tables.files import Tables

__all__ = ["ENTERPRISE_CONTEXT", "TAKEN_UP", "problem_frame", "known_regions", "monthly_load", "fit_matcher", "as_time",
           "check_as_of"]

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
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if as_of is None else _naive(as_of)
    month = now.to_period("M")
    recorded = pd.to_datetime(outcomes["recorded_at"])
    taken = outcomes[(recorded.dt.to_period("M") == month) & (recorded < now) & outcomes["status"].isin(TAKEN_UP)]
    return taken.groupby(taken["institution_id"].astype(str)).size().astype(float)


def as_time(value: object, column: str) -> pd.Timestamp:
    """A date or time given by a user (``--as-of``, ``--split-date``) as a naive UTC timestamp; else the error
    names ``column``."""
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidInput(Issue(column=column, expected="a date YYYY-MM-DD (or an ISO time)", found=repr(value)))
    return _naive(stamp)


def check_as_of(outcomes: pd.DataFrame, as_of: pd.Timestamp, column: str = "as-of") -> None:
    """Refuse an as-of time before every outcome: nothing would be known then, which is never what is meant."""
    recorded = pd.to_datetime(outcomes["recorded_at"]) if len(outcomes) else pd.Series(dtype="datetime64[ns]")
    if len(recorded) == 0 or not (recorded < as_of).any():
        first = recorded.min().date().isoformat() if len(recorded) else None
        raise InvalidInput(Issue(column=column, found=as_of.isoformat(),
                                 expected=f"a time after the first outcome ({first})" if first else
                                 "outcomes recorded before it (there are none)"))


def _naive(moment: object) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def fit_matcher(
    tables: Tables, ranker: Ranker | None = None, *, as_of: object = None, **options: object
) -> Matcher:
    """A Matcher over the tables' institutions, with their outcomes (those recorded before ``as_of``, when
    given) as track record and history of cases, every known district, and the load of the month against each
    institution's capacity. ``tables.problems`` needs to hold the outcomes' problems (others may be left out)."""
    outcomes = tables.outcomes if len(tables.outcomes) else None
    load = monthly_load(tables.outcomes, as_of=as_of) if outcomes is not None else None
    problems = problem_frame(tables.problems, tables.enterprises) if outcomes is not None else None
    return Matcher(ranker, **options).fit(
        tables.institutions, outcomes=outcomes, regions=known_regions(tables), load=load, problems=problems,
        as_of=as_of,
    )
