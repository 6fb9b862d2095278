"""Batch matching over every enterprise: streaming, capacity-aware assignment, resumable, local or on Dask.

    source = FolderSource("data/sample")          # or TablesSource(load_tables(engine)) for the store
    summary = run_batch(source, ranker, BatchOptions(output=Path("out.parquet"), k=5, assign=True))
    done = run_batch_job(options, data=folder, db=None, settings=settings)   # what ``smematch batch`` runs

Output: Parquet with one row per problem and rank (``OUTPUT_COLUMNS``; an escalated problem has one row of
rank 0), plus ``assigned`` with ``assign=True``; and ``<name>.summary.json`` beside it. Modules: ``sources``
(reading and staging the input in chunks), ``scoring`` (one chunk through the engine), ``engines`` (local
loop and Dask partitions), ``work`` (the resumable work folder), ``finish`` (assignment, output, summary),
``run`` (the whole run), ``job`` (a run as the CLI asks for it: input, current model, escalations CSV).
"""

from service.batch.job import BatchDone, model_digest, run_batch_job, source_from
from service.batch.run import ENGINES, STOP_AFTER_VARIABLE, BatchOptions, run_batch, summary_path
from service.batch.scoring import OUTPUT_COLUMNS, fit_matcher, score_chunk
from service.batch.sources import Context, FolderSource, ProblemSource, TablesSource
from service.batch.work import BatchError

__all__ = [
    "run_batch",
    "run_batch_job",
    "BatchDone",
    "source_from",
    "model_digest",
    "BatchOptions",
    "BatchError",
    "ProblemSource",
    "FolderSource",
    "TablesSource",
    "Context",
    "OUTPUT_COLUMNS",
    "ENGINES",
    "STOP_AFTER_VARIABLE",
    "fit_matcher",
    "score_chunk",
    "summary_path",
]
