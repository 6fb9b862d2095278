"""Cut the real-data fixtures of the tests from the full files in ``../shared/realdata``.

Run from the checkout: ``.venv/bin/python tests/data/realdata/cut.py [SOURCE]`` (SOURCE defaults to
``../shared/realdata``). Rows are copied as they are (the csv module reads and writes these files byte for byte);
only the choice of rows is ours:

- ``sba_7a/SBAnational_head.csv``: every ``SBA_STEP``-th loan of the head file (from the first, in file order,
  which is loan-number order) and every loan that names no lender;
- ``naics_2017/2017_NAICS_Descriptions.csv``: the rows that the full table answers for the fixture's NAICS codes
  and for the codes the tests look up (so a lookup on the fixture gives what it gives on the full table);
- ``kiva/kiva_sample_a.csv``: the first ``KIVA_ROWS`` loans (the file is already a random sample);
- ``kiva/kiva_partner_names_2013.csv``: the named partners of those loans.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from service.imports.naics import read_naics

SBA_STEP = 40
KIVA_ROWS = 400
# Codes the tests look up besides the loans' own (tests/test_realdata_adapters.py).
NAICS_ASKED = ("11", "111110", "722511", "722110", "421610")

HERE = Path(__file__).resolve().parent


def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue().encode("utf-8"))


def cut(source: Path) -> None:
    header, *loans = read_rows(source / "sba_7a" / "SBAnational_head.csv")
    bank = header.index("Bank")
    sba = [row for n, row in enumerate(loans) if n % SBA_STEP == 0 or not row[bank].strip()]
    write_rows(HERE / "sba_7a" / "SBAnational_head.csv", [header, *sba])

    naics_file = source / "naics_2017" / "2017_NAICS_Descriptions.csv"
    table = read_naics(naics_file)
    codes = {row[header.index("NAICS")] for row in sba} | set(NAICS_ASKED)
    wanted = {entry.code for entry in map(table.lookup, codes) if entry is not None}
    naics_header, *naics_rows = read_rows(naics_file)

    def expand(code: str) -> set[str]:
        low, _, high = code.strip().partition("-")
        return {str(c) for c in range(int(low), int(high) + 1)} if high else {low}

    kept = [row for row in naics_rows if expand(row[0]) & wanted]
    write_rows(HERE / "naics_2017" / "2017_NAICS_Descriptions.csv", [naics_header, *kept])

    kiva_header, *kiva = read_rows(source / "kiva" / "kiva_sample_a.csv")
    kiva = kiva[:KIVA_ROWS]
    write_rows(HERE / "kiva" / "kiva_sample_a.csv", [kiva_header, *kiva])
    partner = kiva_header.index("partner_id")
    lent = {row[partner].strip().removesuffix(".0") for row in kiva}
    names_header, *names = read_rows(source / "kiva" / "kiva_partner_names_2013.csv")
    write_rows(HERE / "kiva" / "kiva_partner_names_2013.csv", [names_header, *(r for r in names if r[0] in lent)])


if __name__ == "__main__":
    cut(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "realdata")
