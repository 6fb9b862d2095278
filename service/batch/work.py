"""The work folder of a batch run, ``<output>.parts/``: what makes a run resumable and its output atomic.

It holds ``manifest.json`` (input digest, k, model version and digest, chunk size, problem count),
``problems.parquet`` (the staged problems, one row group per chunk) and one ``part-NNNNNN.parquet`` per
finished chunk. Every file is written to a temporary name and renamed when complete, so a file that exists
is whole: a killed run leaves finished parts only, and a run with the same manifest picks up from them.
The output itself is also written to a temporary name beside it and renamed at the very end.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matching.errors import SmematchError
from service.batch.scoring import OUTPUT_SCHEMA

__all__ = ["BatchError", "Manifest", "WorkFolder", "write_atomically", "FORMAT_VERSION"]

FORMAT_VERSION = 1


class BatchError(SmematchError):
    """A batch run that cannot go on as asked (existing output, stale parts, unreachable scheduler...)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    input_digest: str
    k: int
    model_version: str
    model_digest: str
    chunk_size: int
    assign: bool
    as_of: str | None = None
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def write_atomically(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a temporary name in the same folder, then rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, temporary)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


class WorkFolder:
    """``<output>.parts/`` for one output path."""

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output)
        self.path = self.output.with_name(self.output.name + ".parts")

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def problems_path(self) -> Path:
        return self.path / "problems.parquet"

    def part_path(self, index: int) -> Path:
        return self.path / f"part-{index:06d}.parquet"

    def exists(self) -> bool:
        return self.path.is_dir()

    def manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def matches(self, manifest: Manifest) -> bool:
        # Assignment runs after every chunk, so parts made with or without it serve either.
        found = self.manifest()
        wanted = asdict(manifest)
        return found is not None and all(found.get(key) == value for key, value in wanted.items() if key != "assign")

    def start(self, manifest: Manifest, *, fresh: bool) -> None:
        """Make the folder for ``manifest``; ``fresh`` removes whatever an earlier run left first."""
        if fresh and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        temporary = self.manifest_path.with_name("manifest.json.tmp")
        temporary.write_text(manifest.to_json(), encoding="utf-8")
        temporary.replace(self.manifest_path)

    def finished(self, n_chunks: int) -> set[int]:
        return {index for index in range(n_chunks) if self.part_path(index).is_file()}

    def write_part(self, index: int, frame: pd.DataFrame) -> None:
        write_atomically(pa.Table.from_pandas(frame, schema=OUTPUT_SCHEMA, preserve_index=False),
                         self.part_path(index))

    def parts(self, n_chunks: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
        for index in range(n_chunks):
            yield pq.read_table(self.part_path(index), columns=columns)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
