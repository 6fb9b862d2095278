"""Real records end to end: import SBA 7(a) and Kiva, evaluate, and measure what the engine does with them.

Run: ``.venv/bin/python benchmarks/bench_realdata.py [--data ../shared/realdata]``. Prints, per
dataset: the import and evaluation times, the Markdown result tables of ``smematch evaluate`` (the tables of
``benchmarks/RESULTS.md``), a paired bootstrap of the trained ranker against the best simple baseline, and the
measurements behind the engine change requests (escalations of ``Matcher.recommend``, problems without a
detected category, words per problem, how much of the track record the engine can see at the split, and what
history-based lending ranges would exclude).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from matching import Matcher
from matching.explain.pairs import CATEGORY_THRESHOLD
from matching.tables.files import read_tables
from service.imports.kiva import import_kiva
from service.imports.sba import import_sba
from training.realdata.evaluate import ORDER, EvaluationReport, evaluate_folder
from training.realdata.study import build_study

SIMPLE = ("random", "popular_in_region", "popular_in_region_last_year", "text_only")


def bootstrap(ranks: dict[str, np.ndarray], *, resamples: int = 2000, seed: int = 0) -> list[str]:
    """Paired bootstrap of trained minus the best simple baseline (by MRR), for MRR and hit@5."""
    def mrr(r: np.ndarray) -> np.ndarray:
        return np.where(r > 0, 1.0 / np.maximum(r, 1), 0.0)

    def hit5(r: np.ndarray) -> np.ndarray:
        return ((r > 0) & (r <= 5)).astype(float)

    best = max(SIMPLE, key=lambda name: mrr(ranks[name]).mean())
    rng = np.random.default_rng(seed)
    n = len(ranks["trained"])
    draws = rng.integers(0, n, size=(resamples, n))
    lines = []
    for label, metric in (("MRR", mrr), ("hit@5", hit5)):
        difference = metric(ranks["trained"]) - metric(ranks[best])
        means = difference[draws].mean(axis=1)
        low, high = np.quantile(means, [0.025, 0.975])
        lines.append(f"  trained - {best} {label}: {difference.mean():+.4f} (95% CI {low:+.4f} .. {high:+.4f}, "
                     f"{n:,} cases)")
    return lines


def engine_measurements(folder: Path, split: str, *, sample: int = 500) -> list[str]:
    tables = read_tables(folder)
    study = build_study(tables, pd.Timestamp(split))
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(study.test, size=min(sample, len(study.test)), replace=False))
    problems = study.problems.iloc[rows]
    known = tables.outcomes[pd.to_datetime(tables.outcomes["recorded_at"]) < pd.Timestamp(split)]
    recommendations = Matcher().fit(tables.institutions, outcomes=known,
                                    regions=tables.enterprises["region"].unique()).recommend(problems, k=5)
    escalated = [r.escalate_reason.split(" (")[0] for r in recommendations if r.escalate]
    reasons = pd.Series(escalated, dtype=object).value_counts()
    no_category = (study.prepared.detection.confidence[study.test].max(axis=1) < CATEGORY_THRESHOLD).mean()
    words = problems["text"].str.split().str.len()
    train_ids = set(study.problems["problem_id"].to_numpy()[study.train])
    visible = known["problem_id"].isin(train_ids).sum() / max(len(train_ids), 1)
    cases = study.train_cases
    ranges = cases.groupby("institution_id")["amount"].agg(["min", "max"])
    test = study.served[study.served["problem_row"].isin(study.test)].merge(
        study.problems[["amount"]], left_on="problem_row", right_index=True).join(ranges, on="institution_id")
    outside = ((test["amount"] < test["min"]) | (test["amount"] > test["max"])).mean()
    lines = [
        f"  Matcher.recommend (BaselineRanker, k=5) on {len(rows)} evaluation problems: "
        f"{len(escalated) / len(rows):.1%} escalated" + (f" ({'; '.join(f'{k}: {v}' for k, v in reasons.items())})"
                                                         if len(reasons) else ""),
        f"  problems with no detected category: {no_category:.1%}; words per problem text: median "
        f"{words.median():.0f} (min {words.min()}, max {words.max()})",
        f"  training cases whose outcome the track record can see at the split: {visible:.1%}",
        f"  evaluation cases whose amount is outside the served institution's training range: {outside:.1%}",
    ]
    return lines


def run(name: str, importer, source: Path, split: str, exclude: int, out: Path) -> None:
    started = time.perf_counter()
    summary = importer(source, out)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    report: EvaluationReport = evaluate_folder(out, split, exclude_top=exclude)
    evaluated = time.perf_counter() - started
    print(f"\n## {name}\n")
    print(f"import-real: {summary.rows_read:,} rows in {imported:.1f} s; evaluate: {evaluated:.1f} s\n")
    print(report.markdown())
    print("\nPaired bootstrap:")
    print("\n".join(bootstrap(report.ranks)))
    if report.ranks_without is not None:
        print(f"  without the {len(report.excluded)} largest:")
        print("\n".join("  " + line for line in bootstrap(report.ranks_without)))
    print(f"\ntrained escalated {report.escalated:,} of {report.test_cases:,} evaluated cases")
    print("Engine measurements:")
    print("\n".join(engine_measurements(out, split)))
    assert set(report.methods) == set(ORDER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("Kiva (split 2016-01-01)", import_kiva, args.data / "kiva", "2016-01-01", 0, Path(folder) / "kiva")
        run("SBA 7(a) (split 2004-10-01, the start of FY2005)", import_sba, args.data / "sba_7a", "2004-10-01", 5,
            Path(folder) / "sba")


if __name__ == "__main__":
    main()
