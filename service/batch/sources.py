"""Where a batch run's tables come from, and how its problems are staged for streaming.

Inputs: a data folder (``FolderSource``: CSV or Parquet files of the table contract, problems read in chunks,
never all at once) or ``Tables`` already in memory (``TablesSource``, e.g. loaded from the store).
Outputs: ``Context`` (enterprises, institutions, outcomes: validated and normalised), a digest of the input,
and ``stage``: the problems validated chunk by chunk (the table contract and the engine's own checks), joined
with their enterprise's sector, region, employees, annual revenue and founding year, and written to one
Parquet file whose row groups are the batch's chunks. Every chunk reads back with ``read_chunk``, from any
process (the Dask workers read it where they run). Every issue of every chunk is reported together.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matching.errors import InvalidInput, Issue
from matching.tables.files import COLUMNS, Tables, validate_tables
from matching.understand.problems import validate_problems
from training.digest import tables_digest

__all__ = ["Context", "ProblemSource", "FolderSource", "TablesSource", "stage", "read_chunk", "ENTERPRISE_CONTEXT",
           "MAX_ISSUES"]

ENTERPRISE_CONTEXT = ("sector", "region", "employees", "annual_revenue", "founded")
MAX_ISSUES = 200  # issues listed one by one; beyond, a count
_CONTEXT_TABLES = ("enterprises", "institutions", "outcomes")


@dataclass(frozen=True, slots=True)
class Context:
    """Everything but the problems: small enough to hold in memory (enterprises: a few columns each)."""

    enterprises: pd.DataFrame
    institutions: pd.DataFrame
    outcomes: pd.DataFrame
    # The problems the outcomes name (the history of cases needs their text, district and sector); the other
    # problems stream through ``problem_chunks``.
    history_problems: pd.DataFrame = field(default_factory=lambda: _empty("problems"))


class ProblemSource(Protocol):
    """A batch run's input. ``problem_chunks`` yields raw problem rows in file order, ``size`` at a time."""

    name: str

    def context(self) -> Context: ...

    def digest(self) -> str: ...

    def problem_chunks(self, size: int) -> Iterator[pd.DataFrame]: ...

    def size_hint(self) -> int: ...  # about how many problems there are (to choose a chunk size)


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS[table]})


class TablesSource:
    """Tables in memory (the store's ``load_tables``): already validated, so only chunked and joined here."""

    def __init__(self, tables: Tables, *, name: str = "store") -> None:
        self.tables = tables
        self.name = name

    def context(self) -> Context:
        tables = self.tables
        named = tables.problems["problem_id"].astype(str).isin(set(tables.outcomes["problem_id"].astype(str)))
        return Context(tables.enterprises, tables.institutions, tables.outcomes,
                       tables.problems[named.to_numpy()].reset_index(drop=True))

    def digest(self) -> str:
        return tables_digest(self.tables.frames())

    def size_hint(self) -> int:
        return len(self.tables.problems)

    def problem_chunks(self, size: int) -> Iterator[pd.DataFrame]:
        problems = self.tables.problems
        for start in range(0, len(problems), size):
            yield problems.iloc[start : start + size]


class FolderSource:
    """A data folder of CSV (UTF-8) or Parquet files; problems are read ``size`` rows at a time."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.name = str(folder)

    def _file(self, table: str) -> Path | None:
        found = [p for p in (self.folder / f"{table}.csv", self.folder / f"{table}.parquet") if p.is_file()]
        return found[0] if found else None

    def _files(self) -> dict[str, Path]:
        issues: list[Issue] = []
        if not self.folder.is_dir():
            raise InvalidInput(Issue(column=None, expected="a folder of tables", found=f"no folder {self.name!r}"))
        files: dict[str, Path] = {}
        for table in ("enterprises", "problems", "institutions", "outcomes"):
            path = self._file(table)
            if path is not None:
                files[table] = path
            elif table != "outcomes":
                issues.append(Issue(column=None, expected=f"a file {table}.csv or {table}.parquet", found="none",
                                    file=f"{table}.csv"))
        if issues:
            raise InvalidInput(issues)
        return files

    def context(self) -> Context:
        files = self._files()
        issues: list[Issue] = []
        raw = {table: _read_whole(files[table], issues) if table in files else _empty(table)
               for table in _CONTEXT_TABLES}
        header = _problem_header(files["problems"], issues)
        if issues:
            raise InvalidInput(issues)
        missing = [c for c in COLUMNS["problems"] if c not in header]
        issues.extend(Issue(column=c, expected=f"a column {c!r}", file=files["problems"].name,
                            found=f"columns {', '.join(header) or 'none'}") for c in missing)
        names = {table: path.name for table, path in files.items()}
        names.setdefault("outcomes", "outcomes.csv")
        try:
            # Outcomes name problems, which are checked chunk by chunk later (``stage``): stand-ins here.
            tables = validate_tables(raw["enterprises"], _stand_ins(raw["outcomes"], raw["enterprises"]),
                                     raw["institutions"], raw["outcomes"], files=names)
        except InvalidInput as error:
            issues.extend(error.issues)
        if issues:
            raise InvalidInput(issues)
        return Context(tables.enterprises, tables.institutions, tables.outcomes, self._named(tables.outcomes))

    def _named(self, outcomes: pd.DataFrame) -> pd.DataFrame:
        """The problems the outcomes name, read chunk by chunk (their rows are checked when staged)."""
        wanted = set(outcomes["problem_id"].astype(str))
        if not wanted:
            return _empty("problems")
        parts = [chunk[chunk["problem_id"].astype(str).str.strip().isin(wanted)]
                 for chunk in self.problem_chunks(50_000)]
        found = pd.concat(parts, ignore_index=True) if parts else _empty("problems")
        found = found.assign(problem_id=found["problem_id"].astype(str).str.strip(),
                             enterprise_id=found["enterprise_id"].astype(str).str.strip(),
                             amount=pd.to_numeric(found["amount"], errors="coerce"))
        return found.drop_duplicates("problem_id").reset_index(drop=True)

    def digest(self) -> str:
        """blake2b over the bytes of every input file, in a fixed order."""
        digest = hashlib.blake2b(digest_size=16)
        for table, path in sorted(self._files().items()):
            digest.update(f"{table}:{path.name}:".encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
        return digest.hexdigest()

    def size_hint(self) -> int:
        """Rows of a Parquet file; of a CSV file, its line breaks less the header's (more than the rows when
        texts hold line breaks: an estimate, read at disk speed). 0 when the file cannot be read."""
        path = self._files()["problems"]
        try:
            if path.suffix == ".parquet":
                return pq.ParquetFile(path).metadata.num_rows
            with path.open("rb") as handle:
                return max(0, sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 22), b"")) - 1)
        except (OSError, ValueError):  # ArrowInvalid: reading the problems reports it properly
            return 0

    def problem_chunks(self, size: int) -> Iterator[pd.DataFrame]:
        path = self._files()["problems"]
        try:
            if path.suffix == ".parquet":
                handle = pq.ParquetFile(path)
                for batch in handle.iter_batches(batch_size=size, columns=list(COLUMNS["problems"])):
                    yield batch.to_pandas()
                return
            with pd.read_csv(path, dtype=object, na_filter=False, encoding="utf-8-sig", chunksize=size) as reader:
                yield from reader
        except (OSError, ValueError, pd.errors.ParserError) as error:  # ArrowInvalid and decode errors too
            raise InvalidInput(Issue(column=None, expected="a readable table", found=_first_line(error),
                                     file=path.name)) from None


def _stand_ins(outcomes: pd.DataFrame | None, enterprises: pd.DataFrame | None) -> pd.DataFrame:
    """Valid placeholder problems for the ids the outcomes name, so that only their own columns are checked."""
    if outcomes is None or "problem_id" not in outcomes or enterprises is None or len(enterprises) == 0 \
            or "enterprise_id" not in enterprises:
        return _empty("problems")
    ids = outcomes["problem_id"].astype(str).str.strip()
    ids = ids[ids != ""].unique()
    return pd.DataFrame({"problem_id": ids, "enterprise_id": str(enterprises["enterprise_id"].iat[0]).strip(),
                         "text": "placeholder", "amount": np.nan, "stated_at": "2000-01-01"})


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _read_whole(path: Path, issues: list[Issue]) -> pd.DataFrame | None:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        return pd.read_csv(io.BytesIO(data), dtype=object, na_filter=False, encoding="utf-8")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        issues.append(Issue(column=None, expected="a readable UTF-8 CSV or Parquet table", found=_first_line(error),
                            file=path.name))
        return None


def _problem_header(path: Path, issues: list[Issue]) -> list[str]:
    try:
        if path.suffix == ".parquet":
            return list(pq.read_schema(path).names)
        with path.open("rb") as handle:
            first = handle.readline().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        return list(pd.read_csv(io.StringIO(first), dtype=object).columns)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        issues.append(Issue(column=None, expected="a readable table with a header row", found=_first_line(error),
                            file=path.name))
        return []


# ------------------------------------------------------------------------------------------------ staging

STAGED_SCHEMA = pa.schema([
    ("problem_id", pa.string()), ("enterprise_id", pa.string()), ("text", pa.string()), ("amount", pa.float64()),
    ("stated_at", pa.timestamp("us")), ("sector", pa.string()), ("region", pa.string()),
    ("employees", pa.int64()), ("annual_revenue", pa.float64()), ("founded", pa.int64()),
])


def stage(source: ProblemSource, context: Context, path: Path, *, chunk_size: int,
          regions: tuple[str, ...], workers: int = 1) -> int:
    """Validate every problem, join its enterprise and write ``path`` (row group = chunk). Returns the count.

    Raises one ``InvalidInput`` with the issues of every chunk (rows counted from the file's first data row);
    ``path`` then does not exist. Written to a temporary name first and renamed when complete. With
    ``workers`` > 1 the chunks are checked in that many forked processes (this one reads and writes, in order).
    """
    enterprises = context.enterprises.set_index("enterprise_id", drop=False)
    located = getattr(source, "_file", lambda _table: None)
    files = {table: located(table).name if located(table) is not None else table
             for table in ("problems", "enterprises")}
    file_name = files["problems"]
    issues: list[Issue] = []
    extra = 0
    total = 0
    temporary = path.with_name(path.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    try:
        writer = pq.ParquetWriter(temporary, STAGED_SCHEMA)
        for chunk, (found, staged) in _checked_in_order(source.problem_chunks(chunk_size), enterprises, files,
                                                        regions, workers):
            if len(issues) + len(found) > MAX_ISSUES:
                extra += len(issues) + len(found) - MAX_ISSUES
                found = found[: max(0, MAX_ISSUES - len(issues))]
            issues.extend(found)
            if not issues and staged is not None:
                writer.write_table(pa.Table.from_pandas(staged, schema=STAGED_SCHEMA, preserve_index=False),
                                   row_group_size=chunk_size)
            total += len(chunk)
        writer.close()
        writer = None
        if not issues:
            issues.extend(_global_issues(temporary, context, file_name))
        if extra:
            issues.append(Issue(column=None, expected="valid rows", found=f"{extra} more problem(s) not listed",
                                file=file_name))
        if issues:
            raise InvalidInput(issues)
        temporary.replace(path)
        return total
    finally:
        if writer is not None:
            writer.close()
        temporary.unlink(missing_ok=True)


_inherited: dict[str, Any] = {}  # in a forked checker: the enterprises, file names and regions


def _check_forked(chunk: pd.DataFrame, offset: int) -> tuple[list[Issue], pd.DataFrame | None]:
    return _checked(chunk, _inherited["enterprises"], offset, _inherited["files"], _inherited["regions"])


def _checked_in_order(chunks: Iterator[pd.DataFrame], enterprises: pd.DataFrame, files: dict[str, str],
                      regions: tuple[str, ...], workers: int
                      ) -> Iterator[tuple[pd.DataFrame, tuple[list[Issue], pd.DataFrame | None]]]:
    """(chunk, its issues and staged frame) for every chunk, in order; at most ``2 * workers`` chunks in flight
    when checked in forked processes, so memory stays bounded however long the input."""
    offset = 0
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk in chunks:
            yield chunk, _checked(chunk, enterprises, offset, files, regions)
            offset += len(chunk)
        return
    _inherited.update(enterprises=enterprises, files=files, regions=regions)  # before the fork: inherited
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            window: deque[tuple[pd.DataFrame, Future[tuple[list[Issue], pd.DataFrame | None]]]] = deque()
            for chunk in chunks:
                window.append((chunk, pool.submit(_check_forked, chunk, offset)))
                offset += len(chunk)
                if len(window) >= 2 * workers:
                    first, future = window.popleft()
                    yield first, future.result()
            while window:
                first, future = window.popleft()
                yield first, future.result()
    finally:
        _inherited.clear()


def _checked(chunk: pd.DataFrame, enterprises: pd.DataFrame, offset: int, files: dict[str, str],
             regions: tuple[str, ...]) -> tuple[list[Issue], pd.DataFrame | None]:
    """One chunk checked against the table contract and the engine's own checks (rows counted file-wide);
    with no issue, the chunk normalised and joined with its enterprises."""
    chunk = chunk.reset_index(drop=True)
    ids = chunk["enterprise_id"].astype(str).str.strip()
    # get_indexer reuses the index's hash table; Series.isin would rebuild it from every enterprise each chunk.
    position = enterprises.index.get_indexer(ids.unique())
    known = enterprises.iloc[position[position >= 0]].reset_index(drop=True)
    issues: list[Issue] = []
    frame = None
    try:
        frame = _joined(validate_tables(known, chunk, _empty("institutions"), files=files).problems, enterprises)
    except InvalidInput as error:
        issues.extend(error.issues)
    try:  # the engine's checks of the text (only punctuation...), also on rows the contract found bad
        validate_problems(frame if frame is not None else chunk[["text"]].astype(str),
                          regions=regions)
    except InvalidInput as error:
        seen = {(issue.row, issue.column) for issue in issues}
        issues.extend(issue for issue in error.issues if (issue.row, issue.column) not in seen)
    if issues:
        return [_shift(issue, offset, files["problems"], len(chunk)) for issue in issues], None
    return [], frame


def _global_issues(staged: Path, context: Context, file: str) -> list[Issue]:
    """What no single chunk can tell: problem ids repeated across chunks, outcomes naming unknown problems."""
    ids = pq.read_table(staged, columns=["problem_id"]).column("problem_id").to_pandas()
    issues = [Issue(column="problem_id", expected="a unique id", found=repr(ids.iat[row]), file=file, row=row + 1)
              for row in np.flatnonzero(ids.duplicated().to_numpy())[:MAX_ISSUES]]
    outcomes = context.outcomes
    if len(outcomes):
        unknown = np.flatnonzero(~outcomes["problem_id"].isin(ids).to_numpy())
        issues.extend(Issue(column="problem_id", expected=f"an id listed in {file}", file="outcomes",
                            found=repr(outcomes["problem_id"].iat[row]), row=row + 1)
                      for row in unknown[:MAX_ISSUES])
    return issues


def _shift(issue: Issue, offset: int, file: str, rows: int) -> Issue:
    row = issue.row if issue.row is not None else (1 if rows == 1 and issue.column != "k" else None)
    row = None if row is None else row + offset
    return Issue(column=issue.column, expected=issue.expected, found=issue.found, file=issue.file or file, row=row)


def _joined(problems: pd.DataFrame, enterprises: pd.DataFrame) -> pd.DataFrame:
    context = enterprises.loc[problems["enterprise_id"], list(ENTERPRISE_CONTEXT)].reset_index(drop=True)
    return pd.concat([problems.reset_index(drop=True), context], axis=1)


def read_chunk(path: str | Path, index: int) -> pd.DataFrame:
    """Row group ``index`` of a staged problems file, as the frame ``Matcher.recommend`` takes."""
    frame = pq.ParquetFile(path).read_row_group(index).to_pandas()
    frame["amount"] = frame["amount"].astype(np.float64)
    return frame
