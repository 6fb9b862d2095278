"""``smematch evaluate`` as a tracked MLflow run: the per-method table as metrics, the rankings as an artifact.

Input: an ``EvaluationReport`` (``training.realdata.evaluate``), the MLflow store and the evaluation's
settings. Output: one finished run named after the data and the split (``evaluate kiva from 2016-01-01``) whose
metrics are ``<method>/<metric>`` (and ``without_top_<n>_institutions/<method>/<metric>``), whose params are the
evaluation's settings, and whose artifacts are ``report.md``, ``report.json`` and the trained method's
``rankings.jsonl``. Returns the run id.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from training.realdata.evaluate import EvaluationReport

__all__ = ["log_evaluation", "write_rankings", "EXPERIMENT"]

EXPERIMENT = "smematch-evaluate"


def write_rankings(report: EvaluationReport, path: Path) -> Path:
    """One JSON line per evaluated case: ``{"problem_id": ..., "ranking": [institution ids, best first]}``."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for problem_id, ranking in report.rankings.items():
            handle.write(json.dumps({"problem_id": problem_id, "ranking": ranking}, ensure_ascii=False) + "\n")
    return Path(path)


def log_evaluation(report: EvaluationReport, *, tracking_uri: str, artifact_root: str | Path,
                   params: dict[str, Any], experiment: str = EXPERIMENT) -> str:
    """Log the evaluation as one run (see the module docstring); returns its id."""
    from training.tracking import ensure_store, experiment_id, git_commit

    client = ensure_store(tracking_uri, artifact_root)
    exp_id = experiment_id(client, experiment, artifact_root)
    metrics: dict[str, float] = {}
    for family, scores in (("", report.methods), (f"{report.without_key}/", report.without_top or {})):
        for method, score in scores.items():
            for name, value in score.to_dict().items():
                metrics[f"{family}{method}/{name}"] = float(value)
    metrics.update({f"diagnostics/{k}": float(v) for k, v in report.diagnostics.items()})
    name = f"evaluate {report.dataset or 'data'} from {report.split_date}"
    run = client.create_run(exp_id, run_name=name, tags={"git_commit": git_commit(), "kind": "evaluate",
                                                          "model_version": report.ranker.version if report.ranker
                                                          else ""})
    run_id = run.info.run_id
    try:
        for key, value in {**params, "split_date": report.split_date, "train_cases": report.train_cases,
                           "test_cases": report.test_cases, "institutions": report.institutions,
                           "soft_rules": ",".join(report.soft_rules)}.items():
            client.log_param(run_id, key, str(value)[:500])
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            (folder / "report.md").write_text(report.markdown() + "\n", encoding="utf-8")
            (folder / "report.json").write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
            write_rankings(report, folder / "rankings.jsonl")
            for path in sorted(folder.iterdir()):
                client.log_artifact(run_id, str(path))
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id
