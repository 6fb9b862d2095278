"""Kiva micro-loans -> smematch's four tables.

Input: a Kiva loans file (``kiva_sample_a.csv``: one loan a row with the borrower's stated ``use``, ``activity``,
``sector``, ``country``, ``region``, the amount asked, the field partner and the posting and funding times) and,
optionally, the partner names of 2013 (``kiva_partner_names_2013.csv``; partners created later are not in it).
Output (``import_kiva``): enterprises (the borrower; Kiva sector -> our sectors; the country as the region),
problems (the use, activity, sector and place as text; the loan amount; posted time), institutions (one per field
partner, kind microcredit; regions = the countries it lent in before the profile cut-off; a profile of its
earlier loans only) and outcomes (funded -> solved at the funding time; not funded -> failed, recorded when the
listing had surely expired).

Leakage rule: ``funded_amount``, ``funded_time``, ``lender_count`` and ``tags`` (lenders add tags after posting)
describe what happened after the loan was posted; only the outcome reads the first two. ``disbursed_time`` is
usually before posting (partners pre-disburse), so it cannot be the outcome time: a loan's own outcome would
count in its own track record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from service.imports.output import ImportSummary, Skipped, finish_import, staged_outcomes
from service.imports.profiles import amount_phrase, counted, years_phrase
from service.imports.sources import money, read_source, resolve_file

__all__ = ["import_kiva", "kiva_frames", "KIVA_FILE", "PARTNER_FILE", "REQUIRED", "POST_LOAN",
           "DEFAULT_PROFILE_UNTIL", "kiva_sector"]

KIVA_FILE = "kiva_sample_a.csv"
PARTNER_FILE = "kiva_partner_names_2013.csv"
REQUIRED = ("id", "loan_amount", "activity", "sector", "use", "country", "region", "partner_id", "posted_time",
            "funded_time")
PARTNER_COLUMNS = ("partner_id", "partner_name")
POST_LOAN = ("funded_amount", "funded_time", "lender_count", "tags")
DEFAULT_PROFILE_UNTIL = "2016-01-01"
# An unfunded listing's failure is recorded this long after posting: later than any funded loan of the records
# was funded, so the listing has surely expired.
EXPIRY_DAYS = 90

_SECTORS = {
    "agriculture": "agriculture", "arts": "manufacturing", "clothing": "wholesale_retail",
    "construction": "construction", "food": "wholesale_retail", "manufacturing": "manufacturing",
    "retail": "wholesale_retail", "wholesale": "wholesale_retail", "transportation": "transport_warehousing_postal",
    "housing": "real_estate_property",
}
_ACTIVITY_SECTORS = {"restaurant": "catering_accommodation", "cafe": "catering_accommodation",
                     "food stall": "catering_accommodation", "catering": "catering_accommodation",
                     "hotel": "catering_accommodation", "internet cafe": "information_services",
                     "computers": "information_services", "phone use sales": "information_services"}


def kiva_sector(sector: str, activity: str) -> str:
    """One of SECTORS for a Kiva sector and activity (an activity such as ``Restaurant`` is more precise)."""
    return _ACTIVITY_SECTORS.get(activity.strip().lower()) or _SECTORS.get(sector.strip().lower(), "other")


def _times(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values.astype(str).str.strip(), errors="coerce", utc=True, format="ISO8601")
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None)


def _clean(values: pd.Series) -> pd.Series:
    return values.astype(str).str.replace(r"\s+", " ", regex=True).str.strip(" .\t")


def _problem_text(use: str, activity: str, sector: str, region: str, country: str) -> str:
    need = use[0].upper() + use[1:] if use else f"A loan for {activity or sector or 'a small business'}"
    kind = "; ".join(p for p in (activity, sector) if p)
    place = ", ".join(p for p in (region, country) if p)
    return f"{need} ({kind}) in {place}."[:4000]


def kiva_frames(raw: pd.DataFrame, partners: pd.DataFrame | None, *, profile_until: pd.Timestamp,
                skipped: Skipped | None = None) -> dict[str, pd.DataFrame]:
    """The four tables from the raw loans (text cells); loans without a posting time or amount are left out."""
    skipped = skipped if skipped is not None else Skipped()
    frame = raw.copy()
    frame["posted"] = _times(frame["posted_time"])
    frame["funded"] = _times(frame["funded_time"])
    frame["amount"] = money(frame["loan_amount"])
    frame["loan"] = frame["id"].str.strip()
    partner = pd.to_numeric(frame["partner_id"].str.strip(), errors="coerce")
    frame["partner"] = partner.map(lambda p: f"K{int(p)}" if np.isfinite(p) else None)
    for column in ("use", "activity", "sector", "region", "country"):
        frame[column] = _clean(frame[column])
    bad = skipped.add(frame["posted"].isna(), "posted_time is not a time")
    bad |= skipped.add(~bad & ~(frame["amount"] >= 0), "loan_amount is not an amount")
    bad |= skipped.add(~bad & (frame["country"] == ""), "country is empty")
    bad |= skipped.add(~bad & ((frame["loan"] == "") | frame["loan"].duplicated()), "id empty or repeated")
    frame = frame[~bad].reset_index(drop=True)

    enterprises = pd.DataFrame({
        "enterprise_id": "E" + frame["loan"],
        "name": "Kiva borrower " + frame["loan"],
        "sector": [kiva_sector(s, a) for s, a in zip(frame["sector"], frame["activity"], strict=True)],
        "region": frame["country"],
        "employees": 1,  # the borrower; Kiva records no headcount
        "annual_revenue": np.nan,
        "founded": frame["posted"].dt.year.astype("int64"),  # unknown: age 0
    })
    problems = pd.DataFrame({
        "problem_id": "P" + frame["loan"],
        "enterprise_id": enterprises["enterprise_id"],
        "text": [_problem_text(*row) for row in zip(frame["use"], frame["activity"], frame["sector"],
                                                     frame["region"], frame["country"], strict=True)],
        "amount": frame["amount"],
        "stated_at": frame["posted"],
    })
    institutions = _partners(frame, partners, profile_until)
    served = frame[frame["partner"].notna()]
    funded = served["funded"].notna()
    granted = money(served["funded_amount"]) if "funded_amount" in served else served["amount"]
    outcomes = pd.DataFrame({
        "outcome_id": "O" + served["loan"],
        "problem_id": "P" + served["loan"],
        "institution_id": served["partner"].astype(str),
        "status": np.where(funded, "solved", "failed"),
        "amount": granted.where(granted >= 0),
        "recorded_at": served["funded"].where(funded, served["posted"] + pd.Timedelta(days=EXPIRY_DAYS)),
        "recorded_by": "Kiva",
    })
    outcomes["recorded_at"] = outcomes["recorded_at"].where(outcomes["recorded_at"] >= served["posted"],
                                                            served["posted"])
    # The field partner took the case up when it posted the loan; funding (or expiry) ended it.
    outcomes = staged_outcomes(outcomes, served["posted"])
    return {"enterprises": enterprises, "problems": problems, "institutions": institutions, "outcomes": outcomes}


def _partners(frame: pd.DataFrame, partners: pd.DataFrame | None, profile_until: pd.Timestamp) -> pd.DataFrame:
    known = {} if partners is None else {
        f"K{int(float(p))}": row for p, row in zip(partners["partner_id"], partners.to_dict("records"), strict=True)
        if str(p).strip().replace(".", "", 1).isdigit()
    }
    ids = sorted(frame["partner"].dropna().unique(), key=lambda i: int(i[1:]))
    history = frame[frame["posted"] < profile_until]
    groups = dict(tuple(history.groupby("partner")))
    rows = []
    for institution_id in ids:
        info = known.get(institution_id, {})
        name = str(info.get("partner_name", "")).strip() or f"Kiva field partner {institution_id[1:]}"
        facts = [f"{k.replace('_2013', '').replace('_', ' ')} {info[k]} in 2013"
                 for k in ("risk_rating_2013", "portfolio_yield_2013") if str(info.get(k, "")).strip()]
        text = f"{name}: Kiva field partner (microfinance institution){'; ' if facts else ''}{'; '.join(facts)}."
        past = groups.get(institution_id)
        regions: list[str] = []
        if past is None or past.empty:
            text += f" No Kiva loans on record before {profile_until.date().isoformat()}."
        else:
            regions = sorted(set(past["country"]))
            uses = past["use"].str.lower()
            text += (f" Lends in {counted(past['country'])}; regions: {counted(past['region'], 12)}. "
                     f"{len(past)} loans posted {years_phrase(past['posted'])}, "
                     f"{amount_phrase(past['amount'].to_numpy())}. Activities: {counted(past['activity'], 12)}. "
                     f"Sectors: {counted(past['sector'], 8)}. Typical uses: {counted(uses, 6)}.")
        capacity = 1 if past is None or past.empty else int(past["posted"].dt.to_period("M").value_counts().max())
        rows.append({"institution_id": institution_id, "name": name, "kind": "microcredit",
                     "description": text[:5000], "sectors": "", "regions": ";".join(regions),
                     "min_amount": np.nan, "max_amount": np.nan, "capacity": capacity, "active": True})
    return pd.DataFrame(rows, columns=["institution_id", "name", "kind", "description", "sectors", "regions",
                                       "min_amount", "max_amount", "capacity", "active"])


def import_kiva(path: str | Path, out: str | Path, *, partners_path: str | Path | None = None,
                profile_until: str | None = None) -> ImportSummary:
    """Read the loans file (or a folder holding ``kiva_sample_a.csv``) and write the four tables to ``out``.

    ``partners_path`` defaults to ``kiva_partner_names_2013.csv`` beside the loans file; without it partners
    are named by their id.
    """
    source = resolve_file(Path(path), KIVA_FILE, "the Kiva loans file")
    raw = read_source(source, REQUIRED, what="the Kiva loans file")
    partner_file = Path(partners_path) if partners_path else source.parent / PARTNER_FILE
    partners = None
    notes = []
    if partners_path or partner_file.is_file():
        partners = read_source(resolve_file(partner_file, PARTNER_FILE, "the Kiva partner names (--partners)"),
                               PARTNER_COLUMNS, what="the Kiva partner names")
    else:
        notes.append("no partner names file: partners are named by their id")
    until = pd.Timestamp(profile_until or DEFAULT_PROFILE_UNTIL)
    skipped = Skipped()
    frames = kiva_frames(raw, partners, profile_until=until, skipped=skipped)
    named = frames["institutions"]["name"].str.startswith("Kiva field partner ").sum()
    notes += [
        f"institution profiles use loans posted before {until.date().isoformat()} only",
        f"{named} of {len(frames['institutions'])} partners are missing from the partner names file",
        "funded_amount, funded_time, lender_count, tags only set outcomes or are not read; never features",
    ]
    _, summary = finish_import(frames, out, dataset="kiva", source=source, profile_until=until,
                               rows_read=len(raw), skipped=skipped, notes=notes)
    return summary
