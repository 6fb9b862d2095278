"""The escalations of a ``smematch batch`` run as the provincial queue's spreadsheet: ``OUT.escalations.csv``
beside the output, one row per escalated problem with the queue's columns (``QUEUE_COLUMNS``), UTF-8 with a
byte order mark.

Inputs: the run's source (its context: enterprises, institutions, outcomes; its problems, streamed in chunks
and only the escalated ones kept) and its output Parquet file (the escalated rows read with a filter). Each
row is escalated by the engine at ``now`` with the engine's reason (as written in the output); the referrals
are the problem's outcomes in the source. Outputs: the CSV's path.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from service.batch.sources import ProblemSource
from service.exports import csv_bytes, flat_row

__all__ = ["escalations_path", "write_escalations"]

_CHUNK = 50_000


def escalations_path(output: Path) -> Path:
    return output.with_name(output.stem + ".escalations.csv")


def _escalated(output: Path) -> pd.DataFrame:
    table = pq.read_table(output, columns=["problem_id", "enterprise_id", "escalate_reason"],
                          filters=[("escalate", "==", True)])
    return table.to_pandas().drop_duplicates("problem_id")


def _problems(source: ProblemSource, wanted: set[str]) -> pd.DataFrame:
    kept = [chunk.loc[chunk["problem_id"].astype(str).isin(wanted), ["problem_id", "text", "amount", "stated_at"]]
            for chunk in source.problem_chunks(_CHUNK)]
    found = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=["problem_id", "text", "amount",
                                                                                  "stated_at"])
    found["problem_id"] = found["problem_id"].astype(str)
    found["stated_at"] = pd.to_datetime(found["stated_at"], errors="coerce")
    found["amount"] = pd.to_numeric(found["amount"], errors="coerce")
    return found.set_index("problem_id")


def _referrals(outcomes: pd.DataFrame, institutions: pd.DataFrame, wanted: set[str]) -> dict[str, list[dict]]:
    mine = outcomes.loc[outcomes["problem_id"].astype(str).isin(wanted)]
    mine = mine.merge(institutions[["institution_id", "name", "kind"]], on="institution_id", how="left")
    found: dict[str, list[dict[str, Any]]] = {}
    for row in mine.sort_values(["problem_id", "recorded_at"]).itertuples():
        found.setdefault(str(row.problem_id), []).append({
            "name": row.name, "kind": row.kind, "status": row.status, "recorded_at": row.recorded_at})
    return found


def write_escalations(source: ProblemSource, output: Path, *, now: datetime, language: str = "en") -> Path:
    """Write ``OUT.escalations.csv`` for the run whose output is ``output``; returns its path."""
    escalated = _escalated(output)
    wanted = set(escalated["problem_id"].astype(str))
    context = source.context()
    problems = _problems(source, wanted) if wanted else pd.DataFrame()
    enterprises = context.enterprises.set_index("enterprise_id")
    referrals = _referrals(context.outcomes, context.institutions, wanted) if wanted else {}
    rows = []
    for problem_id, enterprise_id, reason in escalated.itertuples(index=False):
        problem = problems.loc[problem_id] if problem_id in problems.index else None
        enterprise = enterprises.loc[enterprise_id] if enterprise_id in enterprises.index else None
        stated = None if problem is None or pd.isna(problem["stated_at"]) else problem["stated_at"].to_pydatetime()
        rows.append(flat_row({
            "problem_id": problem_id, "enterprise_id": enterprise_id,
            "enterprise_name": None if enterprise is None else enterprise["name"],
            "sector": None if enterprise is None else enterprise["sector"],
            "district": None if enterprise is None else enterprise["region"],
            "text": None if problem is None else problem["text"],
            "amount": None if problem is None or pd.isna(problem["amount"]) else float(problem["amount"]),
            "stated_at": stated, "escalated_at": now,
            "days_open": None if stated is None else max(0, (now - stated).days),
            "escalated_by": "engine", "reason": reason, "engine_reason": reason,
            "referrals": referrals.get(problem_id, []),
        }, language))
    path = escalations_path(output)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(csv_bytes(rows))
    temporary.replace(path)
    return path
