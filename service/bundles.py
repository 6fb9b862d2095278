"""Opening model bundles: the one loader of "the current bundle, else the baseline ranker", and refusals that
name the fault.

- ``open_bundle(folder, models_dir=None)``: ``matching.load_bundle`` (manifest schema, scikit-learn version,
  feature names, checksum before unpickling, smoke prediction); anything else a hostile or broken pickle raises
  becomes a ``ModelError`` too. With ``models_dir``, messages name the bundle relative to it (``current``,
  ``runs/<id>``), never by its absolute path: the server shows them.
- ``current_ranker(models_dir)``: the bundle in ``<models_dir>/current`` when there is one, else the baseline
  ranker (cold start). A bundle that exists but does not load raises ``ModelError`` (the CLI's rule), unless
  ``fall_back``: then the newest bundle under ``runs/`` that loads, else the baseline ranker, with the reason as
  a ``degraded`` note (``/readyz`` shows it).
- ``start_ranker(models_dir)``: what the server starts with: ``current_ranker`` with ``fall_back``.

Inputs: bundle folders inside the models folder. Outputs: rankers (``Start``: the ranker, its folder and the
note when the start-up is degraded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from matching.errors import ModelError
from matching.rank.rankers import MANIFEST_FILE, BaselineRanker, LearnedRanker, Ranker, load_bundle

__all__ = ["open_bundle", "current_ranker", "start_ranker", "Start", "shown", "CURRENT", "RUNS",
           "MAX_FALLBACK_TRIES"]

log = logging.getLogger("smematch.api")
CURRENT = "current"
RUNS = "runs"
MAX_FALLBACK_TRIES = 20  # bundles under runs/ tried at start-up, newest first: bounds the start-up time


def shown(folder: Path, models_dir: Path) -> str:
    """``folder`` as a name relative to the models folder (``current``, ``runs/abc``), or its last part."""
    try:
        return Path(folder).resolve().relative_to(Path(models_dir).resolve()).as_posix() or "."
    except (ValueError, OSError):
        return Path(folder).name


def _redacted(error: ModelError, folder: Path, models_dir: Path) -> ModelError:
    message = str(error)
    for spelled in {str(folder), str(Path(folder).resolve())}:
        message = message.replace(spelled, shown(folder, models_dir))
    return type(error)(message)


def open_bundle(folder: Path, models_dir: Path | None = None) -> LearnedRanker:
    """Load and check the bundle in ``folder``; raises ``ModelError`` (``IncompatibleModel``) naming the fault,
    relative to ``models_dir`` when given."""
    try:
        return load_bundle(folder)
    except ModelError as error:
        raise (error if models_dir is None else _redacted(error, folder, models_dir)) from None
    except Exception as error:  # an estimator of the wrong kind can fail anywhere while it is wrapped
        name = str(folder) if models_dir is None else shown(folder, models_dir)
        raise ModelError(f"model bundle at {name} could not be opened: {type(error).__name__}") from None


@dataclass(frozen=True, slots=True)
class Start:
    ranker: Ranker
    source: Path | None
    degraded: str | None = None


def _runs_newest_first(models_dir: Path) -> list[Path]:
    runs = Path(models_dir) / RUNS
    try:
        stamped = [((folder / MANIFEST_FILE).stat().st_mtime_ns, folder) for folder in runs.iterdir()
                   if (folder / MANIFEST_FILE).is_file()]
    except OSError:
        return []
    return [folder for _, folder in sorted(stamped, reverse=True)]


def current_ranker(models_dir: Path, *, fall_back: bool = False) -> Start:
    """The current model; see the module docstring. Without ``fall_back``, errors name the bundle by its path."""
    current = Path(models_dir) / CURRENT
    if not (current / MANIFEST_FILE).exists():
        log.info("no model bundle at %s: using the baseline ranker", current)
        return Start(BaselineRanker(), None)
    if not fall_back:
        return Start(open_bundle(current), current)
    try:
        return Start(open_bundle(current, models_dir), current)
    except ModelError as error:
        refused = f"{CURRENT} refused: {error}"
    for folder in _runs_newest_first(models_dir)[:MAX_FALLBACK_TRIES]:
        try:
            ranker = open_bundle(folder, models_dir)
        except ModelError:
            continue
        note = f"{refused}; serving {shown(folder, models_dir)}, the newest good bundle"
        log.warning("model bundle refused at start-up: %s", note)
        return Start(ranker, folder, note)
    note = f"{refused}; no good bundle under {RUNS}/, serving the baseline ranker"
    log.warning("model bundle refused at start-up: %s", note)
    return Start(BaselineRanker(), None, note)


def start_ranker(models_dir: Path) -> Start:
    """What the server serves at start-up: ``current``, else the newest good bundle under ``runs/`` (degraded),
    else the baseline ranker."""
    return current_ranker(models_dir, fall_back=True)
