"""A batch run as ``smematch batch`` asks for it: its input, its model, the run and its escalations.

- ``source_from(data=, db=, settings=)``: a data folder (``FolderSource``, problems streamed in chunks) or the
  store at ``db`` (``TablesSource`` over ``service.loading.load_tables_from``); exactly one of them.
- ``model_digest(ranker)``: what identifies a bundle's model among runs' parts (version, training time, data
  digest); empty for the baseline ranker.
- ``run_batch_job``: the options checked, the current model (``service.bundles.current_ranker``: a bundle that
  does not load is an error), the input, ``run_batch``, then the run's escalations as ``OUT.escalations.csv``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from matching import LearnedRanker, Ranker
from service.batch.run import BatchOptions, Progress, run_batch, summary_path
from service.batch.sources import FolderSource, ProblemSource, TablesSource
from service.batch.work import BatchError
from service.bundles import current_ranker
from service.loading import load_tables_from
from service.settings import Settings

__all__ = ["BatchDone", "source_from", "model_digest", "run_batch_job"]


@dataclass(frozen=True, slots=True)
class BatchDone:
    summary: dict[str, Any]
    summary_path: Path
    escalations: Path  # ``OUT.escalations.csv``


def source_from(*, data: Path | None, db: str | None, settings: Settings) -> ProblemSource:
    """The run's input: the folder ``data`` or the store at ``db``; exactly one of them."""
    if data is not None and db is None:
        return FolderSource(data)
    if data is not None or db is None:
        raise BatchError("give exactly one of --data DIR or --db URL")
    from service.store import describe

    return TablesSource(load_tables_from(data=None, db=db, settings=settings), name=describe(db))


def model_digest(ranker: Ranker) -> str:
    if not isinstance(ranker, LearnedRanker):
        return ""
    manifest = ranker.manifest
    return json.dumps([manifest.get("version"), manifest.get("trained_at"), manifest.get("data_digest")])


def run_batch_job(options: BatchOptions, *, data: Path | None, db: str | None, settings: Settings,
                  on_progress: Progress | None = None, on_phase: Callable[[str], None] | None = None) -> BatchDone:
    """Check ``options``, run the batch on the current model and write its escalations; see the module docstring."""
    from service.batch.escalations import write_escalations
    from service.store.clock import utc_now

    options = options.validate()
    ranker = current_ranker(settings.models_dir).ranker
    source = source_from(data=data, db=db, settings=settings)
    summary = run_batch(source, ranker, replace(options, model_digest=model_digest(ranker)),
                        on_progress=on_progress, on_phase=on_phase)
    escalations = write_escalations(source, Path(options.output), now=utc_now())
    return BatchDone(summary, summary_path(Path(options.output)), escalations)
