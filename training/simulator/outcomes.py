"""The simulator's hidden truth and its caseworkers: success probabilities, the biased policy, the outcomes.

Inputs: the institutions (``InstitutionSet``), a chunk of problems as arrays of hidden attributes (true
categories, sector, district, amount asked, staff, age, day stated), a numpy ``Generator`` and the seed.
Outputs: the ``outcomes`` rows, the ``logging_policy`` propensities and the ``ground_truth`` rows of the
problems that have an outcome in the evaluation period.

``success_probability`` is the truth: a logistic function of the archetype-category fit, the sector and
district served (and whether the enterprise sits in the institution's home district), the amount against
the lender's range, the institution's latent quality, the enterprise's size and age, and pair noise taken
from a hash of (seed, problem, institution), so any pair's probability can be recomputed on its own.
Caseworkers choose by ``policy_scores``: popularity, proximity and a weak, coarse sense of fit; each
problem's tries are drawn without replacement (Gumbel top-k), and a try's propensity is the softmax
probability of that institution among those not yet tried for the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from matching.records import CATEGORIES, INSTITUTION_KINDS, LENDER_KINDS
from training.simulator import load_data
from training.simulator.institutions import ARCHETYPES, KIND_SHARES, InstitutionSet, fit_matrix

__all__ = ["OUTCOME_COLUMNS", "GROUND_TRUTH_SCHEMA", "CASEWORKERS", "pair_noise", "success_probability",
           "policy_scores", "draw_outcomes"]

OUTCOME_COLUMNS = ("outcome_id", "problem_id", "institution_id", "status", "amount", "recorded_at", "recorded_by")
GROUND_TRUTH_SCHEMA = pa.schema([("problem_id", pa.string()), ("institution_id", pa.string()),
                                 ("p_success", pa.float64())])
# Caseworkers' user names, four per district office (data/words.json).
CASEWORKERS: tuple[tuple[str, ...], ...] = tuple(tuple(names) for names in load_data("words.json")["caseworkers"])

# The truth, on the logit scale.
_BASE, _FIT, _TWO_NEEDS = -3.2, 4.5, -0.3
_SPECIALIST, _OUT_OF_SECTOR = 0.35, -2.0
_HOME_DISTRICT, _OUT_OF_REGION = 0.5, -2.0
_IN_RANGE, _OUT_OF_RANGE, _PER_DECADE_OUT = 0.3, -1.0, -1.5
_QUALITY, _NOISE = 0.55, 0.5
# The caseworkers' policy: what they see and how much it sways them.
_POPULARITY, _PROXIMITY, _SERVED, _WEAK_FIT = 1.1, 1.0, 0.8, 2.5
_PAIRS_PER_BLOCK = 2_000_000  # bounds the memory of one block of (problem, institution) pairs


def _lender_kinds() -> np.ndarray:
    return np.array([k in LENDER_KINDS for k in INSTITUTION_KINDS])


def _kind_fit() -> np.ndarray:
    """The coarse fit caseworkers know, by kind: the share-weighted mean fit of the kind's archetypes."""
    fit = fit_matrix()
    table = np.zeros((len(CATEGORIES), len(INSTITUTION_KINDS)))
    for k, kind in enumerate(INSTITUTION_KINDS):
        members = [a for a, arch in enumerate(ARCHETYPES) if arch.kind == kind]
        weights = np.array([ARCHETYPES[a].share for a in members])
        table[:, k] = fit[:, members] @ weights / weights.sum() if KIND_SHARES.get(kind) else 0.0
    return table


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective scramble of 64-bit integers (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def pair_noise(seed: int, problems: np.ndarray, institutions: np.ndarray) -> np.ndarray:
    """Standardised noise of (problem, institution) index pairs (broadcast), a pure function of the seed."""
    key = _mix(np.uint64(seed) ^ _mix(problems.astype(np.uint64)))
    x = _mix(key ^ (institutions.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)))
    quarters = sum((x >> np.uint64(shift)) & np.uint64(0xFFFF) for shift in (0, 16, 32, 48))
    return (quarters.astype(np.float64) / 65536.0 - 2.0) * np.sqrt(3.0)  # Irwin-Hall of four: mean 0, sd 1


def _broadcast(institutions: InstitutionSet, problems: Mapping[str, np.ndarray],
               columns: np.ndarray | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Problem arrays and institution indexes that broadcast together: pairs, or the whole grid by default."""
    if columns is not None:
        return dict(problems), columns
    return {key: value[:, None] for key, value in problems.items()}, np.arange(len(institutions.archetype))[None, :]


def _best(table: np.ndarray, first: np.ndarray, second: np.ndarray, column: np.ndarray) -> np.ndarray:
    """max over a problem's one or two categories of ``table[category, column]`` (pairs or grid)."""
    rows = np.maximum(table[first], table[np.where(second >= 0, second, first)])  # first's shape + (columns,)
    if first.ndim == 2:  # the grid: gather whole columns from a small (problems, table columns) matrix
        return np.take(rows[:, 0, :], column[0], axis=1)
    return np.take_along_axis(rows, column[:, None], axis=1)[:, 0]


def _served(mask: np.ndarray, index: np.ndarray) -> np.ndarray:
    return (mask == 0) | (((mask >> index) & 1) == 1)


def success_probability(seed: int, institutions: InstitutionSet, problems: Mapping[str, np.ndarray],
                        columns: np.ndarray | None = None) -> np.ndarray:
    """The true probability that a problem ends ``solved`` with an institution (inactive institutions: 0).

    ``problems`` holds arrays ``index`` (global problem number), ``first``/``second`` (category indexes, -1:
    none), ``sector``, ``district``, ``amount`` (NaN: none), ``staff`` and ``age``. With ``columns`` (institution
    indexes, one per problem) the result is one probability per pair; without, the grid (problems, institutions).
    """
    p, column = _broadcast(institutions, problems, columns)
    logit = _BASE + _FIT * _best(fit_matrix(), p["first"], p["second"], institutions.archetype[column])
    logit = logit + _TWO_NEEDS * (p["second"] >= 0)
    sector_mask = institutions.sector_mask[column]
    logit += np.where(_served(sector_mask, p["sector"]), np.where(sector_mask != 0, _SPECIALIST, 0.0), _OUT_OF_SECTOR)
    logit += np.where(_served(institutions.region_mask[column], p["district"]),
                      _HOME_DISTRICT * (institutions.home[column] == p["district"]), _OUT_OF_REGION)
    low, high, amount = institutions.min_amount[column], institutions.max_amount[column], p["amount"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.fmax(np.log10(low / amount), np.log10(amount / high))  # NaN unless a lender meets an amount
    logit += np.where(np.isnan(out), 0.0, np.where(out <= 0, _IN_RANGE, _OUT_OF_RANGE + _PER_DECADE_OUT * out))
    size, age = np.log1p(p["staff"]) - 2.5, (p["age"] - 8.0) / 6.0
    logit += np.where(_lender_kinds()[institutions.kind[column]], 0.3 * size + 0.25 * age, 0.12 * size)
    logit += _QUALITY * institutions.quality[column]
    logit += _NOISE * pair_noise(seed, p["index"], column)
    return np.where(institutions.active[column], 1.0 / (1.0 + np.exp(-logit)), 0.0)


def policy_scores(institutions: InstitutionSet, problems: Mapping[str, np.ndarray]) -> np.ndarray:
    """The caseworkers' softmax scores, shape (problems, institutions); inactive institutions: -inf."""
    p, column = _broadcast(institutions, problems, None)
    active = institutions.active
    popularity = institutions.popularity
    spread = popularity[active].std() if active.sum() > 1 else 1.0
    popularity = (popularity - popularity[active].mean()) / (spread or 1.0)
    weak = 0.5 * _best(fit_matrix(), p["first"], p["second"], institutions.archetype[column]) + 0.5 * _best(
        _kind_fit(), p["first"], p["second"], institutions.kind[column])
    score = _POPULARITY * popularity[column] + _WEAK_FIT * weak
    score += _PROXIMITY * (institutions.home[column] == p["district"])
    score += _SERVED * _served(institutions.region_mask[column], p["district"])
    return np.where(active[column], score, -np.inf)


def _attempts(rng: np.random.Generator, n_outcomes: int, weights: np.ndarray, cap: int) -> np.ndarray:
    """How many institutions each problem tries: a multinomial share of ``n_outcomes``, at most ``cap`` each."""
    if n_outcomes == 0 or len(weights) == 0 or cap == 0:
        return np.zeros(len(weights), np.int64)
    tries = np.minimum(rng.multinomial(n_outcomes, weights / weights.sum()), cap)
    missing = n_outcomes - int(tries.sum())
    while missing > 0:  # rare: give the tries cut by the cap to problems with room left
        room = np.flatnonzero(tries < cap)
        if len(room) == 0:
            break
        chosen = rng.choice(room, size=min(missing, len(room)), replace=False)
        tries[chosen] += 1
        missing -= len(chosen)
    return tries


def _empty_outputs() -> tuple[pd.DataFrame, pd.DataFrame, pa.Table]:
    outcomes = pd.DataFrame({c: pd.Series(dtype=float if c == "amount" else str) for c in OUTCOME_COLUMNS})
    policy = pd.DataFrame({"outcome_id": pd.Series(dtype=str), "propensity": pd.Series(dtype=float)})
    return outcomes, policy, GROUND_TRUTH_SCHEMA.empty_table()


def draw_outcomes(
    rng: np.random.Generator,
    institutions: InstitutionSet,
    problems: Mapping[str, np.ndarray],
    problem_ids: np.ndarray,
    *,
    n_outcomes: int,
    outcome_offset: int,
    outcome_width: int,
    seed: int,
    start: date,
    days: int,
    eval_start: datetime,
    ground_truth: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, pa.Table]:
    """Outcomes, their propensities and the evaluation problems' ground truth for one chunk of problems.

    Tries are drawn from the policy's scores over the whole grid of a block of problems; the truth is
    computed for the chosen pairs, and over the grid only for the problems that reach the evaluation period.
    """
    empty = _empty_outputs()
    n_institutions = len(institutions.archetype)
    tries = _attempts(rng, n_outcomes, 1.0 + 0.6 * (problems["second"] >= 0),
                      min(int(institutions.active.sum()), 8))
    handled = np.flatnonzero(tries)
    if len(handled) == 0:
        return empty
    caseworker = rng.integers(0, len(CASEWORKERS[0]), size=len(problem_ids))
    eval_day = (eval_start.date() - start).days
    institution_ids = pa.array(institutions.frame["institution_id"].to_numpy(dtype=object), pa.string())
    block = max(1, _PAIRS_PER_BLOCK // n_institutions)
    pieces: list[dict[str, np.ndarray]] = []
    ground: list[pa.Table] = []
    for begin in range(0, len(handled), block):
        rows = handled[begin : begin + block]
        part = {key: value[rows] for key, value in problems.items()}
        scores = policy_scores(institutions, part)
        top = int(tries[rows].max())
        keys = scores + rng.gumbel(size=scores.shape)
        if top < n_institutions:
            picked = np.argpartition(-keys, top - 1, axis=1)[:, :top]
        else:
            picked = np.broadcast_to(np.arange(n_institutions), keys.shape).copy()
        picked = np.take_along_axis(picked, np.argsort(-np.take_along_axis(keys, picked, 1), axis=1), 1)
        chance = np.exp(scores - scores.max(axis=1, keepdims=True))
        chance /= chance.sum(axis=1, keepdims=True)
        chosen = np.take_along_axis(chance, picked, 1)
        before = np.cumsum(chosen, axis=1) - chosen
        propensity = chosen / np.maximum(1.0 - before, 1e-12)
        r, j = np.nonzero(np.arange(top)[None, :] < tries[rows][:, None])
        institution = picked[r, j]
        truth = success_probability(seed, institutions, {key: value[r] for key, value in part.items()}, institution)
        piece = _timeline(rng, part["stated_day"][r], j, truth, days)
        piece.update(row=rows[r], attempt=j, institution=institution, propensity=propensity[r, j])
        pieces.append(piece)
        if ground_truth:
            late = np.unique(r[piece["day"] >= eval_day])
            grid = success_probability(seed, institutions, {key: value[late] for key, value in part.items()})
            ids = pa.array(problem_ids[rows[late]], pa.string())
            ground.append(pa.table({
                "problem_id": ids.take(pa.array(np.repeat(np.arange(len(late)), n_institutions))),
                "institution_id": institution_ids.take(pa.array(np.tile(np.arange(n_institutions), len(late)))),
                "p_success": pa.array(grid.ravel(), pa.float64()),
            }, schema=GROUND_TRUTH_SCHEMA))
    drawn = {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}
    outcomes, policy = _frames(rng, drawn, institutions, problems, problem_ids, caseworker, start,
                               outcome_offset, outcome_width)
    return outcomes, policy, pa.concat_tables(ground) if ground else empty[2]


def _timeline(rng: np.random.Generator, stated: np.ndarray, attempt: np.ndarray, p: np.ndarray,
              days: int) -> dict[str, np.ndarray]:
    """When each try was made and recorded, and the stage it reached (solved with probability ``p``)."""
    n = len(stated)
    gap = rng.exponential(np.where(attempt == 0, 4.0, 12.0 * attempt), n)
    remaining = days - stated.astype(np.float64)
    contact = stated + remaining * -np.expm1(-gap / remaining)  # compressed to stay inside the window
    solved = rng.random(n) < p
    pending = ~solved & (rng.random(n) < 0.08 + 0.6 * np.exp(-(days - contact) / 40.0))
    u = rng.random(n)
    status = np.where(solved, "solved", np.where(pending, np.where(u < 0.55, "contacted", "accepted"),
                                                  np.where(u < 0.75 - 0.5 * p, "declined", "failed")))
    mean_delay = np.select([status == "contacted", status == "accepted", status == "declined", status == "solved"],
                           [1.0, 10.0, 8.0, 45.0], 50.0)
    delay = rng.gamma(2.0, mean_delay / 2.0)
    left = np.maximum(days - contact, 1e-6)
    recorded = contact + left * -np.expm1(-delay / left)
    day = np.minimum(np.floor(recorded).astype(np.int64), days - 1)
    second = (8.5 * 3600 + rng.random(n) * 9.5 * 3600).astype(np.int64)
    return {"status": status.astype(object), "day": day, "second": second}


def _frames(rng: np.random.Generator, drawn: dict[str, np.ndarray], institutions: InstitutionSet,
            problems: Mapping[str, np.ndarray], problem_ids: np.ndarray, caseworker: np.ndarray, start: date,
            offset: int, width: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.lexsort((drawn["attempt"], drawn["row"], drawn["second"], drawn["day"]))
    drawn = {key: value[order] for key, value in drawn.items()}
    row, institution = drawn["row"], drawn["institution"]
    asked = problems["amount"][row]
    granted = np.minimum(asked, institutions.max_amount[institution]) * rng.uniform(0.6, 1.0, len(row))
    granted = np.fmax(np.round(granted, -4), institutions.min_amount[institution])
    lends = _lender_kinds()[institutions.kind[institution]]
    amount = np.where((drawn["status"] == "solved") & lends & ~np.isnan(asked), granted, np.nan)
    moment = (np.datetime64(start, "s") + drawn["day"] * np.timedelta64(86400, "s")
              + drawn["second"] * np.timedelta64(1, "s"))
    ids = np.array([f"O{i:0{width}d}" for i in range(offset + 1, offset + len(row) + 1)], dtype=object)
    workers = np.array(CASEWORKERS, dtype=object)[problems["district"][row], caseworker[row]]
    outcomes = pd.DataFrame({
        "outcome_id": ids, "problem_id": problem_ids[row],
        "institution_id": institutions.frame["institution_id"].to_numpy(dtype=object)[institution],
        "status": drawn["status"], "amount": amount, "recorded_at": np.datetime_as_string(moment, unit="s"),
        "recorded_by": workers,
    })
    return outcomes, pd.DataFrame({"outcome_id": ids, "propensity": drawn["propensity"]})
