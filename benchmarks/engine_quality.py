"""Quality of the untrained engine on simulator data, against the oracle of the hidden ground truth.

For every problem of the evaluation period (those in ``ground_truth.parquet``) the gains are the true success
probabilities of every institution; the oracle ranks by them (NDCG 1 by definition). Printed per ranker: NDCG@5,
NDCG@10, hit@k (the oracle's best institution within the top k), the mean true p_success of the top-1, and the
share escalated. Rankers: the cold-start baseline (text + category-kind prior) and text similarity alone.

    python benchmarks/engine_quality.py [--data DIR]    # default: the simulator's default city, cached
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import dataset, machine, print_table


def evaluate(folder: Path) -> list[dict]:
    from matching import BaselineRanker, TextOnlyRanker
    from matching.tables.context import fit_matcher, problem_frame
    from matching.tables.files import read_tables
    from training.metrics import ndcg_at_k

    tables = read_tables(folder)
    truth = pd.read_parquet(folder / "ground_truth.parquet")
    problems = problem_frame(tables.problems, tables.enterprises)
    problems = problems[problems["problem_id"].isin(set(truth["problem_id"]))].reset_index(drop=True)
    gains = {pid: dict(zip(g["institution_id"], g["p_success"], strict=True))
             for pid, g in truth.groupby("problem_id")}
    oracle_best = truth.loc[truth.groupby("problem_id")["p_success"].idxmax()].set_index("problem_id")
    rows = []
    for ranker in (BaselineRanker(), TextOnlyRanker()):
        results = fit_matcher(tables, ranker).recommend(problems, k=10)
        ndcg5, ndcg10, top1, hits = [], [], [], {1: [], 5: [], 10: []}
        for pid, result in zip(problems["problem_id"], results, strict=True):
            truth_gains = gains[pid]
            ideal = sorted(truth_gains.values(), reverse=True)
            ranked = [truth_gains.get(item.institution_id, 0.0) for item in result.institutions]
            ndcg5.append(ndcg_at_k(ranked, 5, ideal_gains=ideal))
            ndcg10.append(ndcg_at_k(ranked, 10, ideal_gains=ideal))
            top1.append(ranked[0] if ranked else 0.0)
            ids = [item.institution_id for item in result.institutions]
            for k in hits:
                hits[k].append(oracle_best.at[pid, "institution_id"] in ids[:k])
        rows.append({"ranker": ranker.name, "ndcg@5": float(np.nanmean(ndcg5)), "ndcg@10": float(np.nanmean(ndcg10)),
                     "hit@1": float(np.mean(hits[1])), "hit@5": float(np.mean(hits[5])),
                     "hit@10": float(np.mean(hits[10])), "top-1 p_success": float(np.mean(top1)),
                     "escalated": float(np.mean([r.escalate for r in results]))})
    rows.append({"ranker": "oracle", "ndcg@5": 1.0, "ndcg@10": 1.0, "hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0,
                 "top-1 p_success": float(oracle_best["p_success"].mean()), "escalated": 0.0})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    folder = parser.parse_args().data or dataset(8_000, 300, outcomes=True)
    print(f"engine quality on {folder} ({machine()})")
    print_table("untrained engine vs the oracle (evaluation-period problems, gains = true p_success)",
                evaluate(folder), ["ranker", "ndcg@5", "ndcg@10", "hit@1", "hit@5", "hit@10", "top-1 p_success",
                                   "escalated"])


if __name__ == "__main__":
    main()
