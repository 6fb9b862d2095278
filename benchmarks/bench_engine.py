"""Benchmark of the matching engine: the whole pipeline against raw TF-IDF top-k retrieval and bm25s.

For each scale (the city: 8,000 enterprises x 300 institutions; large: 200,000 x 10,000) it prints wall time,
problems per second and peak RSS of: the full pipeline (validate, analyse, retrieve, filter, featurise, rank,
diversify, explain), raw TF-IDF top-k retrieval alone (same analyser, one sparse product per chunk, argpartition)
and bm25s retrieval (same tokens). Each measurement runs in its own process.

    python benchmarks/bench_engine.py                 # both scales
    python benchmarks/bench_engine.py --scales city   # the city only
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import dataset, isolated, machine, print_table

K = 5


def _problems(folder: Path):
    from matching.tables.context import problem_frame
    from matching.tables.files import read_tables

    tables = read_tables(folder)
    return tables, problem_frame(tables.problems, tables.enterprises)


def full_pipeline(folder: Path) -> dict[str, Any]:
    from matching.tables.context import fit_matcher

    tables, problems = _problems(folder)
    started = time.perf_counter()
    matcher = fit_matcher(tables)
    results = matcher.recommend(problems, k=K)
    seconds = time.perf_counter() - started
    escalated = sum(r.escalate for r in results)
    return {"method": "smematch pipeline", "problems": len(problems), "seconds": seconds,
            "escalated": escalated}


def _profiles(institutions) -> list[str]:
    return [f"{n} {k} {d}" for n, k, d in zip(institutions["name"], institutions["kind"],
                                              institutions["description"], strict=True)]


def raw_tfidf(folder: Path) -> dict[str, Any]:
    import numpy as np

    from matching.normalise import normalize
    from matching.retrieve import TextIndex

    tables, problems = _problems(folder)
    started = time.perf_counter()
    index = TextIndex().fit(_profiles(tables.institutions))
    queries = index.transform([normalize(t) for t in problems["text"]])
    chunk = max(1, 8_000_000 // len(tables.institutions))
    for start in range(0, len(problems), chunk):
        scores = index.similarity(queries[start : start + chunk])
        np.argpartition(-scores, K, axis=1)[:, :K]
    return {"method": "raw TF-IDF top-k", "problems": len(problems), "seconds": time.perf_counter() - started}


def bm25s_retrieval(folder: Path) -> dict[str, Any]:
    import bm25s

    from matching.normalise import analyze

    tables, problems = _problems(folder)
    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index([analyze(p) for p in _profiles(tables.institutions)], show_progress=False)
    corpus_tokens = [analyze(t) for t in problems["text"]]
    retriever.retrieve(corpus_tokens, k=K, show_progress=False, n_threads=1)
    return {"method": "bm25s top-k", "problems": len(problems), "seconds": time.perf_counter() - started}


SCALES = {"city": (8_000, 300), "large": (200_000, 10_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="city,large", help="comma-separated: city, large")
    parser.add_argument("--large-enterprises", type=int, default=SCALES["large"][0])
    options = parser.parse_args()
    print(f"engine benchmark on {machine()}")
    for name in options.scales.split(","):
        enterprises, institutions = SCALES[name]
        if name == "large":
            enterprises = options.large_enterprises
        folder = dataset(enterprises, institutions)
        rows = [isolated(function, folder) for function in (raw_tfidf, bm25s_retrieval, full_pipeline)]
        baseline = rows[0]["seconds"]
        for row in rows:
            row["problems/s"] = row["problems"] / row["seconds"]
            row["x raw TF-IDF"] = row["seconds"] / baseline
        print_table(f"{name}: {enterprises:,} enterprises x {institutions:,} institutions, k={K}", rows,
                    ["method", "problems", "seconds", "problems/s", "peak_rss_mb", "x raw TF-IDF", "escalated"])


if __name__ == "__main__":
    main()
