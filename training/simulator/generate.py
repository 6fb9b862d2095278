"""The sample-data simulator: a city's enterprise-support programme with a hidden ground truth.

Inputs: sizes and a seed (``SimulationConfig``). Outputs: the four tables of the table contract
(``enterprises``, ``problems``, ``institutions``, ``outcomes``) and the simulator-only extras
(``ground_truth``: the true success probability of every institution for each problem that has an outcome
in the evaluation period, the last 20% of the time window; ``problem_truth``: the true categories, the
language and a typo flag of each problem; ``logging_policy``: the probability with which the caseworkers'
biased policy chose each logged institution). ``simulate`` returns them as a ``SimulatedData`` of pandas
frames; ``write`` saves one; ``generate`` streams a run of any size to a folder with bounded memory.

The hidden truth (``training.simulator.outcomes``): a problem's success with an institution depends on how
well the institution's archetype fits the problem's true categories, the sectors and districts it serves,
the amount asked against the lender's range, a latent institution quality, the enterprise's size and age,
and pair noise. Caseworkers pick institutions mostly by popularity and proximity, with a weak sense of fit,
so the outcomes are a biased sample. Everything is drawn from numpy generators keyed by the seed and the
chunk of enterprises, so a seed gives the same files byte for byte.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matching.errors import InvalidInput, Issue
from matching.records import CATEGORIES, SECTORS
from training.simulator.institutions import InstitutionSet, make_institutions
from training.simulator.outcomes import GROUND_TRUTH_SCHEMA, draw_outcomes
from training.simulator.text import DISTRICT_WEIGHTS, DISTRICTS, enterprise_names, render_problem_texts

__all__ = [
    "SimulationConfig",
    "SimulatedData",
    "GenerationSummary",
    "FILES",
    "simulate",
    "write",
    "generate",
]

START = date(2024, 11, 1)
END = date(2026, 10, 31)
OUTCOMES_PER_ENTERPRISE = 3.7  # 8,200 enterprises -> 30,340 outcomes
CHUNK_ENTERPRISES = 20_000  # enterprises per chunk; each chunk draws from its own random streams
FILES: tuple[str, ...] = ("enterprises.csv", "problems.csv", "institutions.csv", "outcomes.csv",
                          "ground_truth.parquet", "problem_truth.csv", "logging_policy.csv")

# Wholesale/retail and manufacturing dominate the city's small firms.
SECTOR_WEIGHTS = (0.22, 0.07, 0.08, 0.27, 0.06, 0.10, 0.05, 0.03, 0.08, 0.04)
_MEDIAN_STAFF = (25, 10, 28, 6, 14, 9, 12, 15, 8, 5)
_REVENUE_PER_HEAD = (4.5e5, 2.0e5, 3.5e5, 6.0e5, 4.0e5, 1.8e5, 5.0e5, 7.0e5, 3.5e5, 2.5e5)
_PROBLEM_COUNTS = (0.45, 0.35, 0.20)  # 1, 2 or 3 problems per enterprise
_SECOND_CATEGORY_SHARE = 0.18
_AMOUNT_SHARE = 0.92  # money problems that state an amount
_BASE_CATEGORY = {"financing": 0.30, "guarantee": 0.08, "technology": 0.07, "energy": 0.04, "new_product": 0.04,
                  "it": 0.05, "skills": 0.07, "land": 0.05, "water": 0.03, "electricity": 0.04, "transport": 0.05,
                  "market": 0.08}
_SECTOR_BOOST: dict[str, dict[str, float]] = {
    "manufacturing": {"technology": 0.08, "energy": 0.06, "new_product": 0.05, "electricity": 0.04, "land": 0.04,
                      "skills": 0.03},
    "agriculture": {"technology": 0.05, "water": 0.08, "land": 0.05, "market": 0.06, "transport": 0.03},
    "construction": {"guarantee": 0.10, "land": 0.04, "skills": 0.03},
    "wholesale_retail": {"market": 0.06, "it": 0.05, "transport": 0.04},
    "transport_warehousing_postal": {"transport": 0.12, "energy": 0.03, "land": 0.03},
    "catering_accommodation": {"skills": 0.05, "market": 0.04, "water": 0.03},
    "information_services": {"it": 0.10, "skills": 0.05, "new_product": 0.04},
    "real_estate_property": {"land": 0.08, "guarantee": 0.05},
    "leasing_business_services": {"it": 0.04, "market": 0.04, "skills": 0.03},
    "other": {},
}


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. ``n_outcomes=None`` means 3.7 outcomes per enterprise; 0 skips outcomes."""

    n_enterprises: int = 8_200
    n_institutions: int = 300
    seed: int = 0
    n_outcomes: int | None = None
    ground_truth: bool = True
    start: date = START
    end: date = END
    eval_fraction: float = 0.2
    # Part of the output: a seed gives the same data for the same chunk size (smaller: less memory).
    chunk_enterprises: int = CHUNK_ENTERPRISES

    def validate(self, names: Mapping[str, str] | None = None) -> SimulationConfig:
        """Raise one ``InvalidInput`` listing every bad setting; ``names`` renames fields (e.g. CLI options)."""
        issues: list[Issue] = []

        def check(name: str, ok: bool, expected: str) -> None:
            if not ok:
                found = getattr(self, name)
                issues.append(Issue(column=(names or {}).get(name, name), expected=expected, found=repr(found)))

        def whole(value: object) -> bool:
            return isinstance(value, int | np.integer) and not isinstance(value, bool)

        check("n_enterprises", whole(self.n_enterprises) and self.n_enterprises >= 1, "a whole number >= 1")
        check("n_institutions", whole(self.n_institutions) and self.n_institutions >= 1, "a whole number >= 1")
        check("seed", whole(self.seed) and 0 <= self.seed < 2**63, "a whole number >= 0")
        check("n_outcomes", self.n_outcomes is None or (whole(self.n_outcomes) and self.n_outcomes >= 0),
              "a whole number >= 0 (or none for the default)")
        check("end", isinstance(self.start, date) and isinstance(self.end, date) and self.start < self.end,
              "a date after start")
        check("eval_fraction", isinstance(self.eval_fraction, float | int) and 0 < self.eval_fraction < 1,
              "a fraction between 0 and 1")
        check("chunk_enterprises", whole(self.chunk_enterprises) and self.chunk_enterprises >= 1,
              "a whole number >= 1")
        if issues:
            raise InvalidInput(issues)
        return self

    @property
    def total_outcomes(self) -> int:
        return round(OUTCOMES_PER_ENTERPRISE * self.n_enterprises) if self.n_outcomes is None else self.n_outcomes

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def eval_start(self) -> datetime:
        """Outcomes recorded from this moment on form the evaluation period."""
        offset = int(self.days * (1 - self.eval_fraction))
        return datetime.combine(self.start + timedelta(days=offset), datetime.min.time())


@dataclass(frozen=True, slots=True)
class SimulatedData:
    """One simulated city. The first seven frames are the files ``write`` produces (see ``FILES``)."""

    enterprises: pd.DataFrame
    problems: pd.DataFrame
    institutions: pd.DataFrame
    outcomes: pd.DataFrame
    ground_truth: pd.DataFrame  # problem_id, institution_id, p_success (empty when not asked for)
    problem_truth: pd.DataFrame  # problem_id, categories, language, typo
    logging_policy: pd.DataFrame  # outcome_id, propensity
    institution_truth: pd.DataFrame  # institution_id, archetype, home_region, quality, popularity (not written)
    config: SimulationConfig = field(default_factory=SimulationConfig)

    def files(self) -> dict[str, pd.DataFrame]:
        """The frames by the file name they are written to."""
        return {name: getattr(self, name.split(".")[0]) for name in FILES}


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    out_dir: Path
    rows: dict[str, int]  # file name -> data rows written
    seconds: float


Chunk = dict[str, pd.DataFrame | pa.Table]  # file name -> this chunk's rows
Progress = Callable[[str, int, int], None]  # (what is being done, enterprises done, enterprises in all)


def simulate(
    n_enterprises: int = 8_200,
    n_institutions: int = 300,
    seed: int = 0,
    n_outcomes: int | None = None,
    *,
    ground_truth: bool = True,
    start: date = START,
    end: date = END,
    eval_fraction: float = 0.2,
    chunk_enterprises: int = CHUNK_ENTERPRISES,
) -> SimulatedData:
    """Simulate a city in memory (for runs that fit in memory; ``generate`` streams any size to disk)."""
    config = SimulationConfig(n_enterprises, n_institutions, seed, n_outcomes, ground_truth, start, end,
                              eval_fraction, chunk_enterprises).validate()
    institutions = _institutions(config)
    parts: dict[str, list[pd.DataFrame]] = {}
    for chunk in _chunks(config, institutions):
        for name, frame in chunk.items():
            parts.setdefault(name, []).append(frame)
    joined = {name.split(".")[0]: pd.concat(frames, ignore_index=True) for name, frames in parts.items()
              if name != "ground_truth.parquet"}
    joined["ground_truth"] = pa.concat_tables(parts["ground_truth.parquet"]).to_pandas()
    return SimulatedData(**joined, institutions=institutions.frame, institution_truth=institutions.truth(),
                         config=config)


def write(data: SimulatedData, out_dir: str | Path) -> dict[str, int]:
    """Write the files of ``data`` into ``out_dir`` (created if missing); return the rows written per file."""
    out_dir = Path(out_dir)
    with _Writer(out_dir, ground_truth=data.config.ground_truth) as writer:
        for name, frame in data.files().items():
            writer.append(name, frame)
    return writer.rows


def generate(out_dir: str | Path, config: SimulationConfig | None = None, *,
             on_progress: Progress | None = None) -> GenerationSummary:
    """Simulate and write chunk by chunk: memory stays bounded by one chunk (20,000 enterprises by default).

    The files appear in ``out_dir`` together at the end (written in a temporary folder beside them first).
    Without ground truth, a stale ``ground_truth.parquet`` of an earlier run is removed.
    """
    config = (config or SimulationConfig()).validate()
    began = time.perf_counter()
    report = on_progress or (lambda stage, done, total: None)
    report("institutions", 0, config.n_enterprises)
    institutions = _institutions(config)
    with _Writer(Path(out_dir), ground_truth=config.ground_truth) as writer:
        writer.append("institutions.csv", institutions.frame)
        for chunk in _chunks(config, institutions, report):
            for name, frame in chunk.items():
                writer.append(name, frame)
        report("writing", config.n_enterprises, config.n_enterprises)
    return GenerationSummary(Path(out_dir), writer.rows, time.perf_counter() - began)


# ------------------------------------------------------------------------------------------------ chunks


def _rng(config: SimulationConfig, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=key))


def _institutions(config: SimulationConfig) -> InstitutionSet:
    return make_institutions(_rng(config, 0), config.n_institutions)


def _width(n: int, least: int) -> int:
    return max(least, len(str(max(n, 1))))


def _chunks(config: SimulationConfig, institutions: InstitutionSet,
            report: Progress = lambda stage, done, total: None) -> Iterator[Chunk]:
    """The frames of each chunk of enterprises, ids continuing across chunks."""
    n, total_outcomes = config.n_enterprises, config.total_outcomes
    step = config.chunk_enterprises
    starts = list(range(0, n, step))
    # Outcomes are shared out by enterprises (known in advance), by largest remainder.
    sizes = np.array([min(step, n - s) for s in starts])
    exact = sizes / n * total_outcomes
    shares = np.floor(exact).astype(np.int64)
    shares[np.argsort(-(exact - shares), kind="stable")[: total_outcomes - int(shares.sum())]] += 1
    problem_offset = outcome_offset = 0
    widths = {"E": _width(n, 6), "P": _width(3 * n, 6), "O": _width(total_outcomes, 7)}
    for index, (first, size) in enumerate(zip(starts, sizes, strict=True)):
        where = f"chunk {index + 1}/{len(starts)}" if len(starts) > 1 else ""
        report(f"enterprises and problem texts {where}".strip(), first, n)
        enterprises, problems, truth, hidden = _enterprises_and_problems(config, index, first, int(size),
                                                                          problem_offset, widths)
        report(f"outcomes and ground truth {where}".strip(), first, n)
        outcomes, policy, ground = draw_outcomes(
            _rng(config, 2, index), institutions, hidden, problems["problem_id"].to_numpy(),
            n_outcomes=int(shares[index]), outcome_offset=outcome_offset, outcome_width=widths["O"],
            seed=config.seed, start=config.start, days=config.days, eval_start=config.eval_start,
            ground_truth=config.ground_truth,
        )
        problem_offset += len(problems)
        outcome_offset += len(outcomes)
        yield {"enterprises.csv": enterprises, "problems.csv": problems, "outcomes.csv": outcomes,
               "ground_truth.parquet": ground, "problem_truth.csv": truth, "logging_policy.csv": policy}
        report("written", first + int(size), n)


def _category_probabilities() -> np.ndarray:
    """P(category | sector), shape (len(SECTORS), len(CATEGORIES))."""
    table = np.array([[_BASE_CATEGORY[c] + _SECTOR_BOOST[s].get(c, 0.0) for c in CATEGORIES] for s in SECTORS])
    return table / table.sum(axis=1, keepdims=True)


def _draw_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probabilities``."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), probabilities.shape[1] - 1)


def _enterprises_and_problems(config: SimulationConfig, chunk: int, first: int, size: int, problem_offset: int,
                              widths: dict[str, int]
                              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """One chunk's enterprises, problems and problem truth, and the problems' hidden attributes as arrays."""
    rng = _rng(config, 1, chunk)
    sector = rng.choice(len(SECTORS), size=size, p=np.array(SECTOR_WEIGHTS) / sum(SECTOR_WEIGHTS))
    district = rng.choice(len(DISTRICTS), size=size, p=np.array(DISTRICT_WEIGHTS) / sum(DISTRICT_WEIGHTS))
    staff = np.clip(np.round(np.array(_MEDIAN_STAFF)[sector] * np.exp(0.9 * rng.standard_normal(size))), 1, 299)
    staff = np.where(rng.random(size) < 0.02, 0, staff).astype(np.int64)  # sole proprietors
    revenue = np.round(np.maximum(staff, 1) * np.array(_REVENUE_PER_HEAD)[sector]
                       * np.exp(0.6 * rng.standard_normal(size)), -2)
    founded = (config.start.year - np.clip(np.round(rng.gamma(2.0, 4.0, size)), 0, 33)).astype(np.int64)
    enterprise_ids = np.array([f"E{i:0{widths['E']}d}" for i in range(first + 1, first + size + 1)], dtype=object)
    enterprises = pd.DataFrame({
        "enterprise_id": enterprise_ids, "name": enterprise_names(rng, sector, district), "sector":
        np.array(SECTORS, dtype=object)[sector], "region": np.array([d[0] for d in DISTRICTS], dtype=object)[district],
        "employees": staff, "annual_revenue": revenue.astype(float), "founded": founded,
    })

    counts = rng.choice(np.arange(1, len(_PROBLEM_COUNTS) + 1), size=size, p=_PROBLEM_COUNTS)
    owner = np.repeat(np.arange(size), counts)
    n = len(owner)
    probabilities = _category_probabilities()[sector[owner]]
    first_category = _draw_rows(rng, probabilities)
    probabilities[np.arange(n), first_category] = 0.0
    second_category = np.where(rng.random(n) < _SECOND_CATEGORY_SHARE, _draw_rows(rng, probabilities), -1)
    money = np.isin(first_category, [CATEGORIES.index("financing"), CATEGORIES.index("guarantee")]) | np.isin(
        second_category, [CATEGORIES.index("financing"), CATEGORIES.index("guarantee")])
    asked = np.clip(revenue[owner] * np.exp(np.log(0.25) + 0.7 * rng.standard_normal(n)), 3e4, 3e7)
    asked = np.where(asked >= 1e6, np.round(asked, -5), np.round(asked, -4))
    amount = np.where(money & (rng.random(n) < _AMOUNT_SHARE), asked, np.nan)
    stated_day = np.minimum((rng.beta(1.2, 1.0, n) * config.days).astype(np.int64), config.days - 1)
    stated = np.datetime64(config.start, "D") + stated_day
    stated_year = stated.astype("datetime64[Y]").astype(np.int64) + 1970
    texts = render_problem_texts(rng, first=first_category, second=second_category, sectors=sector[owner],
                                 districts=district[owner], amounts=amount, staff=staff[owner],
                                 years=stated_year - founded[owner])
    problem_ids = np.array([f"P{i:0{widths['P']}d}" for i in range(problem_offset + 1, problem_offset + n + 1)],
                           dtype=object)
    problems = pd.DataFrame({"problem_id": problem_ids, "enterprise_id": enterprise_ids[owner],
                             "text": texts.texts, "amount": amount, "stated_at": stated.astype(str)})
    names = np.array(CATEGORIES, dtype=object)
    categories = np.where(second_category >= 0, names[first_category] + ";" + names[np.maximum(second_category, 0)],
                          names[first_category])
    truth = pd.DataFrame({"problem_id": problem_ids, "categories": categories, "language": texts.languages,
                          "typo": np.where(texts.typos, "true", "false")})
    hidden = {"index": problem_offset + np.arange(n), "first": first_category, "second": second_category,
              "sector": sector[owner], "district": district[owner], "amount": amount, "staff": staff[owner],
              "age": stated_year - founded[owner], "stated_day": stated_day}
    return enterprises, problems, truth, hidden


# ------------------------------------------------------------------------------------------------ writing


class _Writer:
    """Appends frames to the files of a temporary folder; on success moves them into place together."""

    def __init__(self, out_dir: Path, *, ground_truth: bool) -> None:
        self.out_dir = out_dir
        self.ground_truth = ground_truth
        self.temporary = out_dir / f".smematch-generate-{os.getpid()}"
        self.rows: dict[str, int] = {}
        self._parquet: pq.ParquetWriter | None = None

    def __enter__(self) -> _Writer:
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary.mkdir()
        except OSError as error:
            raise InvalidInput(Issue(column=None, expected="a folder that can be written",
                                     found=f"{str(self.out_dir)!r} ({error.strerror or error})")) from None
        return self

    def append(self, name: str, frame: pd.DataFrame | pa.Table) -> None:
        if name == "ground_truth.parquet":
            if self.ground_truth:
                self._append_parquet(frame)
            return
        path = self.temporary / name
        first = name not in self.rows
        frame.to_csv(path, mode="w" if first else "a", header=first, index=False, lineterminator="\n",
                     encoding="utf-8")
        self.rows[name] = self.rows.get(name, 0) + len(frame)

    def _append_parquet(self, frame: pd.DataFrame | pa.Table) -> None:
        if not isinstance(frame, pa.Table):
            frame = pa.Table.from_pandas(frame, schema=GROUND_TRUTH_SCHEMA, preserve_index=False)
        table = frame.replace_schema_metadata(None)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.temporary / "ground_truth.parquet", table.schema,
                                             compression="zstd")
        if len(frame) or self.rows.get("ground_truth.parquet") is None:
            self._parquet.write_table(table)
        self.rows["ground_truth.parquet"] = self.rows.get("ground_truth.parquet", 0) + len(frame)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if error is None:
            for name in FILES:
                if (self.temporary / name).exists():
                    os.replace(self.temporary / name, self.out_dir / name)
            if not self.ground_truth:
                (self.out_dir / "ground_truth.parquet").unlink(missing_ok=True)
        shutil.rmtree(self.temporary, ignore_errors=True)
