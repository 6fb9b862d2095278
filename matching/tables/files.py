"""Reading and validating the four tables of a data folder (the table contract in ``matching.records``).

Inputs: a folder holding ``enterprises``, ``problems``, ``institutions`` and (optionally) ``outcomes`` as
``.csv`` (UTF-8) or ``.parquet``; or four pandas frames built in code, read from Parquet or loaded from the
store. Outputs: a ``Tables`` of normalised frames, or one ``InvalidInput`` listing every problem found (file,
1-based data row, column, what was expected, what was found), never the first problem only.

Normalised frames have exactly the contract's columns, in its order, on a fresh RangeIndex:
- ids, references, names, texts and vocabulary values: pandas ``str`` (all but free text stripped);
- ``sectors``/``regions``: tuples of strings (the empty tuple means "all");
- ``employees``, ``founded``, ``capacity``: int64; amounts and ``annual_revenue``: float64, NaN when empty;
- ``active``: bool; ``stated_at``, ``recorded_at``: ``datetime64[us]``, naive UTC (an ISO value with an offset
  is converted to UTC, one without is taken as UTC already);
- ``recorded_by``: str, NaN when empty.

Every check is vectorised over whole columns; Python loops run only over bad rows, to word their issues.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from matching.errors import InvalidInput, Issue
from matching.records import INSTITUTION_KINDS, MAX_TEXT_LENGTH, OUTCOME_STATUSES, SECTORS

__all__ = [
    "TABLE_NAMES",
    "COLUMNS",
    "KEYS",
    "MAX_ID_LENGTH",
    "Tables",
    "read_tables",
    "validate_tables",
    "write_tables",
    "IMPORT_MANIFEST",
    "read_import_manifest",
]

TABLE_NAMES: tuple[str, ...] = ("enterprises", "problems", "institutions", "outcomes")
MAX_ID_LENGTH = 64
YEAR_RANGE = (1800, 2100)


@dataclass(frozen=True, slots=True)
class _Column:
    """One column of the contract. ``kind`` says how it is parsed and checked (see ``_CHECKS``)."""

    name: str
    kind: str
    required: bool = True  # False: an empty cell is allowed (NaN)
    choices: tuple[str, ...] = ()
    refers_to: str | None = None  # the table whose key this column must name


_SPEC: dict[str, tuple[_Column, ...]] = {
    "enterprises": (
        _Column("enterprise_id", "id"),
        _Column("name", "label"),
        _Column("sector", "choice", choices=SECTORS),
        _Column("region", "label"),
        _Column("employees", "count"),
        _Column("annual_revenue", "money", required=False),
        _Column("founded", "year"),
    ),
    "problems": (
        _Column("problem_id", "id"),
        _Column("enterprise_id", "id", refers_to="enterprises"),
        _Column("text", "text"),
        _Column("amount", "money", required=False),
        _Column("stated_at", "time"),
    ),
    "institutions": (
        _Column("institution_id", "id"),
        _Column("name", "label"),
        _Column("kind", "choice", choices=INSTITUTION_KINDS),
        _Column("description", "text"),
        _Column("sectors", "list", choices=SECTORS),
        _Column("regions", "list"),
        _Column("min_amount", "money", required=False),
        _Column("max_amount", "money", required=False),
        _Column("capacity", "count"),
        _Column("active", "flag"),
    ),
    "outcomes": (
        _Column("outcome_id", "id"),
        _Column("problem_id", "id", refers_to="problems"),
        _Column("institution_id", "id", refers_to="institutions"),
        _Column("status", "choice", choices=OUTCOME_STATUSES),
        _Column("amount", "money", required=False),
        _Column("recorded_at", "time"),
        _Column("recorded_by", "label", required=False),
    ),
}

COLUMNS: dict[str, tuple[str, ...]] = {table: tuple(c.name for c in spec) for table, spec in _SPEC.items()}
KEYS: dict[str, str] = {table: spec[0].name for table, spec in _SPEC.items()}


@dataclass(frozen=True, slots=True)
class Tables:
    """The four normalised tables. ``outcomes`` is empty (with the right columns) when there are none yet."""

    enterprises: pd.DataFrame
    problems: pd.DataFrame
    institutions: pd.DataFrame
    outcomes: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """The tables by name, in ``TABLE_NAMES`` order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ----------------------------------------------------------------------------------------------- public verbs


def read_tables(folder: str | Path) -> Tables:
    """Read and validate the tables of ``folder``; raise one ``InvalidInput`` listing every problem."""
    folder = Path(folder)
    issues: list[Issue] = []
    raw: dict[str, pd.DataFrame | None] = {}
    files: dict[str, str] = {}
    if not folder.is_dir():
        raise InvalidInput(Issue(column=None, expected="a folder of tables", found=f"no folder {str(folder)!r}"))
    for table in TABLE_NAMES:
        found = [p for p in (folder / f"{table}.csv", folder / f"{table}.parquet") if p.is_file()]
        files[table] = found[0].name if found else f"{table}.csv"
        if len(found) > 1:
            issues.append(_file_issue(files[table], f"one of {table}.csv or {table}.parquet", "both"))
        if not found:
            if table != "outcomes":
                issues.append(_file_issue(files[table], f"a file {table}.csv or {table}.parquet", "none"))
            raw[table] = None if table != "outcomes" else pd.DataFrame(columns=list(COLUMNS[table]))
            continue
        raw[table] = _read_one(found[0], issues)
    tables, more = _validate(raw, files)
    issues.extend(more)
    if issues or tables is None:
        raise InvalidInput(_sorted(issues, files))
    return tables


def validate_tables(
    enterprises: pd.DataFrame,
    problems: pd.DataFrame,
    institutions: pd.DataFrame,
    outcomes: pd.DataFrame | None = None,
    *,
    files: Mapping[str, str] | None = None,
) -> Tables:
    """Check four frames against the contract and return them normalised, or raise one ``InvalidInput``.

    The frames may hold text (as read from CSV) or typed values (numbers, bools, datetimes, tuples), so
    normalised ``Tables`` validate again unchanged. ``files`` names each table's source in the issues
    (default: the table name).
    """
    raw = {"enterprises": enterprises, "problems": problems, "institutions": institutions, "outcomes": outcomes}
    if outcomes is None:
        raw["outcomes"] = pd.DataFrame(columns=list(COLUMNS["outcomes"]))
    names = {table: (files or {}).get(table, table) for table in TABLE_NAMES}
    tables, issues = _validate(raw, names)
    if issues or tables is None:
        raise InvalidInput(_sorted(issues, names))
    return tables


def write_tables(tables: Tables, folder: str | Path, *, format: str = "csv") -> dict[str, Path]:
    """Write ``tables`` as ``<table>.csv`` (or ``.parquet``) files that ``read_tables`` reads back equal.

    A file of the same table in the other format is removed, so that the folder stays readable.
    """
    if format not in ("csv", "parquet"):
        raise InvalidInput.field("format", "one of 'csv', 'parquet'", format)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for table, frame in tables.frames().items():
        out = frame.copy()
        for column in ("sectors", "regions"):
            if column in out:
                out[column] = out[column].map(";".join).astype("str")
        for column in ("stated_at", "recorded_at"):
            if column in out:
                out[column] = _iso(out[column])
        path = folder / f"{table}.{format}"
        # A file of the other format would make the folder ambiguous to read_tables.
        (folder / f"{table}.{'parquet' if format == 'csv' else 'csv'}").unlink(missing_ok=True)
        if format == "csv":
            out.to_csv(path, index=False, encoding="utf-8")
        else:
            out.to_parquet(path, index=False)
        written[table] = path
    return written


def _iso(moments: pd.Series) -> pd.Series:
    """ISO 8601 text as short as the column allows: dates alone when every time is midnight."""
    if (moments == moments.dt.normalize()).all():
        return moments.dt.strftime("%Y-%m-%d")
    if (moments.dt.microsecond == 0).all():
        return moments.dt.strftime("%Y-%m-%dT%H:%M:%S")
    return moments.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


# ----------------------------------------------------------------------------------------------- reading files

_SURROGATE = re.compile("[\udc80-\udcff]")


def _read_one(path: Path, issues: list[Issue]) -> pd.DataFrame | None:
    """Read one file into a frame of text (CSV) or typed (Parquet) columns; file-level problems go to issues."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        data = path.read_bytes()
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        issues.append(_file_issue(path.name, "a readable table", _short(error)))
        return None
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        frame = pd.read_csv(
            io.BytesIO(data[start:]),
            dtype=object,
            na_filter=False,
            encoding="utf-8",
            encoding_errors="surrogateescape",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        issues.append(_file_issue(path.name, "a CSV table with a header row", _short(error)))
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        issues.extend(_utf8_issues(frame, data, start, path.name))
    return frame


def _utf8_issues(frame: pd.DataFrame, data: bytes, start: int, file: str) -> list[Issue]:
    """Name each cell holding bytes that are not UTF-8, with the file offset of its first bad byte.

    The parser decoded each bad byte to a lone surrogate. Cells are laid out in the file row by row, left
    to right, so the n-th surrogate met in that order is the n-th bad byte of the file. Bad cells are
    replaced so that the rest of the checks can run.
    """
    text = data[start:].decode("utf-8", "surrogateescape")
    offsets, consumed, previous = [], start, 0
    for match in _SURROGATE.finditer(text):
        consumed += len(text[previous : match.start()].encode("utf-8", "surrogateescape"))
        offsets.append(consumed)
        consumed += 1
        previous = match.end()
    issues: list[Issue] = []
    seen = 0

    def bad_bytes(value: str, row: int | None, column: str) -> None:
        nonlocal seen
        count = len(_SURROGATE.findall(value))
        if count:
            surrogate = _SURROGATE.search(value)
            assert surrogate is not None
            first = ord(surrogate.group()) - 0xDC00  # the surrogate U+DCxx stands for byte xx
            at = offsets[seen] if seen < len(offsets) else "?"
            issues.append(
                Issue(
                    column=column,
                    expected="UTF-8 text",
                    file=file,
                    row=row,
                    found=f"byte 0x{first:02x} at byte offset {at} of the file",
                )
            )
            seen += count

    for column in list(frame.columns):
        bad_bytes(str(column), None, _SURROGATE.sub("\ufffd", str(column)))
    frame.columns = [_SURROGATE.sub("\ufffd", str(c)) for c in frame.columns]
    marks = pd.DataFrame({c: frame[c].str.contains(_SURROGATE.pattern, regex=True) for c in frame.columns})
    for position in np.flatnonzero(marks.to_numpy().any(axis=1)):
        for column in frame.columns[marks.iloc[position].to_numpy()]:
            value = frame.at[position, column]
            bad_bytes(value, int(position) + 1, column)
            frame.at[position, column] = _SURROGATE.sub("\ufffd", value)
    return issues


# ----------------------------------------------------------------------------------------------- validating


class _Found:
    """Collects the issues of one file: a mask of bad rows, what was expected and how to show each finding."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def add(self, column: str, bad: pd.Series | np.ndarray, expected: str, found: Callable[[int], str]) -> None:
        for position in np.flatnonzero(np.asarray(bad, dtype=bool)):
            self.issues.append(
                Issue(
                    column=column, expected=expected, found=found(int(position)), file=self.file, row=int(position) + 1
                )
            )


def _validate(raw: Mapping[str, pd.DataFrame | None], files: Mapping[str, str]) -> tuple[Tables | None, list[Issue]]:
    issues: list[Issue] = []
    out: dict[str, pd.DataFrame] = {}
    keys: dict[str, pd.Series | None] = {}
    # Referenced tables first, so that references can be checked against their keys.
    for table in ("enterprises", "institutions", "problems", "outcomes"):
        frame = raw.get(table)
        if frame is None:
            keys[table] = None
            continue
        frame = frame.reset_index(drop=True)
        found = _Found(files[table])
        missing = [c.name for c in _SPEC[table] if c.name not in frame.columns]
        for name in missing:
            issues.append(
                Issue(
                    column=name,
                    expected=f"a column {name!r}",
                    file=files[table],
                    found=f"columns {', '.join(map(str, frame.columns)) or 'none'}",
                )
            )
        columns: dict[str, pd.Series] = {}
        for column in _SPEC[table]:
            if column.name in missing:
                continue
            columns[column.name] = _CHECKS[column.kind](frame[column.name], column, found)
            if column.refers_to is not None and keys.get(column.refers_to) is not None:
                _check_reference(columns[column.name], column, keys[column.refers_to], files, found)
        if table == "institutions" and {"min_amount", "max_amount"} <= columns.keys():
            _check_amount_range(columns["min_amount"], columns["max_amount"], found)
        keys[table] = columns.get(KEYS[table])
        issues.extend(found.issues)
        if not missing:
            out[table] = pd.DataFrame(columns, columns=list(COLUMNS[table]))
    if issues or len(out) < len(TABLE_NAMES):
        return None, issues
    return Tables(**{table: out[table] for table in TABLE_NAMES}), []


def _as_text(raw: pd.Series) -> pd.Series:
    """Cells as pandas ``str``, missing as ''. Numbers and bools from typed sources become their text."""
    return raw.astype("str").fillna("")


def _check_id(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    ids = _as_text(raw).str.strip()
    length = ids.str.len()
    bad = (length == 0) | (length > MAX_ID_LENGTH)
    found.add(column.name, bad, f"an id of 1 to {MAX_ID_LENGTH} characters", lambda i: _show(ids.iat[i]))
    if column.refers_to is None:
        duplicated = ids.duplicated(keep="first") & ~bad
        if duplicated.any():
            first = pd.Series(np.arange(len(ids))).groupby(ids.to_numpy()).transform("min")
            found.add(
                column.name,
                duplicated,
                "a unique id",
                lambda i: f"{_show(ids.iat[i])}, already on row {first.iat[i] + 1}",
            )
    return ids


def _check_reference(ids: pd.Series, column: _Column, keys: pd.Series, files: Mapping[str, str], found: _Found) -> None:
    assert column.refers_to is not None
    # As objects: the hash-table isin (pandas' Arrow string isin loops in Python; benchmarks/tables_and_store.py).
    unknown = ~ids.astype(object).isin(keys.astype(object)) & (ids != "")
    expected = f"an id listed in {files[column.refers_to]}"
    found.add(column.name, unknown, expected, lambda i: _show(ids.iat[i]))


def _check_text(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    """Free text is kept as written; a label (name, region, recorded_by) is stripped of surrounding space."""
    written = _as_text(raw)
    text = written.str.strip() if column.kind == "label" else written
    length = text.str.len()
    blank = text.str.strip() == ""
    if column.required:
        found.add(column.name, blank, "non-empty text", lambda i: "only whitespace" if written.iat[i] else "empty")
    found.add(
        column.name,
        length > MAX_TEXT_LENGTH,
        f"text of at most {MAX_TEXT_LENGTH} characters",
        lambda i: f"{length.iat[i]} characters",
    )
    return text if column.required else text.where(~blank, np.nan)


def _check_choice(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    values = _as_text(raw).str.strip()
    found.add(
        column.name,
        ~values.isin(column.choices),
        f"one of {', '.join(column.choices)}",
        lambda i: _show(values.iat[i]) if values.iat[i] else "empty",
    )
    return values


def _numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(values as float64, blank cells, cells that are not a finite number)."""
    if ptypes.is_numeric_dtype(raw) and not ptypes.is_bool_dtype(raw):
        values = raw.astype("float64")
        blank = values.isna()
    else:
        text = _as_text(raw).str.strip()
        blank = text == ""
        values = pd.to_numeric(text, errors="coerce").astype("float64")
    unparsed = ~blank & ~np.isfinite(values.fillna(np.inf))
    return values.where(~unparsed, np.nan), blank, unparsed


def _check_money(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    values, blank, unparsed = _numbers(raw)
    expected = "a number >= 0" if column.required else "a number >= 0 or empty"
    bad = unparsed | (values < 0) | (blank & column.required)
    found.add(column.name, bad, expected, lambda i: "empty" if blank.iat[i] else _show(raw.iat[i]))
    return values


def _check_integer(raw: pd.Series, column: _Column, found: _Found, low: int, high: int | None) -> pd.Series:
    values, blank, unparsed = _numbers(raw)
    bad = blank | unparsed | (values < low) | (values != np.floor(values))
    expected = f"a whole number >= {low}" if high is None else f"a year from {low} to {high}"
    if high is not None:
        bad |= values > high
    found.add(column.name, bad, expected, lambda i: "empty" if blank.iat[i] else _show(raw.iat[i]))
    return values.where(~bad, 0).astype("int64")


def _check_time(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(raw):
        parsed = raw if getattr(raw.dt, "tz", None) is not None else raw.dt.tz_localize("UTC")
        blank = raw.isna()
    else:
        text = _as_text(raw).str.strip()
        blank = text == ""
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    bad = parsed.isna()
    found.add(
        column.name,
        bad,
        "an ISO 8601 date or date-time (YYYY-MM-DD[THH:MM:SS])",
        lambda i: "empty" if blank.iat[i] else _show(raw.iat[i]),
    )
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def _check_flag(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    if ptypes.is_bool_dtype(raw):
        return raw.astype(bool)
    words = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
    text = _as_text(raw).str.strip().str.lower()
    values = text.map(words)
    found.add(column.name, values.isna(), "true or false", lambda i: _show(raw.iat[i]) if text.iat[i] else "empty")
    return values.fillna(False).astype(bool)


def _check_list(raw: pd.Series, column: _Column, found: _Found) -> pd.Series:
    if raw.map(lambda value: isinstance(value, list | tuple | np.ndarray)).any():
        raw = raw.map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v)
    parts = _as_text(raw).str.split(";")
    items = parts.explode().str.strip()
    items = items[items.notna() & (items != "")]
    if column.choices:
        unknown = items[~items.isin(column.choices)]
        bad = pd.Series(False, index=raw.index)
        bad[unknown.index.unique()] = True
        found.add(
            column.name,
            bad,
            f"semicolon-separated values among {', '.join(column.choices)}",
            lambda i: ", ".join(_show(v) for v in unknown.loc[[i]]),
        )
    grouped = items.groupby(level=0).agg(tuple)
    return pd.Series([grouped.get(i, ()) for i in range(len(raw))], index=raw.index, dtype=object)


def _check_amount_range(low: pd.Series, high: pd.Series, found: _Found) -> None:
    found.add(
        "min_amount",
        low > high,
        "min_amount <= max_amount",
        lambda i: f"min_amount {low.iat[i]:g} > max_amount {high.iat[i]:g}",
    )


_CHECKS: dict[str, Callable[[pd.Series, _Column, _Found], pd.Series]] = {
    "id": _check_id,
    "text": _check_text,
    "label": _check_text,
    "choice": _check_choice,
    "money": _check_money,
    "count": lambda raw, column, found: _check_integer(raw, column, found, 0, None),
    "year": lambda raw, column, found: _check_integer(raw, column, found, *YEAR_RANGE),
    "time": _check_time,
    "flag": _check_flag,
    "list": _check_list,
}


# ----------------------------------------------------------------------------------------------- wording


def _file_issue(file: str, expected: str, found: str) -> Issue:
    return Issue(column=None, expected=expected, found=found, file=file)


def _sorted(issues: list[Issue], files: Mapping[str, str]) -> list[Issue]:
    order = {files[table]: n for n, table in enumerate(TABLE_NAMES)}
    return sorted(issues, key=lambda issue: (order.get(issue.file or "", -1), issue.row or 0))


def _show(value: object, limit: int = 60) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _short(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


IMPORT_MANIFEST = "realdata.json"  # what an importer of public records writes beside the tables


def read_import_manifest(folder: str | Path) -> dict | None:
    """The import manifest of a data folder, or None for tables that did not come from ``smematch import-real``."""
    path = Path(folder) / IMPORT_MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None
