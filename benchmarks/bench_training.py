"""Training benchmarks: time to train on 100,000 outcome rows, the default sample's quality against the
baselines and the oracle, and whether inverse propensity weighting helps. Prints its figures.

    .venv/bin/python benchmarks/bench_training.py                 # all three parts
    .venv/bin/python benchmarks/bench_training.py --part speed --rows 100000
    .venv/bin/python benchmarks/bench_training.py --part quality --enterprises 8000
    .venv/bin/python benchmarks/bench_training.py --part bias

No MLflow here (``training.api.fit_ranker``): the figures are about the data, the model and the evaluation.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

from matching.tables.files import validate_tables
from training.api import fit_ranker
from training.config import load_config
from training.simulator.generate import simulate

SHOWN = ("ndcg_at_5", "ndcg_at_10", "map_at_5", "mrr", "gt_ndcg_at_5", "gt_ndcg_at_10", "gt_mrr", "coverage_at_10",
         "kind_diversity_at_5")
RANKERS = {"model": "", "text only": "_text_baseline", "popularity": "_popularity", "cold start": "_cold_start",
           "oracle": "_oracle"}


def _city(enterprises: int, seed: int, outcomes: int | None = None, ground_truth: bool = True):  # noqa: ANN202
    started = time.perf_counter()
    city = simulate(n_enterprises=enterprises, seed=seed, n_outcomes=outcomes, ground_truth=ground_truth)
    tables = validate_tables(city.enterprises, city.problems, city.institutions, city.outcomes)
    print(f"simulated {enterprises:,} enterprises, {len(city.outcomes):,} outcome rows in "
          f"{time.perf_counter() - started:.1f} s")
    return city, tables


def speed(rows: int, seed: int) -> None:
    city, tables = _city(max(1000, round(rows / 3.7)), seed, outcomes=rows, ground_truth=False)
    config = load_config()
    result = fit_ranker(tables, config=config, propensities=city.logging_policy)
    s = result.seconds
    train_rows = int((result.data.pairs["split"] != "evaluation").sum())
    print(f"{len(tables.outcomes):,} outcome rows -> {len(result.data.pairs):,} pairs ({train_rows:,} train and "
          f"calibration) on {os.cpu_count()} cores, {config.model.threads or 'all'} OpenMP thread(s):")
    print(f"  build pairs {s['pairs']:.1f} s + fit and calibrate {s['fit']:.1f} s = training "
          f"{s['pairs'] + s['fit']:.1f} s (target < 60 s); evaluation beside baselines {s['evaluate']:.1f} s; "
          f"total {s['total']:.1f} s")


def _table(metrics: dict[str, float]) -> None:
    print(f"  {'metric':<22}" + "".join(f"{name:>12}" for name in RANKERS))
    for metric in SHOWN:
        values = [metrics.get(f"{metric}{suffix}", float("nan")) for suffix in RANKERS.values()]
        print(f"  {metric:<22}" + "".join(f"{v:>12.4f}" for v in values))


def quality(enterprises: int, seed: int) -> None:
    city, tables = _city(enterprises, seed)
    result = fit_ranker(tables, propensities=city.logging_policy, ground_truth=city.ground_truth)
    m = result.metrics
    print(f"default config, seed {seed}: {int(m['eval_problems_logged']):,} evaluation problems with >= 2 tried "
          f"institutions, {int(m['eval_problems_ground_truth']):,} with ground truth; {result.seconds['total']:.1f} s")
    _table(m)
    print(f"  ndcg_at_5 / oracle = {m['ndcg_at_5'] / m['ndcg_at_5_oracle']:.3f} (target >= 0.9); "
          f"gt_ndcg_at_5 = {m['gt_ndcg_at_5']:.3f} (oracle 1.0 by construction); above text-only by "
          f"{m['ndcg_at_5'] - m['ndcg_at_5_text_baseline']:+.4f} (logged), "
          f"{m['gt_ndcg_at_5'] - m['gt_ndcg_at_5_text_baseline']:+.4f} (ground truth)")
    print(f"  selection bias: top 10% of institutions hold {m['bias_top10pct_share']:.0%} of training pairs, "
          f"Gini {m['bias_gini']:.2f}, untried {m['bias_untried_institutions']:.0%}; ESS of raw 1/p weights "
          f"{m.get('bias_ess_ratio', float('nan')):.1%}, of the clipped weights used {m['bias_ess_ratio_used']:.1%}")


def bias(enterprises: int, seed: int) -> None:
    city, tables = _city(enterprises, seed)
    base = load_config()
    variants = {
        "no weighting (default)": replace(base, weighting=replace(base.weighting, inverse_propensity=False)),
        "IPW clip 0.05": replace(base, weighting=replace(base.weighting, inverse_propensity=True)),
        "IPW clip 0.01": replace(base, weighting=replace(base.weighting, inverse_propensity=True,
                                                          propensity_clip=0.01)),
        "IPW clip 0.001": replace(base, weighting=replace(base.weighting, inverse_propensity=True,
                                                           propensity_clip=0.001)),
        "untried as negatives (3/problem, w 0.2)": replace(base, dataset=replace(base.dataset, untried_negatives=3)),
    }
    print(f"  {'variant':<42}{'ndcg_at_5':>10}{'gt_ndcg@5':>10}{'gt_mrr':>8}{'cover@10':>9}{'ESS used':>9}")
    for name, config in variants.items():
        m = fit_ranker(tables, config=config, propensities=city.logging_policy, ground_truth=city.ground_truth).metrics
        print(f"  {name:<42}{m['ndcg_at_5']:>10.4f}{m['gt_ndcg_at_5']:>10.4f}{m['gt_mrr']:>8.4f}"
              f"{m['coverage_at_10']:>9.3f}{m['bias_ess_ratio_used']:>9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("speed", "quality", "bias", "all"), default="all")
    parser.add_argument("--rows", type=int, default=100_000, help="outcome rows for the speed part")
    parser.add_argument("--enterprises", type=int, default=8_000, help="enterprises for quality and bias")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.part in ("speed", "all"):
        print("== speed")
        speed(args.rows, args.seed)
    if args.part in ("quality", "all"):
        print("== quality on the default simulator sample")
        quality(args.enterprises, args.seed)
    if args.part in ("bias", "all"):
        print("== selection bias: does weighting help?")
        bias(args.enterprises, args.seed)


if __name__ == "__main__":
    main()
