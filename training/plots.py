"""The plots of a training run, as PNG files (matplotlib's Agg backend: no display needed).

- ``plot_ndcg``: NDCG@k against k for the model and every baseline (logged outcomes; ground truth beside it
  on simulator data);
- ``plot_importance``: permutation importance of each feature (drop in ROC AUC on the evaluation pairs);
- ``plot_calibration``: predicted probability against the observed solved rate on the evaluation pairs;
- ``plot_compare``: key metrics of several runs side by side (``smematch compare --plot``).
Each takes plain numbers or frames and a path, and returns the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_ndcg", "plot_importance", "plot_calibration", "plot_compare"]

LABELS = {"": "model", "_text_baseline": "text only", "_popularity": "popularity", "_cold_start": "cold start",
          "_oracle": "oracle"}


def _pyplot():  # noqa: ANN202 - matplotlib is imported on use, with the Agg backend
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_ndcg(metrics: Mapping[str, float], ks: Sequence[int], path: Path) -> Path:
    plt = _pyplot()
    families = [("", "logged outcomes")] + ([("gt_", "ground truth")] if f"gt_ndcg_at_{ks[0]}" in metrics else [])
    figure, axes = plt.subplots(1, len(families), figsize=(5.5 * len(families), 4), squeeze=False)
    for axis, (prefix, title) in zip(axes[0], families, strict=True):
        for suffix, label in LABELS.items():
            values = [metrics.get(f"{prefix}ndcg_at_{k}{suffix}", np.nan) for k in ks]
            if not np.all(np.isnan(values)):
                axis.plot(ks, values, marker="o", label=label, linewidth=2.5 if suffix == "" else 1.2)
        axis.set(title=f"NDCG@k, {title}", xlabel="k", ylabel="NDCG", ylim=(0, 1.02), xticks=list(ks))
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_importance(importance: pd.Series, path: Path) -> Path:
    plt = _pyplot()
    ordered = importance.sort_values()
    figure, axis = plt.subplots(figsize=(6.5, max(3.0, 0.22 * len(ordered))))
    axis.barh(ordered.index, ordered.to_numpy(), color="#4477aa")
    axis.set(title="Permutation importance (drop in ROC AUC)", xlabel="mean drop over repeats")
    axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_calibration(predicted: np.ndarray, observed: np.ndarray, path: Path, bins: int = 10) -> Path:
    plt = _pyplot()
    predicted, observed = np.asarray(predicted, dtype=np.float64), np.asarray(observed, dtype=np.float64)
    edges = np.quantile(predicted, np.linspace(0, 1, bins + 1)) if len(predicted) else np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "p": predicted, "y": observed}).groupby("bin").mean()
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axis.plot(frame["p"], frame["y"], marker="o", label="model")
    axis.set(title="Calibration on evaluation pairs", xlabel="predicted P(solved)", ylabel="observed solved rate",
             xlim=(0, 1), ylim=(0, 1))
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_compare(table: pd.DataFrame, metrics: Sequence[str], path: Path) -> Path:
    """Grouped bars: one group per run (rows of ``table``, labelled by its ``run`` column), one bar per metric."""
    plt = _pyplot()
    shown = [m for m in metrics if m in table.columns]
    figure, axis = plt.subplots(figsize=(max(6.0, 1.2 * len(table) * max(1, len(shown)) / 2), 4))
    width = 0.8 / max(1, len(shown))
    positions = np.arange(len(table))
    for i, metric in enumerate(shown):
        axis.bar(positions + i * width, table[metric].astype(float).to_numpy(), width, label=metric)
    axis.set_xticks(positions + width * (len(shown) - 1) / 2, table["run"].astype(str).tolist(), fontsize=8)
    axis.set(title="Runs side by side", ylabel="metric value", ylim=(0, 1.05))
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
