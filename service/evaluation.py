"""Evaluation on real records (``smematch evaluate``) with its outputs: the report, the rankings as JSON lines, the
evaluated model bundle and the MLflow run. The evaluation itself is ``training.realdata.evaluate``.

Every output path is checked before any work, so a path that cannot be written fails at once, naming its option.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from matching.errors import InvalidInput, Issue
from service.settings import Settings

if TYPE_CHECKING:
    from training.realdata.evaluate import EvaluationReport

__all__ = ["writable", "evaluate_records"]


def writable(path: Path, option: str, *, folder: bool) -> None:
    """Check before any work that ``path`` (a file, or a folder made if missing) can be written; else name it."""
    try:
        if folder:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".smematch-write-check"
            probe.touch()
            probe.unlink()
        else:
            if path.is_dir():
                raise IsADirectoryError(21, "is a folder")
            with path.open("a", encoding="utf-8"):
                pass
    except OSError as error:
        raise InvalidInput(Issue(column=option, expected="a path that can be written",
                                 found=f"{path}: {error.strerror or error}")) from None


def evaluate_records(data: Path, split_date: str, *, settings: Settings, exclude_top_lenders: int = 0,
                     seed: int = 0, soft_rules: str = "auto", config: Path | None = None,
                     rankings: Path | None = None, export_model: Path | None = None, track: bool = True,
                     progress: Callable[[str], None] | None = None) -> EvaluationReport:
    """Evaluate the folder ``data`` at ``split_date``; write ``rankings`` and ``export_model`` when given, and log
    the run to MLflow when ``track``. Returns the report."""
    from training.config import load_config
    from training.realdata.evaluate import evaluate_folder
    from training.realdata.runs import log_evaluation, write_rankings

    if rankings is not None:
        writable(rankings, "--rankings", folder=False)
    if export_model is not None:
        writable(export_model, "--export-model", folder=True)
    report = evaluate_folder(data, split_date, exclude_top=exclude_top_lenders, seed=seed, soft_rules=soft_rules,
                             config=load_config(config), progress=progress)
    if rankings is not None:
        write_rankings(report, rankings)
    if export_model is not None and report.ranker is not None:
        from matching.rank.rankers import save_bundle

        save_bundle(report.ranker, export_model, extra={"evaluated": {"data": data.name,
                                                                      "split_date": report.split_date}})
    if track:
        log_evaluation(report, tracking_uri=settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root,
                       params={"data": data.name, "exclude_top_lenders": exclude_top_lenders, "seed": seed,
                               "model_version": report.ranker.version if report.ranker else ""})
    return report
