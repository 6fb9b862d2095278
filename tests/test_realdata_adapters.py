"""The SBA 7(a) and Kiva adapters on the real files: valid tables, faithful fields, no post-loan column in them,
and clear messages for files that are not what the command expects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.tables.files import read_import_manifest, read_tables
from service.cli import app
from service.imports.kiva import POST_LOAN as KIVA_POST_LOAN
from service.imports.kiva import import_kiva, kiva_frames, kiva_sector
from service.imports.naics import read_naics, sector_of
from service.imports.sba import POST_LOAN as SBA_POST_LOAN
from service.imports.sba import import_sba, lender_kind, sba_frames

# Small cuts of the real files (tests/data/realdata/README.md says which rows and how they were cut).
REALDATA = Path(__file__).resolve().parent / "data" / "realdata"
SBA_FILE = REALDATA / "sba_7a" / "SBAnational_head.csv"
KIVA_FILE = REALDATA / "kiva" / "kiva_sample_a.csv"
NAICS_FILE = REALDATA / "naics_2017" / "2017_NAICS_Descriptions.csv"

SBA_LOANS = 575  # loans in the SBA fixture, 15 of them naming no lender
KIVA_LOANS, KIVA_PARTNERS = 400, 18


def sba_rows(n: int | None = None) -> pd.DataFrame:
    return pd.read_csv(SBA_FILE, dtype=str, keep_default_na=False, nrows=n)


@pytest.fixture(scope="module")
def naics():
    return read_naics(NAICS_FILE)


@pytest.fixture(scope="module")
def sba_tables(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sba_tables")
    summary = import_sba(SBA_FILE, out, naics_path=NAICS_FILE, profile_until="2004-10-01")
    return summary, read_tables(out), out


def test_naics_file_with_a_byte_order_mark_reads_with_clean_codes_and_titles(naics) -> None:
    assert naics.lookup("11").title == "Agriculture, Forestry, Fishing and Hunting"
    assert naics.lookup("111110").title == "Soybean Farming"  # the footnote 'T' is gone
    assert naics.lookup("722511").definition.startswith("This U.S. industry comprises establishments")


def test_older_naics_codes_fall_back_to_the_longest_prefix_that_still_exists(naics) -> None:
    entry = naics.lookup("722110")  # a 1997 code NAICS 2017 no longer has
    assert entry is not None and "722110".startswith(entry.code) and len(entry.code) < 6
    assert naics.lookup("421610").code in ("42", "421")
    assert naics.lookup("0") is None and naics.lookup("") is None


def test_naics_codes_map_onto_our_ten_sectors() -> None:
    assert sector_of("722511") == "catering_accommodation"
    assert sector_of("541511") == "information_services"
    assert sector_of("311811") == "manufacturing"
    assert sector_of("0") == "other"


@pytest.mark.parametrize(("name", "kind"), [
    ("BANK OF AMERICA NATL ASSOC", "bank"),
    ("1ST NATL BK & TR CO OF BROKEN", "bank"),
    ("CALIFORNIA STATEWIDE CERT. DEV", "microcredit"),
    ("READYCAP LENDING, LLC", "microcredit"),
    ("SBA - EDF ENFORCEMENT ACTION", "guarantee"),
])
def test_lender_kind_comes_from_the_lenders_name(name: str, kind: str) -> None:
    assert lender_kind(name)[0] == kind


def test_sba_slice_becomes_four_valid_tables(sba_tables) -> None:
    summary, tables, out = sba_tables
    assert (summary.problems, summary.enterprises) == (SBA_LOANS, SBA_LOANS) == (len(sba_rows()),) * 2
    served = SBA_LOANS - (sba_rows()["Bank"].str.strip() == "").sum()
    # every served loan is accepted when approved; those that ended add how (paid in full, charged off)
    accepted = tables.outcomes[tables.outcomes["status"] == "accepted"]
    assert len(accepted) == served == accepted["problem_id"].nunique()
    assert set(tables.outcomes["status"]) <= {"solved", "failed", "accepted"}
    assert len(tables.outcomes) - served == (sba_rows()["MIS_Status"].str.strip().isin(["P I F", "CHGOFF"])
                                             & (sba_rows()["Bank"].str.strip() != "")).sum()
    assert read_import_manifest(out)["profile_until"] == "2004-10-01"
    loan = tables.problems.set_index("problem_id").loc["P1000014003"]
    assert "Hobby, Toy, and Game Stores" in loan["text"] and "Evansville, Indiana" in loan["text"]
    assert loan["amount"] == 60000.0 and loan["stated_at"] == pd.Timestamp("1997-02-28")
    enterprise = tables.enterprises.set_index("enterprise_id").loc["E1000014003"]
    assert (enterprise["region"], enterprise["sector"], enterprise["employees"]) == ("IN", "wholesale_retail", 4)


def test_sba_status_maps_paid_in_full_to_solved_and_charged_off_to_failed(sba_tables) -> None:
    _, tables, _ = sba_tables
    raw = sba_rows().set_index("LoanNr_ChkDgt")
    ended = tables.outcomes[tables.outcomes["status"] != "accepted"]
    status = ended.set_index("outcome_id")["status"]
    mis = raw.loc[status.index.str[1:], "MIS_Status"].to_numpy()
    assert (status[mis == "P I F"] == "solved").all() and (status[mis == "CHGOFF"] == "failed").all()


def test_an_outcome_is_never_recorded_before_its_problem_was_stated(sba_tables, tmp_path: Path) -> None:
    _, tables, _ = sba_tables
    import_kiva(KIVA_FILE, tmp_path)
    for frames in (tables, read_tables(tmp_path)):
        joined = frames.outcomes.merge(frames.problems, on="problem_id")
        assert (joined["recorded_at"] >= joined["stated_at"]).all()


def test_lender_regions_are_its_home_state_and_the_states_it_served_before_the_cutoff(sba_tables) -> None:
    _, tables, _ = sba_tables
    institutions = tables.institutions.set_index("name")
    bofa = institutions.loc["BANK OF AMERICA NATL ASSOC (NC)"] if "BANK OF AMERICA NATL ASSOC (NC)" in \
        institutions.index else institutions.loc["BANK OF AMERICA NATL ASSOC"]
    assert "NC" in bofa["regions"] and len(bofa["regions"]) > 5 and bofa["kind"] == "bank"


def test_post_loan_columns_do_not_reach_enterprises_problems_or_institutions(naics) -> None:
    raw = sba_rows()
    shuffled = raw.copy()
    rng = np.random.default_rng(7)
    for column in SBA_POST_LOAN:
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
    until = pd.Timestamp("2004-10-01")
    original, changed = sba_frames(raw, naics, profile_until=until), sba_frames(shuffled, naics, profile_until=until)
    for table in ("enterprises", "problems", "institutions"):
        pd.testing.assert_frame_equal(original[table], changed[table])
    assert not original["outcomes"]["status"].equals(changed["outcomes"]["status"])  # the shuffle did something


def test_kiva_post_loan_columns_do_not_reach_enterprises_problems_or_institutions() -> None:
    raw = pd.read_csv(KIVA_FILE, dtype=str, keep_default_na=False)
    shuffled = raw.copy()
    for column in KIVA_POST_LOAN:
        shuffled[column] = shuffled[column].sample(frac=1.0, random_state=3).to_numpy()
    until = pd.Timestamp("2016-01-01")
    original, changed = kiva_frames(raw, None, profile_until=until), kiva_frames(shuffled, None, profile_until=until)
    for table in ("enterprises", "problems", "institutions"):
        pd.testing.assert_frame_equal(original[table], changed[table])


def test_institution_profiles_ignore_records_from_the_cutoff_on(naics) -> None:
    raw = sba_rows()
    later = pd.to_datetime(raw["ApprovalDate"], format="%m/%d/%Y") >= pd.Timestamp("2004-10-01")
    assert later.any()
    edited = raw.copy()
    edited.loc[later, "NAICS"] = "111110"
    edited.loc[later, "State"] = "AK"
    until = pd.Timestamp("2004-10-01")
    before = sba_frames(raw, naics, profile_until=until)["institutions"]
    after = sba_frames(edited, naics, profile_until=until)["institutions"]
    pd.testing.assert_frame_equal(before, after)


def test_kiva_file_becomes_valid_tables_with_partner_names_where_known(tmp_path: Path) -> None:
    summary = import_kiva(KIVA_FILE.parent, tmp_path)
    tables = read_tables(tmp_path)
    assert summary.problems == KIVA_LOANS and len(tables.institutions) == KIVA_PARTNERS
    names = tables.institutions.set_index("institution_id")["name"]
    assert not names["K199"].startswith("Kiva field partner")  # named in the 2013 list
    assert names["K311"] == "Kiva field partner 311"  # created after 2013
    assert set(tables.institutions["kind"]) == {"microcredit"}
    assert set(tables.enterprises["region"]) == {"Cambodia", "El Salvador", "Pakistan", "India"}
    text = tables.problems.set_index("problem_id").loc["P1237886", "text"]
    assert text.startswith("To buy a water filter") and "Pursat, Cambodia" in text
    statuses = tables.outcomes["status"].value_counts()
    assert statuses["failed"] == pd.read_csv(KIVA_FILE)["funded_time"].isna().sum()


def test_kiva_sectors_use_the_activity_where_it_is_more_precise() -> None:
    assert kiva_sector("Food", "Restaurant") == "catering_accommodation"
    assert kiva_sector("Food", "Fish Selling") == "wholesale_retail"
    assert kiva_sector("Personal Use", "Home Appliances") == "other"


runner = CliRunner()


def test_cli_imports_both_datasets(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import-real", "sba", str(SBA_FILE), "--out", str(tmp_path / "sba"),
                                 "--naics", str(NAICS_FILE)])
    assert result.exit_code == 0, result.output
    assert f"{SBA_LOANS:,} problems" in result.output
    # counts are printed with thousands separators (the staged outcomes number more than a thousand)
    outcomes = len(read_tables(tmp_path / "sba").outcomes)
    assert outcomes >= 1000 and f"{outcomes:,} outcomes" in " ".join(result.output.split())
    assert f"{outcomes:,}" != str(outcomes)
    result = runner.invoke(app, ["import-real", "kiva", str(KIVA_FILE.parent), "--out", str(tmp_path / "kiva")])
    assert result.exit_code == 0, result.output
    assert read_tables(tmp_path / "kiva").institutions.shape[0] == KIVA_PARTNERS


def test_a_kiva_file_given_as_sba_names_the_missing_sba_columns(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import-real", "sba", str(KIVA_FILE), "--out", str(tmp_path),
                                 "--naics", str(NAICS_FILE)])
    assert result.exit_code != 0
    for column in ("LoanNr_ChkDgt", "Bank", "MIS_Status"):
        assert column in result.output
    assert "Traceback" not in result.output


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "loans.csv"
    sba_rows(50).drop(columns=["GrAppv", "State"]).to_csv(path, index=False)
    result = runner.invoke(app, ["import-real", "sba", str(path), "--out", str(tmp_path / "out"),
                                 "--naics", str(NAICS_FILE)])
    assert result.exit_code != 0
    assert "'GrAppv'" in result.output and "'State'" in result.output and "loans.csv" in result.output


def test_a_file_that_is_not_a_csv_table_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "kiva.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = runner.invoke(app, ["import-real", "kiva", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and "CSV" in result.output and "Traceback" not in result.output


def test_an_unknown_dataset_or_missing_file_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import-real", "fdic", str(KIVA_FILE), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "'sba', 'kiva'" in result.output and "fdic" in result.output
    result = runner.invoke(app, ["import-real", "kiva", str(tmp_path / "nothing.csv"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "no such file" in result.output
