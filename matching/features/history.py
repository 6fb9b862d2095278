"""What outcomes say about institutions and enterprises, as features of a (problem, institution) pair at a time.

Input: the outcome table, the problems it refers to (with their enterprise's region and sector, the amount and
the text) and the fitted ``Catalogue``. ``CaseHistory.build`` keeps, in memory, every *case* (a pair whose
institution took the problem up: an outcome ``accepted``, ``solved`` or ``failed``; its time is the first such
outcome's ``recorded_at``) and every outcome of an enterprise with an institution. Output:

- ``features(prepared, problem_rows, institution_rows, times=None)``: ``HISTORY_FEATURES`` per pair, counted from
  what was recorded strictly before each pair's time (``times``, training) or from everything kept (``None``:
  serving, where the history was built as of a time already); the text features are ``history_text``'s;
- ``popular``: per district, and per district and sector, the institutions that took up most cases there, and
  ``partners``: the institutions each enterprise worked with, which join retrieval's candidates.

Counting is vectorised: cases are sorted by one integer code (a dense key, then the time in seconds), and each
count is two ``searchsorted`` calls, whatever the number of cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.catalogue import Catalogue
from matching.features.history_text import TEXT_FEATURES, CaseTexts
from matching.records import SECTORS, STATUS_GAIN
from matching.understand.problems import PreparedProblems

__all__ = ["CaseHistory", "HISTORY_FEATURES", "TAKEN_UP_STATUSES", "RECENT_DAYS", "as_seconds", "NEVER"]

TAKEN_UP_STATUSES = ("accepted", "solved", "failed")
RECENT_DAYS = 365
_TIME_BITS = 35  # seconds since 1800: enough until the year 2888
_BASE = np.datetime64("1800-01-01T00:00:00", "s")
NEVER = (1 << _TIME_BITS) - 1  # a time after every case: "everything kept"
_DAY = 86_400
_SECTOR_POSITIONS = {s: i for i, s in enumerate(SECTORS)}

HISTORY_FEATURES: tuple[str, ...] = (
    "history_cases_log",
    "history_share",
    "history_recent_share",
    "history_days_since_last_log",
    "history_days_since_first_log",
    "history_region_share",
    "history_region_cases_log",
    "history_region_recent_share",
    "history_sector_share",
    "history_region_sector_share",
    "history_amount_gap",
    *TEXT_FEATURES,
    "enterprise_outcomes_log",
    "enterprise_last_gain",
)


def as_seconds(values: object) -> np.ndarray:
    """Times (anything ``pd.to_datetime`` reads; naive means UTC) as int64 seconds since 1800; NaT -> NEVER."""
    stamps = pd.to_datetime(pd.Series(values), errors="coerce", utc=True).dt.tz_convert(None)
    seconds = (stamps.to_numpy(dtype="datetime64[s]") - _BASE).astype(np.int64)
    return np.where(stamps.isna().to_numpy(), NEVER, np.clip(seconds, 0, NEVER))


class _Timeline:
    """Items keyed by an integer, each with a time: counts, sums and ends of those strictly before a time."""

    def __init__(self, keys: np.ndarray, times: np.ndarray, values: np.ndarray | None = None) -> None:
        self.known = np.unique(keys)
        dense = np.searchsorted(self.known, keys).astype(np.int64)
        codes = (dense << _TIME_BITS) | times.astype(np.int64)
        order = np.argsort(codes, kind="stable")
        self.codes = codes[order]
        self.values = None if values is None else np.asarray(values, dtype=np.float64)[order]
        self.sums = None if values is None else np.concatenate([[0.0], np.cumsum(self.values)])

    def _bounds(self, keys: np.ndarray, times: np.ndarray, since: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray]:
        if len(self.known) == 0:
            empty = np.zeros(len(keys), dtype=np.int64)
            return empty, empty
        position = np.minimum(np.searchsorted(self.known, keys), len(self.known) - 1)
        found = self.known[position] == keys
        base = position.astype(np.int64) << _TIME_BITS
        stop = np.searchsorted(self.codes, base | times, side="left")
        start = np.searchsorted(self.codes, base if since is None else base | since, side="left")
        stop = np.where(found, np.maximum(stop, start), start)
        return start, stop

    def count(self, keys: np.ndarray, times: np.ndarray, since: np.ndarray | None = None) -> np.ndarray:
        start, stop = self._bounds(keys, times, since)
        return (stop - start).astype(np.float64)

    def total(self, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
        assert self.sums is not None
        start, stop = self._bounds(keys, times, None)
        return self.sums[stop] - self.sums[start]

    def ends(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first time, last time, value of the last item) before each time; -1 / NaN where there is none."""
        first, last, value = np.full(len(keys), -1), np.full(len(keys), -1), np.full(len(keys), np.nan)
        start, stop = self._bounds(keys, times, None)
        has = stop > start  # never true without items
        mask = (1 << _TIME_BITS) - 1
        first[has] = self.codes[start[has]] & mask
        last[has] = self.codes[stop[has] - 1] & mask
        if self.values is not None:
            value[has] = self.values[stop[has] - 1]
        return first, last, value


@dataclass(slots=True)
class CaseHistory:
    """Cases and outcomes kept for counting (see the module docstring). Build with ``CaseHistory.build``."""

    n_institutions: int
    as_of: int  # seconds since 1800 of the time the history was built as of ("now" for days since)
    n_regions: int  # region codes are 0..n_regions (0: unknown district)
    cases: int
    everyone: _Timeline
    institution: _Timeline
    region: _Timeline
    institution_region: _Timeline
    sector: _Timeline
    institution_sector: _Timeline
    region_sector: _Timeline
    institution_region_sector: _Timeline
    amount: _Timeline
    enterprise_pairs: _Timeline
    enterprise_codes: dict[str, int]
    texts: CaseTexts
    popular: np.ndarray  # (regions + 1) x n: institution rows by cases in the district, -1 padded
    popular_sector: np.ndarray  # ((regions + 1) * (sectors + 1)) x n, the same per district and sector
    partners: dict[int, np.ndarray]  # enterprise code -> institution rows it has outcomes with

    @classmethod
    def build(cls, outcomes: pd.DataFrame | None, problems: pd.DataFrame | None, catalogue: Catalogue, *,
              as_of: object = None, popular: int = 10, popular_sector: int = 6) -> CaseHistory:
        """Keep what was recorded strictly before ``as_of`` (everything when None).

        ``problems``: problem_id, enterprise_id, region, sector, amount, text of the outcomes' problems (others
        are ignored; outcomes of unknown problems count without district, sector, amount or text)."""
        n_inst = len(catalogue)
        frame = _outcome_frame(outcomes, problems, catalogue, as_of)
        taken = frame[frame["taken"]]
        cases = (taken.sort_values("time", kind="stable").drop_duplicates(["problem_id", "institution_row"])
                 .reset_index(drop=True))
        inst = cases["institution_row"].to_numpy(dtype=np.int64)
        region = cases["region"].to_numpy(dtype=np.int64) + 1
        sector = cases["sector"].to_numpy(dtype=np.int64) + 1
        times = cases["time"].to_numpy(dtype=np.int64)
        n_regions, n_sectors = len(catalogue.regions), len(SECTORS)
        r1, s1 = n_regions + 1, n_sectors + 1
        amounts = np.log1p(cases["amount"].to_numpy(dtype=np.float64))
        known_amount = ~np.isnan(amounts)
        codes = {name: i for i, name in enumerate(pd.unique(frame["enterprise_id"].dropna().astype(str)))}
        enterprise = frame["enterprise_id"].map(codes)
        with_enterprise = frame[enterprise.notna().to_numpy()]
        pair_keys = (enterprise.dropna().to_numpy(dtype=np.int64) * n_inst
                     + with_enterprise["institution_row"].to_numpy(dtype=np.int64))
        partners = (pd.Series(with_enterprise["institution_row"].to_numpy(dtype=np.int64))
                    .groupby(enterprise.dropna().to_numpy(dtype=np.int64)).unique())
        now = as_seconds([pd.Timestamp.now(tz="UTC") if as_of is None else as_of])[0]
        return cls(
            n_institutions=n_inst, as_of=int(now), n_regions=n_regions, cases=len(cases),
            everyone=_Timeline(np.zeros(len(cases), dtype=np.int64), times),
            institution=_Timeline(inst, times),
            region=_Timeline(region, times),
            institution_region=_Timeline(inst * r1 + region, times),
            sector=_Timeline(sector, times),
            institution_sector=_Timeline(inst * s1 + sector, times),
            region_sector=_Timeline(region * s1 + sector, times),
            institution_region_sector=_Timeline((inst * r1 + region) * s1 + sector, times),
            amount=_Timeline(inst[known_amount], times[known_amount], amounts[known_amount]),
            enterprise_pairs=_Timeline(pair_keys, with_enterprise["time"].to_numpy(dtype=np.int64),
                                       with_enterprise["gain"].to_numpy(dtype=np.float64)),
            enterprise_codes=codes,
            texts=CaseTexts(cases["text"].fillna("").astype(str).tolist(), inst, times, region, n_inst),
            popular=_most_cases(inst, region, r1, n_inst, popular),
            popular_sector=_most_cases(inst, region * s1 + sector, r1 * s1, n_inst, popular_sector),
            partners={int(code): rows.astype(np.int64) for code, rows in partners.items()},
        )

    # -- candidates ----------------------------------------------------------------------------------------
    def enterprise_code(self, enterprise_ids: np.ndarray) -> np.ndarray:
        """Each enterprise's code (-1: no outcome kept)."""
        codes = self.enterprise_codes
        return np.array([codes.get(str(e), -1) if e is not None and e == e else -1 for e in enterprise_ids],
                        dtype=np.int64)

    def candidate_rows(self, region: np.ndarray, sector: np.ndarray, enterprise: np.ndarray, *, popular: int,
                       popular_sector: int) -> tuple[np.ndarray, np.ndarray]:
        """(local problem index, institution row) of the history's candidates of each problem: the district's
        ``popular`` busiest institutions, the district's and sector's ``popular_sector``, and the enterprise's
        partners (unfiltered)."""
        s1 = len(SECTORS) + 1
        region1 = np.clip(region + 1, 0, self.n_regions)
        by_region = self.popular[region1, :popular]
        by_sector = self.popular_sector[region1 * s1 + np.clip(sector + 1, 0, s1 - 1), :popular_sector]
        both = np.concatenate([by_region, by_sector], axis=1) if by_sector.shape[1] else by_region
        local = np.broadcast_to(np.arange(len(region))[:, None], both.shape)
        keep = both >= 0
        locals_, rows = [local[keep]], [both[keep]]
        for position in np.flatnonzero(enterprise >= 0):
            found = self.partners.get(int(enterprise[position]))
            if found is not None:
                locals_.append(np.full(len(found), position, dtype=np.int64))
                rows.append(found)
        return np.concatenate(locals_).astype(np.int64), np.concatenate(rows).astype(np.int64)

    # -- features ------------------------------------------------------------------------------------------
    def features(self, problems: PreparedProblems, problem_rows: np.ndarray, institution_rows: np.ndarray, *,
                 region: np.ndarray, sector: np.ndarray, amount: np.ndarray, enterprise: np.ndarray,
                 times: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``HISTORY_FEATURES`` of pairs ``(problem_rows[j], institution_rows[j])`` of ``problems``;
        ``region``, ``sector`` (positions, -1 unknown), ``amount`` and
        ``enterprise`` (``enterprise_code``) are given per pair. ``times``: per pair, seconds since 1800
        (``as_seconds``); None counts everything kept, as of the history's own time."""
        p, i = np.asarray(problem_rows, dtype=np.int64), np.asarray(institution_rows, dtype=np.int64)
        n = len(p)
        at = np.full(n, NEVER, dtype=np.int64) if times is None else np.asarray(times, dtype=np.int64)
        now = np.where(at == NEVER, self.as_of, at)
        window = np.maximum(now - RECENT_DAYS * _DAY, 0)
        r1, s1 = self.n_regions + 1, len(SECTORS) + 1
        reg = np.clip(np.asarray(region, dtype=np.int64) + 1, 0, self.n_regions)
        sec = np.clip(np.asarray(sector, dtype=np.int64) + 1, 0, s1 - 1)
        zero = np.zeros(n, dtype=np.int64)
        n_all = self.everyone.count(zero, at)
        n_inst = self.institution.count(i, at)
        recent_all = self.everyone.count(zero, at, window)
        recent_inst = self.institution.count(i, at, window)
        n_region = self.region.count(reg, at)
        n_inst_region = self.institution_region.count(i * r1 + reg, at)
        recent_region = self.region.count(reg, at, window)
        recent_inst_region = self.institution_region.count(i * r1 + reg, at, window)
        first, last, _ = self.institution.ends(i, at)
        amount_n = self.amount.count(i, at)
        mean_amount = np.where(amount_n > 0, self.amount.total(i, at) / np.maximum(amount_n, 1), np.nan)
        code = np.asarray(enterprise, dtype=np.int64)
        pair_key = np.where(code >= 0, code * self.n_institutions + i, -1)
        enterprise_n = self.enterprise_pairs.count(pair_key, at)
        _, _, last_gain = self.enterprise_pairs.ends(pair_key, at)
        text = self.texts.features(problems.tokens, p, i, reg, times)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "history_cases_log": np.log1p(n_inst),
                "history_share": n_inst / np.maximum(n_all, 1.0),
                "history_recent_share": recent_inst / np.maximum(recent_all, 1.0),
                "history_days_since_last_log": _days_log(now, last),
                # how long the institution has served: young with few cases is growing, old with few is fading
                "history_days_since_first_log": _days_log(now, first),
                "history_region_share": n_inst_region / (n_region + 1.0),
                "history_region_cases_log": np.log1p(n_inst_region),
                "history_region_recent_share": recent_inst_region / (recent_region + 1.0),
                "history_sector_share": self.institution_sector.count(i * s1 + sec, at)
                / (self.sector.count(sec, at) + 1.0),
                "history_region_sector_share": self.institution_region_sector.count((i * r1 + reg) * s1 + sec, at)
                / (self.region_sector.count(reg * s1 + sec, at) + 1.0),
                "history_amount_gap": np.abs(np.log1p(np.asarray(amount, dtype=np.float64)) - mean_amount),
                **text,
                "enterprise_outcomes_log": np.log1p(enterprise_n),
                "enterprise_last_gain": last_gain,
            }


def _outcome_frame(outcomes: pd.DataFrame | None, problems: pd.DataFrame | None, catalogue: Catalogue,
                   as_of: object) -> pd.DataFrame:
    """Outcomes kept (recorded before ``as_of``, known institution), with each problem's context as codes."""
    columns = ["problem_id", "institution_row", "time", "taken", "gain", "enterprise_id", "region", "sector",
               "amount", "text"]
    if outcomes is None or len(outcomes) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}).astype(
            {"institution_row": np.int64, "time": np.int64, "taken": bool, "gain": np.float64, "region": np.int64,
             "sector": np.int64, "amount": np.float64})
    frame = pd.DataFrame({
        "problem_id": outcomes["problem_id"].astype(str).to_numpy(),
        "institution_row": outcomes["institution_id"].astype(str).map(catalogue.position).to_numpy(),
        "time": as_seconds(outcomes["recorded_at"]),
        "status": outcomes["status"].astype(str).to_numpy(),
    })
    frame = frame[frame["institution_row"].notna().to_numpy()]
    if as_of is not None:
        frame = frame[frame["time"].to_numpy() < as_seconds([as_of])[0]]
    frame = frame.astype({"institution_row": np.int64})
    frame["taken"] = frame["status"].isin(TAKEN_UP_STATUSES).to_numpy()
    frame["gain"] = frame["status"].map(STATUS_GAIN).astype(np.float64).to_numpy()
    context = pd.DataFrame({"problem_id": pd.Series(dtype=str)})
    if problems is not None and len(problems):
        context = pd.DataFrame({
            "problem_id": problems["problem_id"].astype(str).to_numpy(),
            "enterprise_id": _column(problems, "enterprise_id"),
            "region": pd.Series(_column(problems, "region")).map(catalogue.region_positions).fillna(-1).to_numpy(),
            "sector": pd.Series(_column(problems, "sector")).map(_SECTOR_POSITIONS).fillna(-1).to_numpy(),
            "amount": pd.to_numeric(pd.Series(_column(problems, "amount")), errors="coerce").to_numpy(),
            "text": _column(problems, "text"),
        }).drop_duplicates("problem_id")
    frame = frame.merge(context, on="problem_id", how="left")
    for column, missing in (("region", -1), ("sector", -1)):
        frame[column] = frame[column].fillna(missing).astype(np.int64) if column in frame else missing
    for column in ("enterprise_id", "amount", "text"):
        if column not in frame:
            frame[column] = np.nan
    frame["enterprise_id"] = frame["enterprise_id"].where(frame["enterprise_id"].notna(), None)
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce")
    return frame.reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=object) if name in frame else np.full(len(frame), None, dtype=object)


def _days_log(now: np.ndarray, then: np.ndarray) -> np.ndarray:
    days = (now - then) / _DAY
    return np.where(then >= 0, np.log1p(np.clip(days, 0, None)), np.nan)


def _most_cases(institutions: np.ndarray, keys: np.ndarray, n_keys: int, n_institutions: int, top: int
                ) -> np.ndarray:
    """Per key, the ``top`` institutions with most cases under it (ties: lower row first), -1 padded."""
    table = np.full((n_keys, top), -1, dtype=np.int64)
    if top <= 0 or len(institutions) == 0:
        return table
    counts = pd.DataFrame({"key": keys, "row": institutions}).value_counts().rename("n").reset_index()
    counts = counts.sort_values(["key", "n", "row"], ascending=[True, False, True], kind="stable")
    counts["rank"] = counts.groupby("key").cumcount()
    counts = counts[counts["rank"] < top]
    table[counts["key"].to_numpy(dtype=np.int64), counts["rank"].to_numpy(dtype=np.int64)] = counts["row"].to_numpy()
    return table
