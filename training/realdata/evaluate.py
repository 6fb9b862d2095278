"""Evaluate on real records: for each case stated after a date, is the institution that really served it found?

Input: a data folder of the four tables (``matching.tables.files``; e.g. written by ``import-real``) and a split date.
Everything before the date trains, everything from the date on is evaluated. A case is a problem with an
outcome whose status says an institution took it up (accepted, solved or failed). Output: an
``EvaluationReport`` with hit@1, hit@5, hit@10 and MRR (over the first ``MAX_RANK`` places; a miss counts 0) for

- ``random``: a random order of the institutions the Matcher finds eligible;
- ``popular_in_region``: institutions by training cases in the case's region, then overall;
- ``popular_in_region_last_year``: the same over the last 365 days before the split only (institutions come
  and go: a stronger simple baseline where the market shifts);
- ``text_only``: ``matching.TextOnlyRanker`` through the Matcher (its retrieval, eligibility and features);
- ``trained``: what ``serve`` would have answered on the split date: the ranker that ``smematch train`` fits
  (``training.api.fit_ranker``) on the outcomes recorded before the split, loaded into a Matcher whose track
  record and history are the outcomes recorded before the split (``matching.tables.context.fit_matcher(as_of=split)``),
  each case ranked by ``Matcher.recommend_frame`` with ``k = MAX_RANK`` (plus the institutions left out, when
  some are) (an escalated case ranks nothing);

and, with ``exclude_top``, the same without the largest institutions (by training cases): their cases are left
out and they are removed from every ranking. Nothing after the split reaches a feature: the track record uses
outcomes recorded before the split (and before each training pair), history features count training cases
before each pair's time, and a folder written by ``import-real`` is refused for a split earlier than the
date its profiles were built up to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from matching import LearnedRanker
from matching.eligibility import RULES, check_rules
from matching.errors import InvalidInput, Issue
from matching.features.history import as_seconds
from matching.tables.context import as_time, fit_matcher
from matching.tables.files import Tables, read_import_manifest, read_tables
from training.api import fit_ranker
from training.config import TrainingConfig, load_config
from training.realdata.study import broken_rules, build_study

__all__ = ["METHODS", "RECENT_POPULAR", "ORDER", "MAX_RANK", "MethodScore", "EvaluationReport",
           "evaluate_folder", "evaluate_tables"]

METHODS: tuple[str, ...] = ("random", "popular_in_region", "text_only", "trained")
RECENT_POPULAR = "popular_in_region_last_year"
ORDER = ("random", "popular_in_region", RECENT_POPULAR, "text_only", "trained")
# Places ranked per case, by every method: what a caseworker reads, and what ``recommend -k 10`` answers.
MAX_RANK = 10
# Real records show an institution's regions (sectors, ranges) only as those it served before the profile date,
# and SBA lenders reach new states later (``evaluate`` reports how many served cases break each rule), while a
# Kiva partner never leaves its country. So by default ("auto") a rule
# is scored (its fit feature, the history features) but not enforced when the served cases between the profile
# date and the split break it in at least 1% of cases (``training.realdata.study.broken_rules``).
AUTO = "auto"
MIN_EVALUATION_FRACTION = 0.01


@dataclass(frozen=True, slots=True)
class MethodScore:
    hit_at_1: float
    hit_at_5: float
    hit_at_10: float
    mrr: float
    cases: int

    @classmethod
    def from_ranks(cls, ranks: np.ndarray) -> MethodScore:
        """``ranks``: 1-based place of the served institution, 0 when it is not in the first MAX_RANK."""
        found = ranks > 0
        reciprocal = np.where(found, 1.0 / np.maximum(ranks, 1), 0.0)

        def mean(values: np.ndarray) -> float:
            return float(np.mean(values)) if len(values) else float("nan")

        return cls(hit_at_1=mean(found & (ranks <= 1)), hit_at_5=mean(found & (ranks <= 5)),
                   hit_at_10=mean(found & (ranks <= 10)), mrr=mean(reciprocal), cases=int(len(ranks)))

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    split_date: str
    train_cases: int
    test_cases: int
    institutions: int
    methods: dict[str, MethodScore]
    excluded: tuple[str, ...] = ()
    excluded_names: tuple[str, ...] = ()
    without_top: dict[str, MethodScore] | None = None
    diagnostics: dict[str, float] = field(default_factory=dict)
    dataset: str | None = None
    # Per evaluated case and method, the place of the served institution (0: not in the first MAX_RANK), for
    # paired comparisons; not part of the JSON.
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    # What ``trained`` ranked for each evaluated case (problem id -> institution ids, best first) and the ranker.
    rankings: dict[str, list[str]] = field(default_factory=dict)
    ranker: LearnedRanker | None = None
    escalated: int = 0  # evaluated cases ``trained`` escalated instead of ranking
    ranks_without: dict[str, np.ndarray] | None = None
    soft_rules: tuple[str, ...] = ()
    broken_rules: dict[str, tuple[int, int]] = field(default_factory=dict)  # rule -> (broken, cases)

    @property
    def without_key(self) -> str:
        return f"without_top_{len(self.excluded)}_institutions"

    def to_json(self) -> dict:
        """One object keyed by method; with exclusions also ``without_top_<n>_institutions`` keyed by method."""
        out: dict = {name: score.to_dict() for name, score in self.methods.items()}
        if self.without_top is not None:
            out[self.without_key] = {name: score.to_dict() for name, score in self.without_top.items()}
        return out

    def markdown(self) -> str:
        title = f"{self.dataset or 'data'}: split {self.split_date}, {self.train_cases:,} training cases, " \
                f"{self.test_cases:,} evaluated, {self.institutions:,} institutions"
        parts = [f"**{title}**", "", _table(self.methods)]
        if self.without_top is not None:
            cases = next(iter(self.without_top.values())).cases
            names = "; ".join(self.excluded_names or self.excluded)
            parts += ["", f"**Without the {len(self.excluded)} largest institutions** ({names}): {cases:,} cases",
                      "", _table(self.without_top)]
        if self.diagnostics:
            parts += ["", "Diagnostics (share of evaluated cases): " + "; ".join(
                f"{name.replace('_', ' ')} {value:.3f}" for name, value in self.diagnostics.items())]
        if self.soft_rules:
            why = "; ".join(f"{rule}: broken by {b:,} of {n:,} served cases between the profile date and the split"
                            for rule, (b, n) in self.broken_rules.items())
            parts += ["", f"Eligibility rules scored but not enforced: {', '.join(self.soft_rules)}"
                          + (f" ({why})" if why else "")]
        return "\n".join(parts)


def _table(scores: dict[str, MethodScore]) -> str:
    lines = ["| method | hit@1 | hit@5 | hit@10 | MRR |", "| --- | ---: | ---: | ---: | ---: |"]
    best = {m: max(s.__getattribute__(m) for s in scores.values()) for m in ("hit_at_1", "hit_at_5", "hit_at_10",
                                                                               "mrr")}
    for name, score in scores.items():
        cells = [f"**{v:.3f}**" if v == best[m] else f"{v:.3f}" for m, v in
                 (("hit_at_1", score.hit_at_1), ("hit_at_5", score.hit_at_5), ("hit_at_10", score.hit_at_10),
                  ("mrr", score.mrr))]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_folder(folder: str | Path, split_date: str, *, exclude_top: int = 0, seed: int = 0,
                    soft_rules: tuple[str, ...] | str = AUTO, config: TrainingConfig | None = None,
                    progress: Callable[[str], None] | None = None) -> EvaluationReport:
    """Read and validate the folder's tables, check the import's profile cut-off, and evaluate."""
    split = as_time(split_date, "split-date")
    manifest = read_import_manifest(folder) or {}
    until = manifest.get("profile_until")
    if until and split < pd.Timestamp(until):
        raise InvalidInput(Issue(column="split-date", found=split.date().isoformat(), file=str(folder),
                                 expected=f"a date on or after {until}: the import built institution profiles "
                                          f"from records before {until} (re-run import-real --profile-until)"))
    tables = read_tables(folder)
    return evaluate_tables(tables, split, exclude_top=exclude_top, seed=seed, dataset=manifest.get("dataset"),
                           soft_rules=soft_rules, profile_until=until, config=config, progress=progress)


def evaluate_tables(tables: Tables, split_date: str | pd.Timestamp, *, exclude_top: int = 0, seed: int = 0,
                    dataset: str | None = None, soft_rules: tuple[str, ...] | str = AUTO,
                    profile_until: str | None = None, config: TrainingConfig | None = None,
                    progress: Callable[[str], None] | None = None) -> EvaluationReport:
    """Evaluate every method on the cases stated from ``split_date`` on (see the module docstring)."""
    split = as_time(split_date, "split-date")
    if exclude_top < 0:
        raise InvalidInput(Issue(column="exclude-top-lenders", expected="a number >= 0", found=str(exclude_top)))
    if isinstance(soft_rules, str) and soft_rules.strip() != AUTO:  # "region,sector" as typed on the CLI
        soft_rules = tuple(r.strip() for r in soft_rules.split(",") if r.strip())
    broken: dict[str, tuple[int, int]] = {}
    if isinstance(soft_rules, str):
        broken = broken_rules(tables, split, since=pd.Timestamp(profile_until) if profile_until else None)
        soft_rules = tuple(broken)
    try:
        check_rules(soft_rules)
    except ValueError as error:
        raise InvalidInput(Issue(column="soft-rules", expected=f"some of {', '.join(RULES)}",
                                 found=", ".join(soft_rules))) from error
    # One OpenMP thread for the trees: on a small shared machine, more threads than free cores slow the
    # gradient boosting down by an order of magnitude.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _evaluate(tables, split, exclude_top=exclude_top, seed=seed, dataset=dataset,
                         soft_rules=tuple(soft_rules), broken=broken, config=config, say=progress or (lambda _: None))


def evaluation_config(config: TrainingConfig | None) -> TrainingConfig:
    """The training config (default: the packaged one) with the least internal hold-out: the split date holds
    out what is evaluated, so the ranker fits on the outcomes up to it, as a model retrained that day would."""
    config = config or load_config()
    return replace(config, split=replace(config.split, evaluation_fraction=MIN_EVALUATION_FRACTION))


def before(tables: Tables, split: pd.Timestamp) -> Tables:
    """What was known on the split date: outcomes recorded before it, problems stated before it."""
    outcomes = tables.outcomes[as_seconds(tables.outcomes["recorded_at"]) < as_seconds([split])[0]]
    problems = tables.problems[pd.to_datetime(tables.problems["stated_at"]) < split]
    return Tables(tables.enterprises, problems.reset_index(drop=True), tables.institutions,
                  outcomes.reset_index(drop=True))


def _evaluate(tables: Tables, split: pd.Timestamp, *, exclude_top: int, seed: int, dataset: str | None,
              soft_rules: tuple[str, ...], broken: dict[str, tuple[int, int]], config: TrainingConfig | None,
              say: Callable[[str], None]) -> EvaluationReport:
    say("splitting the cases")
    study = build_study(tables, split, soft_rules=soft_rules)
    excluded = study.popularity.top(exclude_top) if exclude_top else ()
    length = MAX_RANK + len(excluded)
    say("ranking with the baselines")
    rankings = {"random": study.random_lists(length, seed=seed), "popular_in_region": study.popular_lists(length),
                RECENT_POPULAR: study.popular_lists(length, recent_days=365),
                "text_only": study.text_only_lists(length)}
    say("training the ranker on the outcomes recorded before the split")
    fit = fit_ranker(before(tables, split), config=evaluation_config(config), soft_rules=soft_rules,
                     version=f"evaluate-{dataset or 'data'}-{split.date().isoformat()}")
    say("ranking every evaluated case as the service would on the split date")
    matcher = fit_matcher(tables, fit.ranker, as_of=split)
    cases = study.problems.iloc[study.test].reset_index(drop=True)
    frame = matcher.recommend_frame(cases, k=length)
    shown = frame[frame["rank"] > 0]
    by_problem = shown.groupby("problem_id", sort=False)["institution_id"].agg(list)
    ids = cases["problem_id"].astype(str).tolist()
    trained = [np.asarray(by_problem.get(problem, []), dtype=object) for problem in ids]
    rankings["trained"] = trained
    escalated = int(frame.loc[frame["rank"] == 0, "problem_id"].nunique())

    truth = study.truth
    ranks = {name: _ranks(rankings[name], truth, ()) for name in ORDER}
    methods = {name: MethodScore.from_ranks(found) for name, found in ranks.items()}
    without, ranks_without = None, None
    if excluded:
        keep = np.array([not (t & set(excluded)) for t in truth], dtype=bool)
        kept_truth = [t for t, k in zip(truth, keep, strict=True) if k]
        ranks_without = {name: _ranks([r for r, k in zip(rankings[name], keep, strict=True) if k], kept_truth,
                                      excluded) for name in ORDER}
        without = {name: MethodScore.from_ranks(found) for name, found in ranks_without.items()}
    diagnostics = {**study.diagnostics(), "trained_escalated": escalated / max(len(ids), 1)}
    names = study.catalogue.names[[study.catalogue.position[e] for e in excluded]] if excluded else ()
    return EvaluationReport(split_date=split.date().isoformat(), train_cases=len(study.train),
                            test_cases=len(study.test), institutions=len(study.catalogue), methods=methods,
                            excluded=tuple(excluded), excluded_names=tuple(map(str, names)), without_top=without,
                            diagnostics=diagnostics, dataset=dataset, ranks=ranks, ranks_without=ranks_without,
                            soft_rules=soft_rules, broken_rules=broken,
                            rankings={p: list(map(str, r[:MAX_RANK])) for p, r in zip(ids, trained, strict=True)},
                            ranker=fit.ranker, escalated=escalated)


def _ranks(lists: list[np.ndarray], truth: list[frozenset], excluded: tuple[str, ...]) -> np.ndarray:
    ranks = np.zeros(len(lists), dtype=np.int64)
    for n, (ranking, served) in enumerate(zip(lists, truth, strict=True)):
        ranking = np.asarray(ranking, dtype=object)
        if excluded:
            ranking = ranking[~np.isin(ranking, excluded)]
        hits = np.flatnonzero(np.isin(ranking[:MAX_RANK], list(served)))
        ranks[n] = hits[0] + 1 if hits.size else 0
    return ranks
