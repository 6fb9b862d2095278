"""Writing an adapter's four tables: validated against the table contract, then written with a manifest.

Input: the four frames an adapter built and what it knows about the import (dataset, source file, the date
before which institution profiles may look, rows skipped and why). Output: ``enterprises.csv``,
``problems.csv``, ``institutions.csv``, ``outcomes.csv`` (the table contract of ``matching.records``, read back
by ``matching.tables.files.read_tables``) and ``realdata.json`` (the manifest ``evaluate`` checks, so that a split
earlier than the profiles' cut-off is refused instead of silently leaking).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from matching.tables.files import IMPORT_MANIFEST as MANIFEST_NAME
from matching.tables.files import Tables, validate_tables, write_tables

__all__ = ["ImportSummary", "MANIFEST_NAME", "finish_import", "Skipped", "staged_outcomes"]



def staged_outcomes(ended: pd.DataFrame, taken_up_at: pd.Series) -> pd.DataFrame:
    """The outcomes as the stages a caseworker would record: ``accepted`` at ``taken_up_at`` (outcome id
    ``<id>-A``), then each row of ``ended`` as it is, unless it is itself only ``accepted``. So what an
    institution took up is known from the day it took it up, and how it ended only from the day that was known
    (the as-of rule of ``matching.features.history``)."""
    accepted = ended.assign(outcome_id=ended["outcome_id"].astype(str) + "-A", status="accepted",
                            recorded_at=taken_up_at.to_numpy())
    final = ended[ended["status"] != "accepted"]
    return pd.concat([accepted, final], ignore_index=True)


class Skipped:
    """Counts rows left out and why (``add(mask, reason)``), for the summary."""

    def __init__(self) -> None:
        self.reasons: dict[str, int] = {}

    def add(self, mask: pd.Series, reason: str) -> pd.Series:
        count = int(mask.sum())
        if count:
            self.reasons[reason] = self.reasons.get(reason, 0) + count
        return mask


@dataclass(frozen=True, slots=True)
class ImportSummary:
    dataset: str
    source: str
    out: str
    profile_until: str
    rows_read: int
    enterprises: int
    problems: int
    institutions: int
    outcomes: int
    statuses: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def finish_import(
    frames: dict[str, pd.DataFrame],
    out: str | Path,
    *,
    dataset: str,
    source: Path,
    profile_until: pd.Timestamp,
    rows_read: int,
    skipped: Skipped,
    notes: list[str],
) -> tuple[Tables, ImportSummary]:
    """Validate the frames (one InvalidInput listing every problem), write them and the manifest."""
    tables = validate_tables(frames["enterprises"], frames["problems"], frames["institutions"], frames["outcomes"])
    folder = Path(out)
    write_tables(tables, folder)
    summary = ImportSummary(
        dataset=dataset,
        source=str(source),
        out=str(folder),
        profile_until=profile_until.date().isoformat(),
        rows_read=rows_read,
        enterprises=len(tables.enterprises),
        problems=len(tables.problems),
        institutions=len(tables.institutions),
        outcomes=len(tables.outcomes),
        statuses={str(k): int(v) for k, v in tables.outcomes["status"].value_counts().items()},
        skipped=dict(skipped.reasons),
        notes=list(notes),
    )
    (folder / MANIFEST_NAME).write_text(json.dumps(summary.to_dict(), indent=2), encoding="utf-8")
    return tables, summary
