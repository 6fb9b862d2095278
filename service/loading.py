"""Where the CLI and the service get their inputs: the tables (a data folder or the store) and the current model.

The current model is the bundle in ``<models_dir>/current`` when one exists, else the baseline ranker (cold
start); a bundle that exists but does not load is an error, not a silent fallback.
"""

from __future__ import annotations

import logging
from pathlib import Path

from matching.errors import InvalidInput, Issue
from matching.rank.rankers import MANIFEST_FILE, BaselineRanker, Ranker, load_bundle
from matching.tables.files import Tables, read_tables
from service.settings import Settings

__all__ = ["load_tables_from", "current_ranker", "CURRENT_BUNDLE"]

log = logging.getLogger(__name__)
CURRENT_BUNDLE = "current"


def load_tables_from(*, data: Path | None, db: str | None, settings: Settings) -> Tables:
    """Tables from ``data`` (a folder), else ``db`` (a database URL), else the configured store."""
    if data is not None and db is not None:
        raise InvalidInput(Issue(column="--data/--db", expected="one of --data or --db", found="both"))
    if data is not None:
        if not Path(data).is_dir():
            raise InvalidInput(Issue(column="--data", expected="an existing folder", found=str(data)))
        return read_tables(data)
    from service.store import load_tables, make_engine

    engine = make_engine(db or settings.database_url)
    try:
        return load_tables(engine)
    finally:
        engine.dispose()


def current_ranker(models_dir: Path) -> Ranker:
    folder = Path(models_dir) / CURRENT_BUNDLE
    if not (folder / MANIFEST_FILE).exists():
        log.info("no model bundle at %s: using the baseline ranker", folder)
        return BaselineRanker()
    return load_bundle(folder)
