"""Benchmark of ``smematch batch``: the city and a nation, local and Dask engines, against raw retrieval.

For each size it generates the data once with the simulator (kept in ``--data-root``), then runs in child
processes, one at a time: ``smematch batch`` with each engine (end to end: reading, checking, scoring,
assignment where asked, writing; ``dask`` on a scheduler and two workers started as separate processes on
loopback, ``dask scheduler`` and ``dask worker --nthreads 1``, as the README tells users, with
``--scheduler``), and the yardstick: raw TF-IDF top-k retrieval alone (the engine's own text
index, problems read from the same CSV in chunks, nothing else). Printed per run: wall time, problems per
second, peak RSS of the child and all its descendants (for Dask, the scheduler's and workers' processes
added), and the ratio to the yardstick.

    .venv/bin/python benchmarks/bench_batch.py --sizes city
    .venv/bin/python benchmarks/bench_batch.py --sizes nation --nation-enterprises 1000000 --engines dask
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SMEMATCH = Path(sys.executable).parent / "smematch"


def generate(folder: Path, enterprises: int, institutions: int, outcomes: bool) -> None:
    from training.simulator.generate import SimulationConfig
    from training.simulator.generate import generate as simulate

    if (folder / "problems.csv").is_file():
        return
    config = SimulationConfig(n_enterprises=enterprises, n_institutions=institutions, seed=0,
                              n_outcomes=None if outcomes else 0, ground_truth=False)
    started = time.perf_counter()
    simulate(folder, config)
    print(f"  generated {folder} in {time.perf_counter() - started:.0f} s", flush=True)


@dataclass
class Measure:
    seconds: float
    peak_rss: int  # bytes, the child and all its descendants at once
    cpu_seconds: float  # user + system of the child and its descendants (last seen), load-independent-ish
    code: int
    output: str


def measured(command: list[str], also: list[int] | None = None) -> Measure:
    """Run a command, sampling the memory and CPU time of its process tree (and of the process trees ``also``,
    e.g. a Dask cluster's) every 0.2 s. CPU of ``also`` counts from the start of the command."""
    started = time.perf_counter()
    others = [psutil.Process(pid) for pid in also or []]
    before = {member.pid: sum(member.cpu_times()[:2]) for other in others
              for member in [other, *other.children(recursive=True)]}
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        parent = psutil.Process(process.pid)
        peak = 0
        cpu: dict[int, float] = {}
        while process.poll() is None:
            try:
                tree = [parent, *parent.children(recursive=True)]
                tree += [member for other in others for member in [other, *other.children(recursive=True)]]
                rss = 0
                for member in tree:
                    with contextlib.suppress(psutil.Error):
                        rss += member.memory_info().rss
                        times = member.cpu_times()
                        cpu[member.pid] = times.user + times.system - before.get(member.pid, 0.0)
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return Measure(time.perf_counter() - started, peak, sum(cpu.values()), process.returncode, text)


@contextlib.contextmanager
def loopback_cluster(workers: int = 2) -> Iterator[tuple[str, list[int]]]:
    """``dask scheduler`` and ``workers`` x ``dask worker --nthreads 1`` on 127.0.0.1, as separate processes;
    yields (scheduler address, their pids)."""
    dask = Path(sys.executable).parent / "dask"
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as scratch:
        address_file = Path(scratch) / "scheduler.json"
        # This checkout's code on the workers, as in the client.
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT,
                 "env": {**os.environ, "PYTHONPATH": path}}
        started = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(address_file)], **quiet)]
        try:
            while not address_file.exists():
                if started[0].poll() is not None:
                    raise SystemExit("dask scheduler exited")
                time.sleep(0.1)
            for number in range(workers):
                started.append(subprocess.Popen(
                    [str(dask), "worker", "--scheduler-file", str(address_file), "--host", "127.0.0.1",
                     "--nthreads", "1", "--no-dashboard", "--local-directory", f"{scratch}/worker-{number}"], **quiet))
            from distributed import Client

            address = json.loads(address_file.read_text())["address"]
            with Client(address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=120)
            yield address, [process.pid for process in started]
        finally:
            for process in reversed(started):
                process.terminate()
            for process in started:
                process.wait(timeout=30)


def yardstick(folder: Path, k: int, limit: int | None) -> None:
    """Raw retrieval alone, in this process: read problems in chunks, TF-IDF similarity, top-k. Prints JSON."""
    import pandas as pd

    from matching import Matcher
    from matching.retrieve import top_k
    from matching.tables.files import read_tables  # noqa: F401  (same import cost as the real run)

    started = time.perf_counter()
    institutions = pd.read_csv(folder / "institutions.csv", keep_default_na=False)
    index = Matcher().fit(institutions).catalogue_.index
    fitted = time.perf_counter()
    size = max(1, 1_000_000 // len(institutions))
    done = 0
    for chunk in pd.read_csv(folder / "problems.csv", usecols=["text"], chunksize=20_000, dtype=str,
                             keep_default_na=False):
        texts = chunk["text"].tolist()
        if limit is not None:
            texts = texts[: max(0, limit - done)]
        for start in range(0, len(texts), size):
            top_k(index.similarity(index.transform(texts[start : start + size])), k)
        done += len(texts)
        if limit is not None and done >= limit:
            break
    ended = time.perf_counter()
    print(json.dumps({"problems": done, "seconds_retrieval": ended - fitted, "seconds": ended - started}))


def run(name: str, folder: Path, engines: list[str], assign: bool, k: int, limit: int | None,
        chunk_size: int | None) -> None:
    print(f"\n== {name}: {folder}", flush=True)
    print(f"  load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    yard = measured([sys.executable, __file__, "--yardstick", str(folder), "--k", str(k),
                     *(["--yardstick-limit", str(limit)] if limit else [])])
    if yard.code != 0:
        print(yard.output)
        raise SystemExit(yard.code)
    raw = json.loads(yard.output.strip().splitlines()[-1])
    raw_rate = raw["problems"] / raw["seconds"]
    raw_cpu_per_problem = yard.cpu_seconds / raw["problems"]
    print(f"  raw TF-IDF top-{k} retrieval: {raw['problems']:,} problems in {raw['seconds']:.1f} s "
          f"({raw_rate:,.0f} problems/s; {raw['seconds_retrieval']:.1f} s retrieving), peak RSS "
          f"{yard.peak_rss / 2**30:.2f} GiB, CPU {yard.cpu_seconds:.1f} s "
          f"({raw_cpu_per_problem * 1e3:.2f} ms/problem)", flush=True)
    outputs: dict[str, Path] = {}
    for engine in engines:
        output = outputs[engine] = Path(tempfile.mkdtemp(prefix="bench-batch-")) / "out.parquet"
        command = [str(SMEMATCH), "batch", "--data", str(folder), "--out", str(output), "-k", str(k),
                   "--engine", engine, *(["--chunk-size", str(chunk_size)] if chunk_size else []),
                   *(["--assign"] if assign else [])]
        with contextlib.ExitStack() as stack:
            pids: list[int] = []
            if engine == "dask":
                address, pids = stack.enter_context(loopback_cluster())
                command += ["--scheduler", address]
            run = measured(command, also=pids)
        if run.code != 0:
            print(run.output)
            raise SystemExit(run.code)
        seconds, peak = run.seconds, run.peak_rss
        summary = json.loads(output.with_name("out.summary.json").read_text(encoding="utf-8"))
        problems = summary["problems"]
        per = summary["seconds"]
        raw_same = problems / raw_rate
        print(f"  batch --engine {engine}{' --assign' if assign else ''}: {problems:,} problems in {seconds:.1f} s "
              f"wall ({problems / seconds:,.0f} problems/s), peak RSS {peak / 2**30:.2f} GiB, "
              f"{seconds / raw_same:.2f}x raw retrieval of the same problems (wall); CPU {run.cpu_seconds:.1f} s = "
              f"{run.cpu_seconds / problems * 1e3:.2f} ms/problem, "
              f"{run.cpu_seconds / problems / raw_cpu_per_problem:.2f}x raw retrieval's CPU per problem", flush=True)
        print(f"    phases (s): {per}", flush=True)
        if "assignment" in summary:
            figures = {key: value for key, value in summary["assignment"].items() if key != "method"}
            print(f"    assignment: {figures}", flush=True)
    if {"local", "dask"} <= set(outputs):
        import pandas as pd

        same = pd.read_parquet(outputs["dask"]).equals(pd.read_parquet(outputs["local"]))
        print(f"  dask output equals the local engine's, row for row: {same}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="city,nation", help="comma-separated: city, nation")
    parser.add_argument("--engines", default="local,dask")
    parser.add_argument("--nation-enterprises", type=int, default=1_000_000)
    parser.add_argument("--nation-institutions", type=int, default=10_000)
    parser.add_argument("--nation-assign", action="store_true", help="assign under capacity in the nation too")
    parser.add_argument("--data-root", type=Path, default=Path(tempfile.gettempdir()) / "smematch-bench")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--chunk-size", type=int, default=None, help="default: smematch batch's own choice")
    parser.add_argument("--yardstick-limit", type=int, default=None, help="raw retrieval on the first N only")
    parser.add_argument("--yardstick", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.yardstick is not None:
        yardstick(args.yardstick, args.k, args.yardstick_limit)
        return
    engines = [e for e in args.engines.split(",") if e]
    for size in [s for s in args.sizes.split(",") if s]:
        if size == "city":
            folder = args.data_root / "city-8000x300"
            generate(folder, 8_000, 300, outcomes=True)
            run("city (8,000 enterprises x 300 institutions)", folder, engines, True, args.k, None, args.chunk_size)
        elif size == "nation":
            n, m = args.nation_enterprises, args.nation_institutions
            folder = args.data_root / f"nation-{n}x{m}"
            generate(folder, n, m, outcomes=False)
            run(f"nation ({n:,} enterprises x {m:,} institutions)", folder, engines, args.nation_assign, args.k,
                args.yardstick_limit, args.chunk_size)
        else:
            parser.error(f"unknown size {size!r}")


if __name__ == "__main__":
    main()
