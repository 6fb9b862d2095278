"""The end of a batch run: assignment over every candidate, the summary, and the output written atomically.

Inputs: the finished part files of a ``WorkFolder``, the institutions (ids, kinds, capacities) and the capacity
left to each this month (capacity minus cases taken up).
Outputs: the output Parquet file (the parts in chunk order, one row group each, plus a boolean ``assigned``
column when assignment was asked for), written under a temporary name and renamed into place; and the summary
as a plain dict (counts, escalations by reason, coverage per kind and per institution, assignment figures).
Memory: one part at a time, plus four numbers per candidate pair for the assignment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matching.assign import assign as exact_assignment
from matching.records import INSTITUTION_KINDS
from service.batch.scoring import OUTPUT_SCHEMA
from service.batch.work import WorkFolder

__all__ = ["finish", "ASSIGNED_SCHEMA"]

ASSIGNED_SCHEMA = OUTPUT_SCHEMA.append(pa.field("assigned", pa.bool_()))
_READ = ["problem_id", "rank", "institution_id", "kind", "score", "escalate", "escalate_reason"]


@dataclass(slots=True)
class _Tally:
    """What the summary counts, accumulated part by part."""

    institutions: pd.Index
    problems: int = 0
    rows: int = 0
    escalated: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    kind_rows: dict[str, int] = field(default_factory=dict)
    kind_problems: dict[str, int] = field(default_factory=dict)
    pair_problem: list[np.ndarray] = field(default_factory=list)
    pair_institution: list[np.ndarray] = field(default_factory=list)
    pair_score: list[np.ndarray] = field(default_factory=list)
    pair_rank: list[np.ndarray] = field(default_factory=list)

    def add(self, part: pd.DataFrame) -> None:
        first = np.ones(len(part), dtype=bool)
        ids = part["problem_id"].to_numpy()
        first[1:] = ids[1:] != ids[:-1]
        ordinal = self.problems + np.cumsum(first) - 1
        self.problems += int(first.sum())
        self.rows += len(part)
        escalated = part["escalate"].to_numpy(dtype=bool) & first
        self.escalated += int(escalated.sum())
        heads = part.loc[escalated, "escalate_reason"].fillna("").str.split(" (", n=1, regex=False).str[0]
        for reason, count in heads.value_counts().items():
            self.reasons[str(reason)] = self.reasons.get(str(reason), 0) + int(count)
        ranked = part["rank"].to_numpy() >= 1
        listed = part.loc[ranked]
        for kind, count in listed["kind"].value_counts().items():
            self.kind_rows[str(kind)] = self.kind_rows.get(str(kind), 0) + int(count)
        covered = listed.assign(ordinal=ordinal[ranked]).drop_duplicates(["ordinal", "kind"])["kind"].value_counts()
        for kind, count in covered.items():
            self.kind_problems[str(kind)] = self.kind_problems.get(str(kind), 0) + int(count)
        self.pair_problem.append(ordinal[ranked])
        self.pair_institution.append(self.institutions.get_indexer(listed["institution_id"]))
        self.pair_score.append(listed["score"].to_numpy(dtype=np.float64))
        self.pair_rank.append(listed["rank"].to_numpy(dtype=np.int64))


def finish(work: WorkFolder, n_chunks: int, institutions: pd.DataFrame, capacity: np.ndarray, *,
           assign: bool) -> dict[str, Any]:
    """Assign (optionally), write the output atomically and return the summary (see the module docstring)."""
    tally = _Tally(institutions=pd.Index(institutions["institution_id"].astype(str)))
    for table in work.parts(n_chunks, columns=_READ):
        tally.add(table.to_pandas())
    problem = np.concatenate(tally.pair_problem) if tally.pair_problem else np.zeros(0, dtype=np.int64)
    institution = np.concatenate(tally.pair_institution) if tally.pair_institution else np.zeros(0, dtype=np.int64)
    score = np.concatenate(tally.pair_score) if tally.pair_score else np.zeros(0)
    rank = np.concatenate(tally.pair_rank) if tally.pair_rank else np.zeros(0, dtype=np.int64)
    chosen = exact_assignment(problem, institution, score, capacity) if assign else None
    _write(work, n_chunks, chosen)
    return _summary(tally, institutions.assign(capacity_left=capacity), problem, institution, score, rank, chosen)


def _write(work: WorkFolder, n_chunks: int, chosen: np.ndarray | None) -> None:
    output = work.output
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    schema = ASSIGNED_SCHEMA if chosen is not None else OUTPUT_SCHEMA
    at = 0
    try:
        with pq.ParquetWriter(temporary, schema) as writer:
            for table in work.parts(n_chunks):
                if chosen is not None:
                    ranked = _ranked(table)
                    flags = np.zeros(table.num_rows, dtype=bool)
                    flags[ranked] = chosen[at : at + len(ranked)]
                    at += len(ranked)
                    table = table.append_column("assigned", pa.array(flags))
                writer.write_table(table.cast(schema))
        temporary.replace(output)
    finally:
        temporary.unlink(missing_ok=True)


def _ranked(table: pa.Table) -> np.ndarray:
    """Positions of the rows that name an institution (rank >= 1), in order."""
    return np.flatnonzero(table.column("rank").to_numpy() >= 1)


def _summary(tally: _Tally, institutions: pd.DataFrame, problem: np.ndarray, institution: np.ndarray,
             score: np.ndarray, rank: np.ndarray, chosen: np.ndarray | None) -> dict[str, Any]:
    m = len(institutions)
    recommended = np.bincount(institution, minlength=m)
    top1 = np.bincount(institution[rank == 1], minlength=m)
    with_candidates = len(np.unique(problem))
    per_institution = pd.DataFrame({
        "institution_id": institutions["institution_id"].astype(str).to_numpy(),
        "kind": institutions["kind"].astype(str).to_numpy(),
        "capacity": institutions["capacity"].to_numpy(),
        "capacity_left": institutions["capacity_left"].to_numpy(),
        "recommended": recommended,
        "top1": top1,
    })
    summary: dict[str, Any] = {
        "problems": tally.problems,
        "rows": tally.rows,
        "problems_recommended": with_candidates,
        "problems_escalated": tally.escalated,
        "escalations_by_reason": dict(sorted(tally.reasons.items(), key=lambda item: -item[1])),
        "coverage_per_kind": {
            kind: {"recommendations": tally.kind_rows.get(kind, 0), "problems": tally.kind_problems.get(kind, 0),
                   "share_of_problems": round(tally.kind_problems.get(kind, 0) / max(tally.problems, 1), 4)}
            for kind in INSTITUTION_KINDS
        },
        "institutions": m,
        "institutions_recommended": int((recommended > 0).sum()),
        "institutions_never_recommended": int((recommended == 0).sum()),
    }
    if chosen is not None:
        assigned = np.bincount(institution[chosen], minlength=m)
        per_institution["assigned"] = assigned
        per_institution["utilisation"] = np.round(assigned / np.maximum(per_institution["capacity_left"], 1), 4)
        top1_total = float(score[rank == 1].sum())
        assigned_total = float(score[chosen].sum())
        summary["assignment"] = {
            "method": "exact b-matching (minimum-cost flow, OR-Tools) on the top-k candidates",
            "problems_assigned": int(chosen.sum()),
            "problems_unassigned_for_capacity": with_candidates - int(chosen.sum()),
            "problems_assigned_below_first_choice": int((chosen & (rank > 1)).sum()),
            "score_assigned": round(assigned_total, 6),
            "score_unconstrained_top1": round(top1_total, 6),
            "score_given_up": round(top1_total - assigned_total, 6),
            "institutions_full": int(((assigned >= per_institution["capacity_left"]) & (assigned > 0)).sum()),
        }
    summary["per_institution"] = per_institution.to_dict(orient="records")
    return summary
