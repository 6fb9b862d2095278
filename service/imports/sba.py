"""SBA 7(a) loan records -> smematch's four tables.

Input: the SBA FOIA loan file (``SBAnational*.csv``: one row per loan, a business and the lender that served it)
and the NAICS 2017 descriptions. Output (``import_sba``): enterprises (the business: NAICS sector, state as the
region, employees), problems (a text from the industry title and definition and what the record says the loan
is for; the gross approved amount; the approval date), institutions (one per lender name and lender state; kind
from the name; regions = the lender's state and the states it served; a profile of what it served before the
profile cut-off only) and outcomes (``MIS_Status``: ``P I F`` -> solved, ``CHGOFF`` -> failed, blank ->
accepted).

Leakage rule: ``Term``, ``ChgOffDate``, ``ChgOffPrinGr`` and ``MIS_Status`` describe what happened after the
loan. They are read only to write the outcome (its status and the time it became known: the charge-off date, or
approval plus term for a loan paid in full, an upper bound) and never reach enterprises, problems or profiles.
``DisbursementDate``/``DisbursementGross`` are not read at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from service.imports.naics import NaicsTable, read_naics, sector_of, state_name
from service.imports.output import ImportSummary, Skipped, finish_import, staged_outcomes
from service.imports.profiles import amount_phrase, counted, years_phrase
from service.imports.sources import money, read_source, resolve_file

__all__ = ["import_sba", "sba_frames", "SBA_FILE", "NAICS_FILE", "REQUIRED", "POST_LOAN", "DEFAULT_PROFILE_UNTIL",
           "lender_kind"]

SBA_FILE = "SBAnational_head.csv"
NAICS_FILE = "2017_NAICS_Descriptions.csv"
REQUIRED = ("LoanNr_ChkDgt", "Name", "City", "State", "Bank", "BankState", "NAICS", "ApprovalDate", "NoEmp",
            "NewExist", "UrbanRural", "RevLineCr", "LowDoc", "GrAppv", "MIS_Status", "ChgOffDate", "Term")
OPTIONAL = ("FranchiseCode", "CreateJob", "RetainedJob")
POST_LOAN = ("Term", "ChgOffDate", "ChgOffPrinGr", "MIS_Status")
# The first day of fiscal year 2005: the README asks for a split by ApprovalFY; FY2005 began on 2004-10-01.
DEFAULT_PROFILE_UNTIL = "2004-10-01"
STATUS = {"P I F": "solved", "CHGOFF": "failed"}

_GUARANTEE = re.compile(r"\bSBA\b|SMALL BUSINESS ADMIN|FEDERAL DEPOSIT|\bFDIC\b|CLOSED LENDERS|UNIDENTIFIED LENDER")
_BANK = re.compile(r"BANK|\bBANC|\bBK\b|\bNATL\b|NATIONAL ASSOC|\bN\.A\.|SAVING|\bS&L\b|\bFSB\b|TRUST\b|\bTR\b|"
                   r"CREDIT UNION|\bF?CU\b|A BRANCH OF|A DIVISION OF")
_DEVELOPMENT = re.compile(r"DEVEL|ECONOMIC|COMMUN|CERT\.|\b504\b|ACCION|VENTURES|LOAN FUND|RURAL|GROWTH")


def lender_kind(name: str) -> tuple[str, str]:
    """(kind, phrase) from a lender's name: a guarantee agency, a bank, or a non-bank small-loan lender."""
    upper = name.upper()
    if _GUARANTEE.search(upper):
        return "guarantee", "loan held by a federal agency (SBA, the 7(a) guarantor, or the FDIC)"
    if _BANK.search(upper):
        return "bank", "bank (commercial bank, savings institution or credit union)"
    if _DEVELOPMENT.search(upper):
        return "microcredit", "development lender (certified development company, CDFI or community lender)"
    return "microcredit", "non-bank small business lender (small business lending company)"


def _dates(values: pd.Series) -> pd.Series:
    """``2/28/1997`` (this file) or ``28-Feb-97`` (the Kaggle original); two-digit years in the future -100y."""
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce").astype("datetime64[ns]")
    other = pd.to_datetime(text, format="%d-%b-%y", errors="coerce").astype("datetime64[ns]")
    other = other.where(other.dt.year <= pd.Timestamp.now().year, other - pd.DateOffset(years=100))
    return parsed.fillna(other)


def _whole(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype(str).str.strip(), errors="coerce")


def _problem_text(row: dict, naics: NaicsTable) -> str:
    entry = naics.lookup(row["NAICS"])
    industry = f"{entry.title} business (NAICS {entry.code})" if entry else "A business (industry not recorded)"
    place = ", ".join(p for p in (row["City"].strip().title(), state_name(row["State"])) if p)
    setting = {"1": ", an urban area", "2": ", a rural area"}.get(row["UrbanRural"].strip(), "")
    age = {"1": "an existing business", "2": "a new business"}.get(row["NewExist"].strip(), "a business")
    staff = f" with {int(row['employees'])} employees" if row["employees"] > 0 else ""
    franchise = ", a franchise" if row["FranchiseCode"].strip() not in ("", "0", "1") else ""
    kind = {"Y": " as a revolving line of credit", "N": " as a term loan"}.get(row["RevLineCr"].strip(), "")
    lowdoc = ", under the LowDoc (low documentation) programme" if row["LowDoc"].strip() == "Y" else ""
    jobs = []
    if row["create"] > 0:
        jobs.append(f"create {int(row['create'])} jobs")
    if row["retain"] > 0:
        jobs.append(f"retain {int(row['retain'])} jobs")
    purpose = f", to {' and '.join(jobs)}" if jobs else ""
    text = (f"{industry} in {place}{setting}: {age}{staff}{franchise}. "
            f"Asks for a ${row['amount']:,.0f} SBA 7(a) loan{kind}{lowdoc}{purpose}.")
    if entry and entry.definition:
        text += f" Industry: {entry.definition}"
    return text[:4000]


def sba_frames(raw: pd.DataFrame, naics: NaicsTable, *, profile_until: pd.Timestamp,
               skipped: Skipped | None = None) -> dict[str, pd.DataFrame]:
    """The four tables from the raw loan rows (text cells). Rows without a usable date, amount or state are
    left out (counted in ``skipped``); a row without a lender keeps its enterprise and problem, no outcome."""
    skipped = skipped if skipped is not None else Skipped()
    frame = raw.copy()
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = ""
    frame["approved"] = _dates(frame["ApprovalDate"])
    frame["amount"] = money(frame["GrAppv"])
    frame["employees"] = _whole(frame["NoEmp"]).fillna(0).clip(lower=0)
    frame["create"] = _whole(frame["CreateJob"]).fillna(0)
    frame["retain"] = _whole(frame["RetainedJob"]).fillna(0)
    frame["State"] = frame["State"].str.strip().str.upper()
    frame["loan"] = frame["LoanNr_ChkDgt"].str.strip()
    bad = skipped.add(frame["approved"].isna(), "ApprovalDate is not a date")
    bad |= skipped.add(~bad & ~(frame["amount"] >= 0), "GrAppv is not an amount")
    bad |= skipped.add(~bad & (frame["State"] == ""), "State is empty")
    bad |= skipped.add(~bad & ((frame["loan"] == "") | frame["loan"].duplicated()), "LoanNr_ChkDgt empty or repeated")
    frame = frame[~bad].reset_index(drop=True)

    year = frame["approved"].dt.year
    existing = frame["NewExist"].str.strip() == "1"
    enterprises = pd.DataFrame({
        "enterprise_id": "E" + frame["loan"],
        "name": frame["Name"].str.strip().replace("", "(no name recorded)"),
        "sector": frame["NAICS"].map(sector_of),
        "region": frame["State"],
        "employees": frame["employees"].astype("int64"),
        "annual_revenue": np.nan,
        # The contract needs a year; the record only says new (< 2 years) or existing: a lower bound on age.
        "founded": (year - np.where(existing, 2, 0)).astype("int64"),
    })
    records = frame[["NAICS", "City", "State", "UrbanRural", "NewExist", "employees", "FranchiseCode", "RevLineCr",
                     "LowDoc", "create", "retain", "amount"]].to_dict("records")
    problems = pd.DataFrame({
        "problem_id": "P" + frame["loan"],
        "enterprise_id": enterprises["enterprise_id"],
        "text": [_problem_text(row, naics) for row in records],
        "amount": frame["amount"],
        "stated_at": frame["approved"],
    })
    institutions, lender_ids = _lenders(frame, naics, profile_until)
    served = lender_ids.notna()
    outcomes = _outcomes(frame[served], lender_ids[served])
    return {"enterprises": enterprises, "problems": problems, "institutions": institutions, "outcomes": outcomes}


def _lenders(frame: pd.DataFrame, naics: NaicsTable, profile_until: pd.Timestamp) -> tuple[pd.DataFrame, pd.Series]:
    """One institution per (lender name, lender state); its profile from loans approved before the cut-off."""
    name = frame["Bank"].str.strip()
    home = frame["BankState"].str.strip().str.upper()
    keys = pd.DataFrame({"name": name, "home": home})[name != ""].drop_duplicates()
    keys = keys.sort_values(["name", "home"]).reset_index(drop=True)
    keys["institution_id"] = [f"L{n:05d}" for n in range(1, len(keys) + 1)]
    lookup = dict(zip(keys["name"] + "|" + keys["home"], keys["institution_id"], strict=True))
    lender_ids = (name + "|" + home).map(lookup).where(name != "", None)
    history = frame.assign(institution_id=lender_ids)[(frame["approved"] < profile_until) & lender_ids.notna()]
    titles = history["NAICS"].map(lambda code: (e := naics.lookup(code)) and f"{e.title} (NAICS {e.code})")
    history = history.assign(industry=titles, sector=history["NAICS"].map(sector_of))
    groups = dict(tuple(history.groupby("institution_id")))
    repeated = keys["name"].duplicated(keep=False)
    rows = []
    for institution_id, lender, state, twin in zip(keys["institution_id"], keys["name"], keys["home"], repeated,
                                                   strict=True):
        kind, phrase = lender_kind(lender)
        past = groups.get(institution_id)
        shown = f"{lender} ({state})" if twin and state else lender
        where = f" based in {state_name(state)}" if state else ""
        text = f"{shown}: {phrase}{where}. SBA 7(a) lender."
        regions = {state} if state else set()
        capacity = 1
        if past is None or past.empty:
            text += f" No SBA 7(a) loans on record before {profile_until.date().isoformat()}."
        else:
            regions |= set(past["State"])
            capacity = int(past["approved"].dt.to_period("M").value_counts().max())
            states = counted(past["State"].map(state_name), 12)
            text += (f" {len(past)} loans approved {years_phrase(past['approved'])}, "
                     f"{amount_phrase(past['amount'].to_numpy())}. Businesses in {states}. "
                     f"Industries: {counted(past['industry'], 12) or 'not recorded'}. "
                     f"Sectors: {counted(past['sector'].str.replace('_', ' '), 5)}.")
        rows.append({"institution_id": institution_id, "name": shown, "kind": kind, "description": text[:5000],
                     "sectors": "", "regions": ";".join(sorted(regions)), "min_amount": np.nan,
                     "max_amount": np.nan, "capacity": capacity, "active": True})
    return pd.DataFrame(rows), lender_ids


def _outcomes(frame: pd.DataFrame, lender_ids: pd.Series) -> pd.DataFrame:
    """Per served loan, the stages as outcomes: ``accepted`` when approved (the lender took the case up), then
    how it ended (paid in full: ``solved``; charged off: ``failed``) when that became known, at maturity or
    charge-off (never before approval). A loan with no recorded end stays ``accepted``."""
    status = frame["MIS_Status"].str.strip().map(STATUS).fillna("accepted")
    months = _whole(frame["Term"]).fillna(0).clip(lower=0).astype("int64")
    matured = (frame["approved"] + pd.to_timedelta(months * 30.436875, unit="D")).astype("datetime64[ns]")
    charged_off = _dates(frame["ChgOffDate"]).fillna(matured)
    recorded = frame["approved"].where(status == "accepted", matured.where(status == "solved", charged_off))
    recorded = recorded.dt.normalize()
    recorded = recorded.where(recorded >= frame["approved"], frame["approved"])
    ended = pd.DataFrame({
        "outcome_id": "O" + frame["loan"],
        "problem_id": "P" + frame["loan"],
        "institution_id": lender_ids.astype(str),
        "status": status,
        "amount": frame["amount"],
        "recorded_at": recorded,
        "recorded_by": "SBA 7(a) FOIA records",
    })
    return staged_outcomes(ended, frame["approved"].dt.normalize())


def import_sba(path: str | Path, out: str | Path, *, naics_path: str | Path | None = None,
               profile_until: str | None = None) -> ImportSummary:
    """Read the loan file (or a folder holding ``SBAnational_head.csv``) and write the four tables to ``out``.

    ``naics_path`` defaults to ``../naics_2017/2017_NAICS_Descriptions.csv`` beside the loan file's folder.
    """
    source = resolve_file(Path(path), SBA_FILE, "the SBA 7(a) loan file")
    naics_file = Path(naics_path) if naics_path else source.parent.parent / "naics_2017" / NAICS_FILE
    naics = read_naics(resolve_file(naics_file, NAICS_FILE, "the NAICS 2017 descriptions table (--naics)"))
    raw = read_source(source, REQUIRED, what="the SBA 7(a) loan file")
    until = pd.Timestamp(profile_until or DEFAULT_PROFILE_UNTIL)
    skipped = Skipped()
    frames = sba_frames(raw, naics, profile_until=until, skipped=skipped)
    no_lender = int((raw["Bank"].str.strip() == "").sum())
    notes = [
        f"institution profiles use loans approved before {until.date().isoformat()} only",
        "founded is approval year for new businesses, approval year - 2 for existing ones (a lower bound)",
        "Term, ChgOffDate, ChgOffPrinGr, MIS_Status only set outcomes (status, time known); never features",
    ]
    if no_lender:
        notes.append(f"{no_lender} loans name no lender: enterprise and problem kept, no outcome")
    _, summary = finish_import(frames, out, dataset="sba", source=source, profile_until=until,
                               rows_read=len(raw), skipped=skipped, notes=notes)
    return summary
