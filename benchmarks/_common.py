"""Shared helpers of the benchmark scripts: cached simulator data, isolated measurements, printed tables.

Every measurement runs in a fresh process so its peak RSS is its own; data sets are generated once by the
simulator and cached under ``benchmarks/out/`` (ignored by git).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))


def dataset(n_enterprises: int, n_institutions: int, *, seed: int = 0, outcomes: bool = False) -> Path:
    """A simulator data folder (CSV tables), generated once and cached."""
    from training.simulator.generate import SimulationConfig, generate

    folder = OUT / f"sim_{n_enterprises}x{n_institutions}_s{seed}{'_o' if outcomes else ''}"
    if not (folder / "problems.csv").exists():
        print(f"generating {n_enterprises:,} enterprises x {n_institutions:,} institutions into {folder} ...",
              flush=True)
        config = SimulationConfig(n_enterprises=n_enterprises, n_institutions=n_institutions, seed=seed,
                                  n_outcomes=None if outcomes else 0, ground_truth=outcomes)
        generate(folder, config)
    return folder


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure(function: Callable[..., dict[str, Any]], arguments: tuple) -> dict[str, Any]:
    started = time.perf_counter()
    result = function(*arguments)
    result.setdefault("seconds", time.perf_counter() - started)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def isolated(function: Callable[..., dict[str, Any]], *arguments: Any) -> dict[str, Any]:
    """Run ``function(*arguments)`` in a fresh process; returns its result with seconds and peak RSS."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(_measure, function, arguments).result()


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    print(f"\n{title}")
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
