"""Specification of ``matching.tables.files``: reading a data folder, every kind of bad input, normalised dtypes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matching.errors import InvalidInput, Issue
from matching.records import MAX_TEXT_LENGTH
from matching.tables.files import COLUMNS, TABLE_NAMES, read_tables, validate_tables, write_tables

from factories import (
    csv_text,
    enterprises_frame,
    institutions_frame,
    outcomes_frame,
    problems_frame,
    valid_frames,
    valid_tables,
)
from factories import write_tables as write_folder


def issues_of(folder: Path) -> list[Issue]:
    with pytest.raises(InvalidInput) as caught:
        read_tables(folder)
    return caught.value.issues


def the_issue(issues: list[Issue], **where: object) -> Issue:
    """The one issue at ``where`` (file, row, column); fails listing them all when there is not exactly one."""
    matching = [i for i in issues if all(getattr(i, key) == value for key, value in where.items())]
    assert len(matching) == 1, f"expected one issue at {where}, got: {[str(i) for i in issues]}"
    return matching[0]


# ------------------------------------------------------------------------------------------------ good input


def test_a_valid_folder_reads_into_normalised_frames(tmp_path: Path) -> None:
    tables = read_tables(write_folder(tmp_path))

    for table in TABLE_NAMES:
        assert tuple(tables.frames()[table].columns) == COLUMNS[table]
    assert tables.enterprises["enterprise_id"].tolist() == ["E000001", "E000002", "E000003"]
    assert tables.enterprises["enterprise_id"].dtype == "str"
    assert tables.enterprises["employees"].dtype == np.int64
    assert tables.institutions["sectors"].tolist() == [
        ("manufacturing", "agriculture"),
        (),
        ("catering_accommodation",),
    ]
    assert tables.institutions["regions"].iat[2] == ("西湖区", "Binjiang")
    assert tables.institutions["active"].tolist() == [True, True, False]
    assert tables.institutions["min_amount"].dtype == np.float64
    assert np.isnan(tables.institutions["min_amount"].iat[1])
    assert tables.problems["stated_at"].dtype == "datetime64[us]"
    assert tables.problems["stated_at"].iat[0] == pd.Timestamp("2024-01-15")
    assert tables.outcomes["recorded_at"].iat[1] == pd.Timestamp("2024-03-05 14:00:00.25")
    assert pd.isna(tables.outcomes["recorded_by"].iat[1])


def test_the_outcomes_file_may_be_absent(tmp_path: Path) -> None:
    tables = read_tables(write_folder(tmp_path, outcomes=None))

    assert len(tables.outcomes) == 0
    assert tuple(tables.outcomes.columns) == COLUMNS["outcomes"]
    assert tables.outcomes["recorded_at"].dtype == "datetime64[us]"


def test_parquet_files_read_the_same_as_csv(tmp_path: Path) -> None:
    from_csv = read_tables(write_folder(tmp_path / "csv"))
    from_parquet = read_tables(write_folder(tmp_path / "parquet", format="parquet"))

    for table in TABLE_NAMES:
        pd.testing.assert_frame_equal(from_parquet.frames()[table], from_csv.frames()[table])


def test_validated_tables_validate_again_unchanged() -> None:
    tables = valid_tables()
    again = validate_tables(**tables.frames())

    for table in TABLE_NAMES:
        pd.testing.assert_frame_equal(again.frames()[table], tables.frames()[table])


@pytest.mark.parametrize("format", ["csv", "parquet"])
def test_written_tables_read_back_equal(tmp_path: Path, format: str) -> None:
    tables = valid_tables(enterprises=5, problems=7, institutions=4, outcomes=9)
    write_tables(tables, tmp_path, format=format)
    back = read_tables(tmp_path)

    for table in TABLE_NAMES:
        pd.testing.assert_frame_equal(back.frames()[table], tables.frames()[table])


def test_a_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    text = csv_text(enterprises_frame())
    tables = read_tables(write_folder(tmp_path, enterprises=b"\xef\xbb\xbf" + text.encode("utf-8")))

    assert tables.enterprises.columns[0] == "enterprise_id"


def test_times_with_an_offset_become_naive_utc(tmp_path: Path) -> None:
    outcomes = outcomes_frame(2, recorded_at=["2024-02-01T09:30:00+08:00", "2024-02-01 01:30"])
    tables = read_tables(write_folder(tmp_path, outcomes=outcomes))

    assert tables.outcomes["recorded_at"].tolist() == [pd.Timestamp("2024-02-01 01:30")] * 2


def test_ids_and_vocabulary_values_are_stripped_of_surrounding_spaces(tmp_path: Path) -> None:
    enterprises = enterprises_frame(3, enterprise_id=[" E000001", "E000002 ", "E000003"], sector=[" other"] * 3)
    tables = read_tables(write_folder(tmp_path, enterprises=enterprises))

    assert tables.enterprises["enterprise_id"].tolist() == ["E000001", "E000002", "E000003"]
    assert set(tables.enterprises["sector"]) == {"other"}


# ------------------------------------------------------------------------------------------------ bad input


def test_a_missing_column_is_reported_with_the_columns_found(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, enterprises=enterprises_frame().drop(columns=["sector"])))

    issue = the_issue(issues, file="enterprises.csv", column="sector")
    assert issue.row is None
    assert "'sector'" in issue.expected
    assert "enterprise_id, name, region" in issue.found


def test_a_missing_required_file_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, institutions=None))

    issue = the_issue(issues, file="institutions.csv")
    assert "institutions.csv or institutions.parquet" in issue.expected
    assert issue.found == "none"


def test_a_folder_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    issues = issues_of(tmp_path / "nowhere")

    assert "nowhere" in issues[0].found


def test_an_unknown_sector_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, enterprises=enterprises_frame(2, sector=["agriculture", "farming"])))

    issue = the_issue(issues, file="enterprises.csv", row=2, column="sector")
    assert "manufacturing" in issue.expected
    assert issue.found == "'farming'"


def test_an_unknown_institution_kind_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, institutions=institutions_frame(3, kind=["bank", "bank", "charity"])))

    issue = the_issue(issues, file="institutions.csv", row=3, column="kind")
    assert "microcredit" in issue.expected
    assert issue.found == "'charity'"


def test_an_unknown_outcome_status_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, outcomes=outcomes_frame(1, status=["won"])))

    issue = the_issue(issues, file="outcomes.csv", row=1, column="status")
    assert "solved" in issue.expected
    assert issue.found == "'won'"


def test_an_unknown_sector_served_by_an_institution_is_reported(tmp_path: Path) -> None:
    institutions = institutions_frame(2, sectors=["agriculture", "agriculture;mining"])
    issues = issues_of(write_folder(tmp_path, institutions=institutions))

    issue = the_issue(issues, file="institutions.csv", row=2, column="sectors")
    assert "semicolon-separated" in issue.expected
    assert issue.found == "'mining'"


def test_a_non_numeric_amount_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, problems=problems_frame(2, amount=["5000", "五千"])))

    issue = the_issue(issues, file="problems.csv", row=2, column="amount")
    assert issue.expected == "a number >= 0 or empty"
    assert issue.found == "'五千'"


def test_a_negative_amount_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, outcomes=outcomes_frame(2, amount=[-1.5, 3.0])))

    issue = the_issue(issues, file="outcomes.csv", row=1, column="amount")
    assert ">= 0" in issue.expected
    assert issue.found == "'-1.5'"


def test_non_numeric_negative_fractional_or_empty_employees_are_reported(tmp_path: Path) -> None:
    enterprises = enterprises_frame(5, employees=["3", "many", "-2", "2.5", ""])
    issues = issues_of(write_folder(tmp_path, enterprises=enterprises))

    found = {i.row: i.found for i in issues if i.column == "employees"}
    assert found == {2: "'many'", 3: "'-2'", 4: "'2.5'", 5: "empty"}
    assert all(i.expected == "a whole number >= 0" for i in issues)


def test_a_negative_capacity_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, institutions=institutions_frame(3, capacity=[1, -4, 2])))

    issue = the_issue(issues, file="institutions.csv", row=2, column="capacity")
    assert issue.found == "'-4'"


def test_a_founding_year_out_of_range_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, enterprises=enterprises_frame(3, founded=[2001, 20015, 2020])))

    issue = the_issue(issues, file="enterprises.csv", row=2, column="founded")
    assert issue.expected == "a year from 1800 to 2100"
    assert issue.found == "'20015'"


def test_min_amount_above_max_amount_is_reported(tmp_path: Path) -> None:
    institutions = institutions_frame(2, min_amount=[500.0, 10.0], max_amount=[100.0, 10.0])
    issues = issues_of(write_folder(tmp_path, institutions=institutions))

    issue = the_issue(issues, file="institutions.csv", row=1, column="min_amount")
    assert issue.expected == "min_amount <= max_amount"
    assert issue.found == "min_amount 500 > max_amount 100"


def test_a_duplicate_id_is_reported_with_the_row_it_repeats(tmp_path: Path) -> None:
    enterprises = enterprises_frame(3, enterprise_id=["E000001", "E000002", "E000001"])
    issues = issues_of(write_folder(tmp_path, enterprises=enterprises))

    issue = the_issue(issues, file="enterprises.csv", column="enterprise_id")
    assert issue.row == 3
    assert issue.expected == "a unique id"
    assert issue.found == "'E000001', already on row 1"


def test_an_empty_id_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, institutions=institutions_frame(2, institution_id=["I0001", "  "])))

    issue = the_issue(issues, file="institutions.csv", row=2, column="institution_id")
    assert issue.expected == "an id of 1 to 64 characters"


def test_a_problem_of_an_unknown_enterprise_is_reported(tmp_path: Path) -> None:
    problems = problems_frame(3, enterprise_id=["E000001", "E000404", "E000003"])
    issues = issues_of(write_folder(tmp_path, problems=problems))

    issue = the_issue(issues, file="problems.csv", row=2, column="enterprise_id")
    assert issue.expected == "an id listed in enterprises.csv"
    assert issue.found == "'E000404'"


def test_an_outcome_of_an_unknown_problem_or_institution_is_reported(tmp_path: Path) -> None:
    outcomes = outcomes_frame(2, problem_id=["P000001", "P999999"], institution_id=["I0404", "I0001"])
    issues = issues_of(write_folder(tmp_path, outcomes=outcomes))

    institution = the_issue(issues, file="outcomes.csv", row=1, column="institution_id")
    problem = the_issue(issues, file="outcomes.csv", row=2, column="problem_id")
    assert (institution.expected, institution.found) == ("an id listed in institutions.csv", "'I0404'")
    assert (problem.expected, problem.found) == ("an id listed in problems.csv", "'P999999'")


def test_an_empty_text_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, problems=problems_frame(2, text=["贷款", ""])))

    issue = the_issue(issues, file="problems.csv", row=2, column="text")
    assert (issue.expected, issue.found) == ("non-empty text", "empty")


def test_a_whitespace_only_text_is_reported(tmp_path: Path) -> None:
    institutions = institutions_frame(2, description=["loans", " \t\u3000 "])
    issues = issues_of(write_folder(tmp_path, institutions=institutions))

    issue = the_issue(issues, file="institutions.csv", row=2, column="description")
    assert (issue.expected, issue.found) == ("non-empty text", "only whitespace")


def test_a_text_over_the_maximum_length_is_reported(tmp_path: Path) -> None:
    problems = problems_frame(2, text=["字" * MAX_TEXT_LENGTH, "字" * (MAX_TEXT_LENGTH + 1)])
    issues = issues_of(write_folder(tmp_path, problems=problems))

    issue = the_issue(issues, file="problems.csv", column="text")
    assert issue.row == 2
    assert issue.expected == f"text of at most {MAX_TEXT_LENGTH} characters"
    assert issue.found == f"{MAX_TEXT_LENGTH + 1} characters"


def test_invalid_utf8_is_reported_with_its_row_and_byte_offset(tmp_path: Path) -> None:
    text = csv_text(problems_frame(3, text=["loans", "贷款", "café au lait"]))
    data = text.encode("utf-8").replace("é".encode(), "é".encode("latin-1"))
    issues = issues_of(write_folder(tmp_path, problems=data))

    issue = the_issue(issues, file="problems.csv", column="text")
    assert issue.row == 3
    assert issue.expected == "UTF-8 text"
    offset = data.index(b"caf\xe9") + 3
    assert issue.found == f"byte 0xe9 at byte offset {offset} of the file"


def test_an_unparseable_date_is_reported(tmp_path: Path) -> None:
    problems = problems_frame(3, stated_at=["2024-01-15", "2024-02-30", "15/01/2024"])
    issues = issues_of(write_folder(tmp_path, problems=problems))

    assert [(i.row, i.column, i.found) for i in issues] == [
        (2, "stated_at", "'2024-02-30'"),
        (3, "stated_at", "'15/01/2024'"),
    ]
    assert "ISO 8601" in issues[0].expected


def test_an_active_flag_that_is_not_true_or_false_is_reported(tmp_path: Path) -> None:
    issues = issues_of(write_folder(tmp_path, institutions=institutions_frame(2, active=["TRUE", "sometimes"])))

    issue = the_issue(issues, file="institutions.csv", column="active")
    assert (issue.row, issue.expected, issue.found) == (2, "true or false", "'sometimes'")


def test_a_malformed_csv_line_is_reported_without_a_crash(tmp_path: Path) -> None:
    text = csv_text(enterprises_frame(2)) + "E000009,too,many,fields,in,this,line,really\n"
    issues = issues_of(write_folder(tmp_path, enterprises=text))

    issue = the_issue(issues, file="enterprises.csv")
    assert "line 4" in issue.found


def test_several_bad_rows_in_several_files_are_reported_together(tmp_path: Path) -> None:
    frames = valid_frames(enterprises=4)
    frames["enterprises"] = enterprises_frame(4, sector=["other", "x", "other", "y"])
    frames["problems"] = problems_frame(3, enterprises=4, amount=[-1.0, 2.0, -3.0])
    frames["outcomes"] = outcomes_frame(2, status=["solved", "lost"])
    issues = issues_of(write_folder(tmp_path, frames))

    assert [(i.file, i.row, i.column) for i in issues] == [
        ("enterprises.csv", 2, "sector"),
        ("enterprises.csv", 4, "sector"),
        ("problems.csv", 1, "amount"),
        ("problems.csv", 3, "amount"),
        ("outcomes.csv", 2, "status"),
    ]


def test_frames_given_in_code_are_named_by_table_in_issues() -> None:
    frames = valid_frames()
    frames["enterprises"] = enterprises_frame(3, employees=[1, 2, -3])
    with pytest.raises(InvalidInput) as caught:
        validate_tables(**frames)

    assert [(i.file, i.row, i.column, i.found) for i in caught.value.issues] == [("enterprises", 3, "employees", "-3")]


def test_each_cell_with_invalid_utf8_is_reported_with_its_own_offset(tmp_path: Path) -> None:
    text = csv_text(enterprises_frame(3, name=["Müller GmbH", "ok", "Señor Café"]))
    data = text.encode("utf-8")
    for letter in "üñé":
        data = data.replace(letter.encode(), letter.encode("latin-1"))
    issues = issues_of(write_folder(tmp_path, enterprises=data))

    assert [(i.row, i.column) for i in issues] == [(1, "name"), (3, "name")]
    assert issues[0].found == f"byte 0xfc at byte offset {data.index(bytes([0xFC]))} of the file"
    assert issues[1].found == f"byte 0xf1 at byte offset {data.index(bytes([0xF1]))} of the file"


def test_names_and_regions_are_stripped_but_free_text_is_kept_as_written(tmp_path: Path) -> None:
    frames = valid_frames()
    frames["enterprises"] = enterprises_frame(3, name=[" 老街茶馆 ", "B", "C"], region=["西湖区 ", " Binjiang", "x"])
    frames["problems"] = problems_frame(3, text=["  需要贷款\n", "b", "c"])
    tables = read_tables(write_folder(tmp_path, frames))

    assert tables.enterprises["name"].iat[0] == "老街茶馆"
    assert tables.enterprises["region"].tolist()[:2] == ["西湖区", "Binjiang"]
    assert tables.problems["text"].iat[0] == "  需要贷款\n"


def test_written_dates_are_plain_iso_dates_when_every_time_is_midnight(tmp_path: Path) -> None:
    write_tables(valid_tables(), tmp_path)
    problems = (tmp_path / "problems.csv").read_text(encoding="utf-8")
    outcomes = (tmp_path / "outcomes.csv").read_text(encoding="utf-8")

    assert ",2024-01-15\n" in problems
    assert ",2024-02-01T09:30:00.000000," in outcomes and ",2024-03-05T14:00:00.250000," in outcomes


def test_writing_one_format_over_the_other_leaves_one_file_per_table(tmp_path: Path) -> None:
    tables = valid_tables()
    write_tables(tables, tmp_path, format="csv")
    write_tables(tables, tmp_path, format="parquet")

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.parquet" for t in TABLE_NAMES)
    assert len(read_tables(tmp_path).outcomes) == 3
