"""Benchmark: validating the four tables and moving them through the store, at city scale.

Simulates a city (``training.simulator.generate``: about 20,000 problems of 11,500 enterprises, 300 institutions and
30,000 outcomes), then times: reading + validating the CSV folder and the Parquet folder, validating the
frames already in memory, and on SQLite (a temporary file) and on PostgreSQL (a temporary database on
127.0.0.1:5432, when it answers): a first import, a re-import (no changes), ``load_tables`` and 200 single
``record_outcome`` calls. Prints one line per figure.

    .venv/bin/python benchmarks/tables_and_store.py [--enterprises 11500] [--outcomes 30000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from matching.records import Outcome
from matching.tables.files import Tables, read_tables, validate_tables, write_tables
from service.store import create_schema, import_tables, load_tables, make_engine, record_outcome

T = TypeVar("T")
POSTGRES = os.environ.get("SMEMATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def timed(label: str, work: Callable[[], T]) -> T:
    began = time.perf_counter()
    result = work()
    print(f"{label:<48} {time.perf_counter() - began:8.2f} s", flush=True)
    return result


def bench_store(name: str, url: str, tables: Tables) -> None:
    engine = make_engine(url)
    try:
        create_schema(engine)
        timed(f"{name}: first import", lambda: import_tables(engine, tables))
        again = timed(f"{name}: re-import (same tables)", lambda: import_tables(engine, tables))
        assert not again.changed, "a re-import changed rows"
        timed(f"{name}: load_tables", lambda: load_tables(engine))
        pairs = tables.outcomes[["problem_id", "institution_id"]].head(200).itertuples(index=False)
        outcomes = [Outcome(f"BENCH{i}", p, inst, "contacted") for i, (p, inst) in enumerate(pairs)]
        began = time.perf_counter()
        for outcome in outcomes:
            record_outcome(engine, outcome)
        per_call = (time.perf_counter() - began) / max(len(outcomes), 1) * 1000
        print(f"{name + ': record_outcome (per call)':<48} {per_call:8.2f} ms", flush=True)
    finally:
        engine.dispose()


@contextmanager
def postgres_database() -> Iterator[str | None]:
    try:
        import psycopg

        conninfo = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except Exception as error:  # no server, no driver: skip PostgreSQL
        print(f"PostgreSQL skipped: {str(error).splitlines()[0]}")
        yield None
        return
    name = f"smematch_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield conninfo.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=11_500)
    parser.add_argument("--outcomes", type=int, default=30_000)
    options = parser.parse_args()

    from training.simulator.generate import simulate

    data = timed(
        "simulate the city", lambda: simulate(options.enterprises, 300, 0, options.outcomes, ground_truth=False)
    )
    frames = {name: getattr(data, name) for name in ("enterprises", "problems", "institutions", "outcomes")}
    print("rows: " + ", ".join(f"{name} {len(frame):,}" for name, frame in frames.items()))
    with tempfile.TemporaryDirectory() as scratch:
        tables = timed("validate_tables (frames in memory)", lambda: validate_tables(**frames))
        write_tables(tables, Path(scratch) / "csv")
        write_tables(tables, Path(scratch) / "parquet", format="parquet")
        timed("read_tables: CSV folder (read + validate)", lambda: read_tables(Path(scratch) / "csv"))
        timed("read_tables: Parquet folder (read + validate)", lambda: read_tables(Path(scratch) / "parquet"))
        timed("validate_tables (normalised tables again)", lambda: validate_tables(**tables.frames()))
        bench_store("SQLite", f"sqlite:///{Path(scratch) / 'bench.db'}", tables)
        with postgres_database() as url:
            if url is not None:
                bench_store("PostgreSQL", url, tables)


if __name__ == "__main__":
    main()
