"""How skewed the logged training pairs are, and how much the propensity weights cost in sample size.

Input: the training pairs of a ``PairData`` (``institution_id``, ``kind``, ``propensity``, ``weight``, ``tried``)
and the catalogue's institution ids and kinds. Output: a flat dict of numbers (logged to MLflow as
``bias_*`` metrics and printed by the CLI):

- ``bias_top10pct_share``: share of tried pairs on the 10% most-tried institutions (10% if unbiased);
- ``bias_untried_institutions``: share of the catalogue never tried in training;
- ``bias_gini``: Gini coefficient of tried pairs over the catalogue (0 even, 1 all on one);
- ``bias_kind_share_<kind>`` and ``bias_kind_catalogue_<kind>``: share of pairs and of the catalogue per kind;
- ``bias_ess`` and ``bias_ess_ratio``: Kish's effective sample size ``(sum w)^2 / sum w^2`` of the inverse
  propensity weights (before clipping, from the raw 1/p; and ``bias_ess_ratio_used`` for the weights used);
- ``bias_propensity_known``: share of pairs with a propensity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.records import INSTITUTION_KINDS

__all__ = ["selection_bias", "effective_sample_size", "gini"]


def effective_sample_size(weights: np.ndarray) -> float:
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights[np.isfinite(weights)]
    total = float(np.sum(weights**2))
    return 0.0 if total == 0 else float(np.sum(weights) ** 2 / total)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: all equal)."""
    values = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(values), values.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2 * np.sum(np.arange(1, n + 1) * values) / (n * total)) - (n + 1) / n)


def selection_bias(pairs: pd.DataFrame, institution_ids: np.ndarray, institution_kinds: np.ndarray
                   ) -> dict[str, float]:
    tried = pairs[pairs["tried"]]
    counts = tried["institution_id"].value_counts().reindex(pd.Index(institution_ids)).fillna(0).to_numpy()
    ordered = np.sort(counts)[::-1]
    top = max(1, int(np.ceil(0.1 * len(ordered))))
    out = {
        "bias_pairs": float(len(tried)),
        "bias_top10pct_share": float(ordered[:top].sum() / max(ordered.sum(), 1)),
        "bias_untried_institutions": float(np.mean(counts == 0)) if len(counts) else 0.0,
        "bias_gini": gini(counts),
    }
    kinds = pd.Series(np.asarray(INSTITUTION_KINDS)[institution_kinds])
    pair_kinds = tried["kind"].value_counts(normalize=True)
    for kind in INSTITUTION_KINDS:
        out[f"bias_kind_share_{kind}"] = float(pair_kinds.get(kind, 0.0))
        out[f"bias_kind_catalogue_{kind}"] = float(np.mean(kinds == kind)) if len(kinds) else 0.0
    propensity = tried["propensity"].to_numpy(dtype=np.float64)
    known = ~np.isnan(propensity)
    out["bias_propensity_known"] = float(known.mean()) if len(known) else 0.0
    if known.any():
        raw = 1.0 / np.maximum(propensity[known], 1e-12)
        out["bias_ess"] = effective_sample_size(raw)
        out["bias_ess_ratio"] = out["bias_ess"] / known.sum()
    used = tried["weight"].to_numpy(dtype=np.float64) if "weight" in tried else np.ones(len(tried))
    out["bias_ess_ratio_used"] = effective_sample_size(used) / max(len(used), 1)
    return out
