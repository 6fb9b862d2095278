"""The two engines that score the pending chunks of a batch run and write one part file per chunk.

``run_local`` scores the chunks on this machine: in this process with one worker, else in ``workers`` forked
processes that inherit the fitted Matcher (nothing is pickled; each reads its chunk and writes its part
itself, so only chunk numbers cross processes). ``run_dask`` runs the same ``score_chunk`` over Dask
partitions: each partition reads its chunk (a row group of the staged Parquet file) where it runs, maps
``score_chunk`` over it and writes its part file; the fitted Matcher is shipped once to every worker
(``Client.scatter(..., broadcast=True)``) and only a one-row receipt per chunk comes back. Without a
scheduler address a ``distributed.LocalCluster`` (2 worker processes, 1 thread each) is started here.

Both call ``on_chunk(index, problems)`` as each chunk finishes, and stop with ``BatchError`` after
``stop_after`` chunks when it is set (a test hook: ``SMEMATCH_BATCH_STOP_AFTER``).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from typing import Any

import pandas as pd

from matching import Matcher
from service.batch.scoring import score_chunk
from service.batch.sources import read_chunk
from service.batch.work import BatchError, WorkFolder

__all__ = ["ChunkDone", "run_local", "run_dask", "check_scheduler", "CONNECT_TIMEOUT"]

ChunkDone = Callable[[int, int], None]  # (chunk index, problems in the chunk)
CONNECT_TIMEOUT = "3s"
_CHUNK = "__chunk__"


def _stopped(count: int) -> BatchError:
    return BatchError(f"stopped after {count} chunk(s) as asked (SMEMATCH_BATCH_STOP_AFTER); "
                      "run the same command again to resume")


def run_local(work: WorkFolder, pending: Sequence[int], matcher: Matcher, k: int, *,
              on_chunk: ChunkDone, stop_after: int | None = None, workers: int = 1) -> None:
    if workers > 1 and len(pending) > 1 and "fork" in multiprocessing.get_all_start_methods():
        _run_forked(work, pending, matcher, k, on_chunk=on_chunk, stop_after=stop_after, workers=workers)
        return
    for done, index in enumerate(pending):
        if stop_after is not None and done >= stop_after:
            raise _stopped(done)
        problems = read_chunk(work.problems_path, index)
        work.write_part(index, score_chunk(problems, matcher, k))
        on_chunk(index, len(problems))


_forked: dict[str, Any] = {}  # in a forked worker: the inherited matcher, work folder and k


def _forked_chunk(index: int) -> tuple[int, int]:
    work, matcher, k = _forked["work"], _forked["matcher"], _forked["k"]
    problems = read_chunk(work.problems_path, index)
    work.write_part(index, score_chunk(problems, matcher, k))
    return index, len(problems)


def _run_forked(work: WorkFolder, pending: Sequence[int], matcher: Matcher, k: int, *, on_chunk: ChunkDone,
                stop_after: int | None, workers: int) -> None:
    """Chunks over ``workers`` forked processes; parts are written by the workers, receipts come back."""
    _forked.update(work=work, matcher=matcher, k=k)  # set before the fork, so every worker inherits it
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context) as pool:
            # the stop hook simulates a kill after exactly ``stop_after`` chunks: only those are started
            started = pending if stop_after is None else pending[:stop_after]
            futures = [pool.submit(_forked_chunk, index) for index in started]
            try:
                for future in as_completed(futures):
                    on_chunk(*future.result())
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if len(started) < len(pending):
            raise _stopped(len(started))
    finally:
        _forked.clear()


def _read_partition(index: int, problems_path: str) -> pd.DataFrame:
    return read_chunk(problems_path, index).assign(**{_CHUNK: index})


def _score_partition(problems: pd.DataFrame, matcher: Matcher, k: int, output: str) -> pd.DataFrame:
    """Inside a worker: score one chunk, write its part file, return a receipt (chunk, problems)."""
    index = int(problems[_CHUNK].iat[0])
    WorkFolder(output).write_part(index, score_chunk(problems.drop(columns=[_CHUNK]), matcher, k))
    return pd.DataFrame({"chunk": [index], "problems": [len(problems)]})


def run_dask(work: WorkFolder, pending: Sequence[int], matcher: Matcher, k: int, *, on_chunk: ChunkDone,
             scheduler: str | None = None, n_workers: int = 2, stop_after: int | None = None) -> None:
    if not pending:
        return
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, as_completed

    with ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(_connect(Client, scheduler))
        shipped = client.scatter(matcher, broadcast=True)
        sample = read_chunk(work.problems_path, pending[0]).iloc[:0].assign(**{_CHUNK: 0})
        partitions = dd.from_map(_read_partition, list(pending), problems_path=str(work.problems_path),
                                 meta=sample, enforce_metadata=False)
        receipts = partitions.map_partitions(_score_partition, shipped, k, str(work.output),
                                             meta=pd.DataFrame({"chunk": [0], "problems": [0]}).iloc[:0])
        futures = client.compute(receipts.to_delayed())
        done = 0
        for future in as_completed(futures):
            receipt: Any = future.result()
            on_chunk(int(receipt["chunk"].iat[0]), int(receipt["problems"].iat[0]))
            done += 1
            if stop_after is not None and done >= stop_after and done < len(futures):
                client.cancel(futures)
                raise _stopped(done)


def check_scheduler(address: str) -> None:
    """Fail fast, before any work, when the scheduler cannot be reached."""
    from distributed import Client

    _connect(Client, address).close()


def _connect(client_type: Any, address: str) -> Any:
    try:
        return client_type(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        raise BatchError(f"cannot reach the Dask scheduler at {address!r} within {CONNECT_TIMEOUT}: "
                         f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}"
                         ) from None
