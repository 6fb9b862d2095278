"""The North American Industry Classification (NAICS 2017) as text, and its mapping to smematch's sectors.

Input: the Census NAICS 2017 descriptions file (columns ``Code``, ``Title``, ``Description``; it starts with a
UTF-8 byte-order mark, some titles carry a trailing ``T`` footnote marker, some descriptions are ``NULL`` or
"See industry description for ..."). Output: ``NaicsTable.lookup(code)`` gives the title and first definition
sentence of the most specific code that exists: SBA records carry 1997/2002 codes that NAICS 2017 dropped
(e.g. 722110), so a code falls back to its 5, 4, 3 and finally 2-digit prefix. ``sector_of(code)`` maps a code
to one of ``matching.records.SECTORS``.

Also the names of US states and territories, because two-letter codes make poor text: ``IN``, ``OR`` and
``ME`` are English stop words to any analyser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from matching.errors import InvalidInput, Issue
from service.imports.sources import read_source

__all__ = ["NaicsEntry", "NaicsTable", "read_naics", "sector_of", "STATE_NAMES", "state_name"]

NAICS_COLUMNS = ("Code", "Title", "Description")

# Two-digit NAICS sectors (and a few finer codes) onto the ten sectors of the design.
_SECTOR_BY_PREFIX: dict[str, str] = {
    "11": "agriculture",
    "21": "other",  # mining
    "22": "other",  # utilities
    "23": "construction",
    "31": "manufacturing",
    "32": "manufacturing",
    "33": "manufacturing",
    "42": "wholesale_retail",
    "44": "wholesale_retail",
    "45": "wholesale_retail",
    "48": "transport_warehousing_postal",
    "49": "transport_warehousing_postal",
    "51": "information_services",
    "52": "other",  # finance and insurance
    "531": "real_estate_property",
    "532": "leasing_business_services",
    "533": "leasing_business_services",
    "5415": "information_services",  # computer systems design
    "54": "leasing_business_services",  # professional services
    "55": "leasing_business_services",
    "56": "leasing_business_services",
    "61": "other",
    "62": "other",
    "71": "other",
    "72": "catering_accommodation",
    "81": "other",
    "92": "other",
}

STATE_NAMES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
    "GU": "Guam", "AS": "American Samoa", "MP": "Northern Mariana Islands", "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific", "AA": "Armed Forces Americas",
}


def state_name(code: str) -> str:
    """The full name of a state code; an unknown code is returned as it is."""
    return STATE_NAMES.get(code.strip().upper(), code.strip())


def sector_of(code: str) -> str:
    """One of SECTORS for a NAICS code (any length); ``other`` for a missing or unknown code."""
    digits = re.sub(r"\D", "", str(code))
    for length in (4, 3, 2):
        sector = _SECTOR_BY_PREFIX.get(digits[:length]) if len(digits) >= length else None
        if sector is not None:
            return sector
    return "other"


@dataclass(frozen=True, slots=True)
class NaicsEntry:
    code: str  # the code that matched (may be a prefix of the code asked for)
    title: str
    definition: str  # the first sentence of the Census definition, or ""


_FOOTNOTE = re.compile(r"(?<=[a-z)\]])T\s*$")
_SENTENCE = re.compile(r"(?<=[a-z)])\.\s")


def _title(raw: str) -> str:
    return _FOOTNOTE.sub("", raw.strip()).strip()


def _definition(raw: str) -> str:
    text = " ".join(raw.split())
    if not text or text.upper() == "NULL" or text.lower().startswith("see industry description"):
        return ""
    if text.lower().startswith("the sector as a whole"):
        text = text[len("the sector as a whole") :].strip()
    first = _SENTENCE.split(text, maxsplit=1)[0].rstrip(".")
    return first + "." if first else ""


class NaicsTable:
    """Code -> (title, definition), with prefix fallback for codes NAICS 2017 no longer has."""

    def __init__(self, entries: dict[str, NaicsEntry]) -> None:
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, code: str) -> NaicsEntry | None:
        """The entry of the longest prefix of ``code`` (6 down to 2 digits) that exists; None for 0/empty."""
        digits = re.sub(r"\D", "", str(code))
        if not digits or set(digits) == {"0"}:
            return None
        for length in range(min(len(digits), 6), 1, -1):
            entry = self.entries.get(digits[:length])
            if entry is not None:
                return entry
        return None


def read_naics(path: str | Path) -> NaicsTable:
    """Read the NAICS descriptions CSV (BOM tolerated); ranges such as ``31-33`` expand to each code."""
    frame = read_source(Path(path), NAICS_COLUMNS, what="the NAICS 2017 descriptions table")
    entries: dict[str, NaicsEntry] = {}
    for code, title, description in zip(frame["Code"], frame["Title"], frame["Description"], strict=True):
        code = code.strip()
        match = re.fullmatch(r"(\d+)-(\d+)", code)
        codes = [str(c) for c in range(int(match[1]), int(match[2]) + 1)] if match else [code]
        for one in codes:
            if one.isdigit():
                entries[one] = NaicsEntry(code=one, title=_title(title), definition=_definition(description))
    if not entries:
        raise InvalidInput(Issue(column="Code", expected="NAICS codes", found="no numeric code", file=Path(path).name))
    return NaicsTable(entries)


def naics_frame(table: NaicsTable) -> pd.DataFrame:
    """The table as a frame (code, title, definition), for inspection and tests."""
    return pd.DataFrame([(e.code, e.title, e.definition) for e in table.entries.values()],
                        columns=["code", "title", "definition"])
