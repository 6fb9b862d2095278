"""Bringing records in: a data folder into the store, and public records (SBA 7(a) loans, Kiva loans) as a
data folder of the table contract.

``import_into_store(tables, url)`` upserts validated tables into the store (schema created first), all or
nothing (``smematch import``; the SQL is ``service.store``'s).
``import_records(dataset, path, out)`` runs the importer of ``dataset`` (one of ``DATASETS``): ``sba``
(``service.imports.sba``) or ``kiva`` (``service.imports.kiva``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from matching.errors import InvalidInput, Issue

if TYPE_CHECKING:
    from matching.tables.files import Tables
    from service.imports.output import ImportSummary
    from service.store import ImportSummary as StoreImportSummary
    from service.store import Progress

__all__ = ["DATASETS", "import_records", "import_into_store"]

DATASETS = ("sba", "kiva")


def import_records(dataset: str, path: Path, out: Path, *, profile_until: str | None = None,
                   naics: Path | None = None, partners: Path | None = None) -> ImportSummary:
    """The records of ``dataset`` at ``path`` as the four tables in ``out``; ``naics`` is SBA's NAICS
    descriptions file, ``partners`` Kiva's partner names file (defaults beside the records)."""
    if dataset == "sba":
        from service.imports.sba import import_sba

        return import_sba(path, out, naics_path=naics, profile_until=profile_until)
    if dataset == "kiva":
        from service.imports.kiva import import_kiva

        return import_kiva(path, out, partners_path=partners, profile_until=profile_until)
    raise InvalidInput(Issue(column="dataset", expected=f"one of {', '.join(DATASETS)}", found=repr(dataset)))


def import_into_store(tables: Tables, url: str, *, progress: Progress | None = None) -> StoreImportSummary:
    """Upsert ``tables`` into the store at ``url`` in one transaction, creating its schema when new."""
    from service.store import import_tables, opened

    with opened(url, schema=True) as engine:
        return import_tables(engine, tables, progress=progress)
