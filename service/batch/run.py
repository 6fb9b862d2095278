"""One batch run from start to end: check, stage, score the pending chunks, assign, write, summarise.

Inputs: a ``ProblemSource`` (data folder or tables from the store), a ``Ranker`` (the current bundle or the
baseline) and ``BatchOptions``. Output: the Parquet file at ``options.output`` (see ``service.batch``), the
summary JSON beside it (``<name>.summary.json``), and the summary returned as a dict. Progress is reported
through ``on_progress(problems_done, problems_total)``; nothing is printed here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from matching import Ranker
from matching.errors import InvalidInput, Issue
from matching.tables.context import as_time, check_as_of
from matching.understand.problems import MAX_K
from service.batch.engines import check_scheduler, run_dask, run_local
from service.batch.finish import finish
from service.batch.scoring import capacity_left, fit_matcher
from service.batch.sources import ProblemSource, stage
from service.batch.work import BatchError, Manifest, WorkFolder

__all__ = ["DEFAULT_CHUNK_SIZE", "auto_chunk_size", "BatchOptions", "run_batch", "summary_path", "ENGINES",
           "STOP_AFTER_VARIABLE"]

ENGINES = ("local", "dask")
# Problems per chunk (a part file, a unit of resumption and of parallel work) when none is given: an eighth of
# the input, so that the workers get even shares and finish together (a few large chunks leave one worker with
# the remainder), from 500 to 4,000 (larger chunks gain nothing in ``benchmarks/bench_batch.py --chunk-size``).
DEFAULT_CHUNK_SIZE = 4_000
MIN_AUTO_CHUNK_SIZE = 500
AUTO_CHUNKS = 8
STOP_AFTER_VARIABLE = "SMEMATCH_BATCH_STOP_AFTER"
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BatchOptions:
    output: Path
    k: int = 5
    assign: bool = False
    engine: str = "local"
    scheduler: str | None = None
    chunk_size: int | None = None  # None: chosen from the input's size (``auto_chunk_size``)
    resume: bool = False
    overwrite: bool = False
    n_workers: int | None = None  # None: the local engine uses every core, a local Dask cluster 2 workers
    model_digest: str = ""
    as_of: str | None = None  # only outcomes recorded before it count (track record, history, load)

    @property
    def local_workers(self) -> int:
        return self.n_workers if self.n_workers is not None else max(1, os.cpu_count() or 1)

    @property
    def dask_workers(self) -> int:
        return self.n_workers if self.n_workers is not None else 2

    def validate(self) -> BatchOptions:
        issues: list[Issue] = []
        if not (isinstance(self.k, int) and 1 <= self.k <= MAX_K):
            issues.append(Issue(column="k", expected=f"an integer from 1 to {MAX_K}", found=repr(self.k)))
        if self.chunk_size is not None and not (isinstance(self.chunk_size, int) and self.chunk_size >= 1):
            issues.append(Issue(column="chunk-size", expected="a whole number >= 1", found=repr(self.chunk_size)))
        if self.n_workers is not None and not (isinstance(self.n_workers, int) and self.n_workers >= 1):
            issues.append(Issue(column="workers", expected="a whole number >= 1", found=repr(self.n_workers)))
        if self.engine not in ENGINES:
            issues.append(Issue(column="engine", expected=f"one of {', '.join(ENGINES)}", found=repr(self.engine)))
        if self.scheduler is not None and self.engine != "dask":
            issues.append(Issue(column="scheduler", expected="only with --engine dask", found=repr(self.scheduler)))
        if self.as_of is not None:
            try:
                as_time(self.as_of, "as-of")
            except InvalidInput as error:
                issues.extend(error.issues)
        if Path(self.output).suffix != ".parquet":
            issues.append(Issue(column="out", expected="a path ending in .parquet", found=repr(str(self.output))))
        if issues:
            raise InvalidInput(issues)
        return self


def summary_path(output: Path) -> Path:
    return output.with_name(output.stem + ".summary.json")


def _stop_after() -> int | None:
    value = os.environ.get(STOP_AFTER_VARIABLE)
    return int(value) if value and value.isdigit() else None


def _work_folder(options: BatchOptions, manifest: Manifest) -> tuple[WorkFolder, bool]:
    """The work folder to use and whether it starts fresh; refuses to mix in parts of another run."""
    work = WorkFolder(Path(options.output))
    if not work.exists() or options.overwrite:
        return work, True
    if work.matches(manifest):
        return work, False
    raise BatchError(f"{work.path} holds parts of a run with another input, model, k or chunk size: pass "
                     "--overwrite to discard them")


def run_batch(source: ProblemSource, ranker: Ranker, options: BatchOptions, *,
              on_progress: Progress | None = None, on_phase: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the batch described by ``options`` (see the module docstring) and return its summary."""
    options.validate()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    tell = on_phase or (lambda _phase: None)
    progress = on_progress or (lambda _done, _total: None)

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 3)
        return now

    output = Path(options.output)
    if output.is_dir():
        raise BatchError(f"{output} is a folder, not a file")
    if output.exists() and not (options.resume or options.overwrite):
        raise BatchError(f"{output} exists: pass --overwrite to replace it or --resume to finish an earlier run")
    if options.engine == "dask" and options.scheduler is not None:
        check_scheduler(options.scheduler)
    tell("reading tables")
    context = source.context()
    chunk_size = options.chunk_size if options.chunk_size is not None else auto_chunk_size(source.size_hint())
    options = replace(options, chunk_size=chunk_size)
    manifest = Manifest(input_digest=source.digest(), k=options.k, model_version=ranker.version,
                        model_digest=options.model_digest, chunk_size=chunk_size, assign=options.assign,
                        as_of=options.as_of)
    work, fresh = _work_folder(options, manifest)
    as_of = as_time(options.as_of, "as-of") if options.as_of is not None else None
    if as_of is not None:
        check_as_of(context.outcomes, as_of)
    matcher = fit_matcher(context, ranker, as_of=as_of)
    at = lap("load_and_fit", started)
    if fresh or not work.problems_path.is_file():
        tell("checking and staging problems")
        work.start(manifest, fresh=True)
        try:
            stage(source, context, work.problems_path, chunk_size=chunk_size, regions=matcher.regions,
                  workers=options.local_workers)
        except BaseException:
            work.remove()
            raise
    at = lap("stage", at)
    metadata = pq.ParquetFile(work.problems_path).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    total = sum(sizes)
    finished = work.finished(len(sizes))
    pending = [index for index in range(len(sizes)) if index not in finished]
    done = sum(sizes[index] for index in finished)
    progress(done, total)

    def chunk_done(_index: int, problems: int) -> None:
        nonlocal done
        done += problems
        progress(done, total)

    tell(f"scoring {len(pending)} of {len(sizes)} chunk(s)" + (" (resumed)" if finished else ""))
    if options.engine == "dask":
        run_dask(work, pending, matcher, options.k, on_chunk=chunk_done, scheduler=options.scheduler,
                 n_workers=options.dask_workers, stop_after=_stop_after())
    else:
        run_local(work, pending, matcher, options.k, on_chunk=chunk_done, stop_after=_stop_after(),
                  workers=options.local_workers)
    at = lap("score", at)
    tell("assigning and writing the output" if options.assign else "writing the output")
    summary = finish(work, len(sizes), context.institutions, capacity_left(context, as_of=as_of),
                     assign=options.assign)
    at = lap("assign_and_write", at)
    timings["total"] = round(at - started, 3)
    summary = {
        "output": str(options.output),
        "engine": options.engine,
        "k": options.k,
        "model_version": ranker.version,
        "chunks": len(sizes),
        "chunk_size": chunk_size,
        "chunks_resumed": len(finished),
        **summary,
        "seconds": timings,
        "problems_per_second_scoring": round((total - sum(sizes[i] for i in finished)) / max(timings["score"], 1e-9),
                                             1),
        "problems_per_second_end_to_end": round(total / max(timings["total"], 1e-9), 1),
    }
    _write_summary(summary_path(Path(options.output)), summary)
    work.remove()
    return summary


def auto_chunk_size(problems: int) -> int:
    """Chunk size for about ``AUTO_CHUNKS`` chunks of ``problems`` (an estimate is enough), within bounds."""
    return int(min(DEFAULT_CHUNK_SIZE, max(MIN_AUTO_CHUNK_SIZE, -(-max(problems, 0) // AUTO_CHUNKS))))


def _write_summary(path: Path, summary: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=_plain), encoding="utf-8")
    temporary.replace(path)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
