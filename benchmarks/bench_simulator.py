"""Benchmark of the simulator: how long ``generate`` takes to write a city, and how much memory it needs.

Each size runs in a fresh process (so its peak RSS is its own) and writes into a temporary folder:
- the default city: 8,200 enterprises x 300 institutions, with outcomes and ground truth;
- 100,000 enterprises x 300 institutions, with outcomes and ground truth;
- with ``--huge``: 1,000,000 enterprises x 10,000 institutions, no outcomes and no ground truth (the input of
  the batch benchmark), streamed in chunks of 20,000 enterprises.

    .venv/bin/python benchmarks/bench_simulator.py [--sizes 8200 100000] [--huge]

Prints one table: wall seconds, CPU seconds (less sensitive to a busy machine), rows written, output size
and peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import isolated, print_table  # noqa: E402


def run(n_enterprises: int, n_institutions: int, with_outcomes: bool) -> dict[str, Any]:
    from training.simulator.generate import SimulationConfig, generate

    config = SimulationConfig(n_enterprises=n_enterprises, n_institutions=n_institutions, seed=0,
                              n_outcomes=None if with_outcomes else 0, ground_truth=with_outcomes)
    with tempfile.TemporaryDirectory() as folder:
        cpu = time.process_time()
        summary = generate(folder, config)
        cpu = time.process_time() - cpu
        size = sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file()) / 1e6
    return {
        "enterprises": n_enterprises, "institutions": n_institutions,
        "problems": summary.rows["problems.csv"], "outcomes": summary.rows["outcomes.csv"],
        "ground truth rows": summary.rows.get("ground_truth.parquet", 0),
        "seconds": summary.seconds, "cpu seconds": cpu, "output MB": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8_200, 100_000],
                        help="enterprises per run (300 institutions, with outcomes and ground truth)")
    parser.add_argument("--huge", action="store_true", help="also 1,000,000 x 10,000 without outcomes")
    arguments = parser.parse_args()
    runs = [(n, 300, True) for n in arguments.sizes] + ([(1_000_000, 10_000, False)] if arguments.huge else [])
    rows = []
    for n_enterprises, n_institutions, with_outcomes in runs:
        print(f"simulating {n_enterprises:,} enterprises x {n_institutions:,} institutions ...", flush=True)
        rows.append(isolated(run, n_enterprises, n_institutions, with_outcomes))
    print_table("smematch generate (seed 0)", rows, ["enterprises", "institutions", "problems", "outcomes",
                                                     "ground truth rows", "seconds", "cpu seconds", "output MB",
                                                     "peak_rss_mb"])


if __name__ == "__main__":
    main()
