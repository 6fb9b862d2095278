"""Labelled (problem, institution) pairs from the outcome table, featurised by the engine's own functions.

Inputs: validated ``Tables`` (``matching.tables.files``), optional propensities (``outcome_id, propensity`` as in the
simulator's ``logging_policy.csv``, or ``problem_id, institution_id, propensity`` from the recommendation log,
see ``propensities_from_log``) and a ``TrainingConfig``. Output: a ``PairData`` holding the fitted ``Matcher``
(no ranker), the prepared problems, one row per tried pair (``pairs``) and its features (``features``, the
``FEATURE_NAMES`` columns of ``matching.pair_features``).

Choices, where the data leaves room:
- A pair's label is its *final* status (the latest recorded; at equal times the higher stage); ``gain`` is
  ``STATUS_GAIN`` of it. Two targets come from it: ``taken_up`` (the institution took the case up: accepted,
  solved or failed) and ``solved``. The ranker learns both (``training.train``): who takes such a case up,
  from tried pairs and untried candidates, and whether it ends solved, from the pairs that were taken up and
  ended.
- A pair is decided when its problem was stated (``stated_at``): that is when a recommendation is made, so
  its track-record features are ``track_record_asof`` that time (outcomes strictly before it), exactly what the
  service would have seen then.
- The split is by problem and time: problems ordered by ``stated_at``; the latest ``evaluation_fraction`` are
  evaluated, the latest ``calibration_fraction`` of the rest calibrate, the others train. Problems stated at the
  same instant as the first of a later part go with it, so every training problem is strictly earlier.
- Untried candidates (``dataset.untried_negatives`` per train and calibration problem, drawn from the
  engine's own candidates: retrieval and the history's) are label-0 pairs of the take-up target only: an
  institution nobody turned to did not take the case up, which is what that target asks; whether it would
  have solved it is unknown, so the success target never sees them. By default (``dataset.untried = "auto"``)
  only where the outcomes record (nearly) only who served, as real lending records do: where caseworkers'
  declines are recorded they tell who takes such a case up, and untried candidates would teach the model the
  caseworkers' own preferences instead (see ``training/config.toml``). Inverse propensity weights
  (``weighting.inverse_propensity``) correct the tried pairs for the logging policy; off by default
  (``benchmarks/bench_training.py --part bias``).
- The matcher that draws candidates and counts history is fitted with the outcomes recorded before the first
  evaluation problem, so nothing evaluated reaches the training pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching import Matcher, pair_features, track_record_asof
from matching.errors import InvalidInput, Issue
from matching.features.history import TAKEN_UP_STATUSES, as_seconds
from matching.records import INSTITUTION_KINDS, STATUS_GAIN
from matching.tables.context import problem_frame as context_frame
from matching.tables.files import Tables
from matching.understand.problems import PreparedProblems
from training.config import TrainingConfig

__all__ = [
    "PairData",
    "SPLITS",
    "build_pairs",
    "featurise",
    "ipw_weights",
    "problem_frame",
    "propensities_from_log",
    "check_outcomes",
    "uses_untried",
]

SPLITS = ("train", "calibration", "evaluation")
MAX_LISTED = 50  # issues listed one by one before a summary line


@dataclass(slots=True)
class PairData:
    matcher: Matcher
    prepared: PreparedProblems  # every problem that has outcomes; row i is problems.iloc[i]
    problems: pd.DataFrame  # problem_id, enterprise_id, sector, region, ..., decided_at, split
    pairs: pd.DataFrame  # problem_id, institution_id, problem_row, institution_row, kind, sector,
    #                      decided_at, status, gain, solved, propensity, weight, tried, split
    features: pd.DataFrame  # FEATURE_NAMES, aligned with ``pairs``
    outcomes: pd.DataFrame  # the outcome table, for as-of track records of other pairs (evaluation)
    cutoff: pd.Timestamp  # the first evaluation decision time: everything trained on is strictly earlier

    def split(self, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        mask = (self.pairs["split"] == name).to_numpy()
        return self.pairs[mask], self.features[mask]


def problem_frame(tables: Tables) -> pd.DataFrame:
    """Problems with their enterprise's sector, region, employees, annual_revenue and founded."""
    context = tables.enterprises[["enterprise_id", "sector", "region", "employees", "annual_revenue", "founded"]]
    return tables.problems.merge(context, on="enterprise_id", how="left", validate="many_to_one")


def check_outcomes(tables: Tables) -> None:
    """Raise one InvalidInput if there are no outcomes or an outcome names an unknown problem or institution."""
    outcomes = tables.outcomes
    if len(outcomes) == 0:
        raise InvalidInput(Issue(column="status", expected="at least one outcome to learn from",
                                 found="no outcomes", file="outcomes"))
    issues: list[Issue] = []
    for column, known in (("problem_id", tables.problems["problem_id"]),
                          ("institution_id", tables.institutions["institution_id"])):
        unknown = np.flatnonzero(~outcomes[column].astype(str).isin(set(known.astype(str))).to_numpy())
        for row in unknown[:MAX_LISTED]:
            issues.append(Issue(column=column, expected=f"a {column} that exists",
                                found=repr(str(outcomes[column].iloc[row])), file="outcomes", row=int(row) + 1))
        if len(unknown) > MAX_LISTED:
            issues.append(Issue(column=column, expected=f"a {column} that exists",
                                found=f"{len(unknown) - MAX_LISTED} more unknown values", file="outcomes"))
    if issues:
        raise InvalidInput(issues)


def _final_status(outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per tried pair: its final status and its first outcome_id (the choice, for propensities)."""
    frame = outcomes[["outcome_id", "problem_id", "institution_id", "status", "recorded_at"]].copy()
    frame["gain"] = frame["status"].map(STATUS_GAIN).astype(np.int64)
    frame = frame.sort_values(["problem_id", "institution_id", "recorded_at", "gain"], kind="stable")
    grouped = frame.groupby(["problem_id", "institution_id"], sort=False)
    last, first = grouped.tail(1), grouped.head(1)
    pairs = last[["problem_id", "institution_id", "status", "gain"]].reset_index(drop=True)
    pairs["first_outcome_id"] = first["outcome_id"].to_numpy()
    return pairs


def _assign_splits(decided: pd.Series, fraction: float) -> tuple[np.ndarray, pd.Timestamp | None]:
    """Mask of the latest ``fraction`` of rows by time (ties kept together) and the cutoff time."""
    if len(decided) == 0:
        return np.zeros(0, dtype=bool), None
    ordered = np.sort(decided.to_numpy())
    n_late = max(1, int(np.ceil(fraction * len(ordered))))
    cutoff = ordered[len(ordered) - n_late]
    late = (decided >= cutoff).to_numpy()
    return late, pd.Timestamp(cutoff)


def propensities_from_log(recommendations: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """``problem_id, institution_id, propensity`` from the store's recommendation log.

    ``items`` needs ``institution_id`` and ``propensity`` and either ``problem_id`` or a key shared with
    ``recommendations`` (``recommendation_id`` or ``request_id``) that has ``problem_id``. A pair shown more than
    once keeps its largest propensity (the most likely way it came to be tried).
    """
    frame = items
    if "problem_id" not in frame.columns:
        key = next((k for k in ("recommendation_id", "request_id") if k in items and k in recommendations), None)
        if key is None:
            raise InvalidInput(Issue(column="recommendation_id", expected="a key shared by both log tables",
                                     found="none", file="recommendation_items"))
        frame = items.merge(recommendations[[key, "problem_id"]], on=key, how="inner")
    if "propensity" not in frame.columns:
        return pd.DataFrame(columns=["problem_id", "institution_id", "propensity"])
    frame = frame.dropna(subset=["problem_id", "propensity"])
    frame = frame.astype({"problem_id": str, "institution_id": str})
    out = frame.groupby(["problem_id", "institution_id"], as_index=False)["propensity"].max()
    return out[["problem_id", "institution_id", "propensity"]]


def _pair_propensity(pairs: pd.DataFrame, propensities: pd.DataFrame | None) -> np.ndarray:
    if propensities is None or len(propensities) == 0:
        return np.full(len(pairs), np.nan)
    if "outcome_id" in propensities.columns:
        lookup = propensities.astype({"outcome_id": str}).set_index("outcome_id")["propensity"]
        return pairs["first_outcome_id"].map(lookup).to_numpy(dtype=np.float64)
    keyed = propensities.astype({"problem_id": str, "institution_id": str})
    merged = pairs[["problem_id", "institution_id"]].merge(keyed, on=["problem_id", "institution_id"], how="left")
    return merged["propensity"].to_numpy(dtype=np.float64)


def ipw_weights(propensity: np.ndarray, *, clip: float, enabled: bool) -> np.ndarray:
    """1 / max(propensity, clip), mean 1; pairs without a propensity get the mean weight of the others."""
    if not enabled or np.isnan(propensity).all():
        return np.ones(len(propensity))
    weights = 1.0 / np.maximum(np.nan_to_num(propensity, nan=1.0), clip)
    known = ~np.isnan(propensity)
    weights[~known] = weights[known].mean()
    return weights / weights.mean()


def build_pairs(
    tables: Tables, *, config: TrainingConfig, propensities: pd.DataFrame | None = None,
    soft_rules: tuple[str, ...] = (),
) -> PairData:
    """Fit a matcher on the institutions and featurise every tried pair (and sampled untried candidates), as of
    its decision time."""
    check_outcomes(tables)
    pairs = _final_status(tables.outcomes)
    problems = problem_frame(tables)
    problems = problems[problems["problem_id"].isin(set(pairs["problem_id"]))].reset_index(drop=True)
    problems["decided_at"] = pd.to_datetime(problems["stated_at"])
    late, cutoff = _assign_splits(problems["decided_at"], config.split.evaluation_fraction)
    early = problems.index[~late]
    calibrating, _ = _assign_splits(problems.loc[early, "decided_at"], config.split.calibration_fraction)
    split = np.full(len(problems), "evaluation", dtype=object)
    split[early[~calibrating]] = "train"
    split[early[calibrating]] = "calibration"
    problems["split"] = split
    _require_splits(problems)
    assert cutoff is not None  # there is at least one problem (checked above)
    matcher = Matcher(soft_rules=soft_rules).fit(tables.institutions, outcomes=tables.outcomes,
                            problems=context_frame(tables.problems, tables.enterprises),
                            regions=tables.enterprises["region"].astype(str).unique(), as_of=cutoff)

    prepared = matcher.prepare(problems)
    catalogue = matcher.catalogue_
    row_of_problem = pd.Series(np.arange(len(problems)), index=problems["problem_id"])
    pairs["problem_row"] = pairs["problem_id"].map(row_of_problem).to_numpy(dtype=np.int64)
    pairs["institution_row"] = pairs["institution_id"].map(catalogue.position).to_numpy(dtype=np.int64)
    pairs["decided_at"] = problems["decided_at"].to_numpy()[pairs["problem_row"]]
    pairs["split"] = problems["split"].to_numpy()[pairs["problem_row"]]
    pairs["sector"] = problems["sector"].to_numpy()[pairs["problem_row"]]
    pairs["kind"] = np.asarray(INSTITUTION_KINDS)[catalogue.kinds[pairs["institution_row"]]]
    pairs["solved"] = (pairs["status"] == "solved").astype(np.int64)
    pairs["taken_up"] = pairs["status"].isin(TAKEN_UP_STATUSES).astype(np.int64)
    pairs["ended"] = pairs["status"].isin(("solved", "failed"))
    pairs["propensity"] = _pair_propensity(pairs, propensities)
    pairs["tried"] = True
    pairs = pairs.sort_values(["decided_at", "problem_id", "institution_id"], kind="stable").reset_index(drop=True)
    if uses_untried(pairs, config):
        pairs = pd.concat([pairs, _untried(matcher, prepared, pairs, problems, config)], ignore_index=True)
    _require_labels(pairs)
    pairs["weight"] = 1.0
    for name in SPLITS:
        mask = (pairs["split"] == name).to_numpy() & pairs["tried"].to_numpy()
        pairs.loc[mask, "weight"] = ipw_weights(pairs.loc[mask, "propensity"].to_numpy(),
                                                clip=config.weighting.propensity_clip,
                                                enabled=config.weighting.inverse_propensity)
    untried = ~pairs["tried"].to_numpy()
    pairs.loc[untried, "weight"] = config.dataset.untried_weight
    features = featurise(matcher, prepared, pairs, tables.outcomes)
    return PairData(matcher=matcher, prepared=prepared, problems=problems, pairs=pairs, features=features,
                    outcomes=tables.outcomes, cutoff=cutoff)


def featurise(matcher: Matcher, prepared: PreparedProblems, pairs: pd.DataFrame, outcomes: pd.DataFrame
              ) -> pd.DataFrame:
    """The engine's features of ``pairs`` (problem_row, institution_row, decided_at): track record and history
    as of then (outcomes recorded strictly before)."""
    rate, cases = track_record_asof(outcomes, pairs["institution_id"].to_numpy(), pairs["decided_at"].to_numpy())
    return pair_features(prepared, matcher.catalogue_, pairs["problem_row"].to_numpy(),
                         pairs["institution_row"].to_numpy(), track_success_rate=rate, track_cases=cases,
                         history=matcher.history_, times=as_seconds(pairs["decided_at"]))


def uses_untried(pairs: pd.DataFrame, config: TrainingConfig) -> bool:
    """Whether untried candidates join the take-up stage's pairs (``dataset.untried``; see config.toml)."""
    dataset = config.dataset
    if dataset.untried == "never" or dataset.untried_negatives <= 0:
        return False
    if dataset.untried == "always":
        return True
    earlier = pairs[pairs["split"] != "evaluation"]
    return bool(len(earlier)) and float(1.0 - earlier["taken_up"].mean()) < dataset.untried_auto_share


def _require_splits(problems: pd.DataFrame) -> None:
    counts = problems["split"].value_counts()
    missing = [name for name in SPLITS if counts.get(name, 0) == 0]
    if missing:
        raise InvalidInput(Issue(
            column="stated_at", expected="problems with outcomes stated at enough different times to hold out "
            "the latest for calibration and evaluation", found=f"{len(problems)} problem(s); none left for "
            f"{', '.join(missing)}", file="problems"))


def _require_labels(pairs: pd.DataFrame) -> None:
    issues: list[Issue] = []
    for name in ("train", "calibration"):
        labels = set(pairs.loc[pairs["split"] == name, "taken_up"])
        if len(labels) < 2:
            found = "only institutions that took the case up" if labels == {1} else "no case taken up"
            issues.append(Issue(column="status", expected=f"cases taken up and cases not taken up in the {name} "
                                "part (the earlier outcomes; untried candidates count as not taken up)", found=found,
                                file="outcomes"))
    if issues:
        raise InvalidInput(issues)


def _untried(matcher: Matcher, prepared: PreparedProblems, pairs: pd.DataFrame, problems: pd.DataFrame,
             config: TrainingConfig) -> pd.DataFrame:
    """Up to ``untried_negatives`` untried eligible candidates per train and calibration problem, drawn among
    the engine's candidates, as label-0 pairs."""
    rng = np.random.default_rng(config.seed)
    rows = np.flatnonzero(problems["split"].isin(("train", "calibration")).to_numpy())
    tried = set(zip(pairs["problem_row"], pairs["institution_row"], strict=True))
    frames = []
    for chunk in matcher.chunks(len(rows)):
        candidates = matcher.candidates(prepared, rows[chunk], config.dataset.untried_pool)
        keep = np.array([(p, i) not in tried for p, i in
                         zip(candidates.problem_rows, candidates.institution_rows, strict=True)], dtype=bool)
        frame = pd.DataFrame({"problem_row": candidates.problem_rows[keep],
                              "institution_row": candidates.institution_rows[keep]})
        frame["draw"] = rng.random(len(frame))
        frame = frame.sort_values(["problem_row", "draw"]).groupby("problem_row").head(config.dataset.untried_negatives)
        frames.append(frame)
    sample = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["problem_row",
                                                                                       "institution_row"])
    catalogue = matcher.catalogue_
    p, i = sample["problem_row"].to_numpy(dtype=np.int64), sample["institution_row"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "problem_id": problems["problem_id"].to_numpy()[p], "institution_id": catalogue.ids[i],
        "status": "untried", "gain": 0, "first_outcome_id": None, "problem_row": p, "institution_row": i,
        "decided_at": problems["decided_at"].to_numpy()[p], "split": problems["split"].to_numpy()[p],
        "sector": problems["sector"].to_numpy()[p], "kind": np.asarray(INSTITUTION_KINDS)[catalogue.kinds[i]],
        "solved": 0, "taken_up": 0, "ended": False, "propensity": np.nan, "tried": False,
    })
