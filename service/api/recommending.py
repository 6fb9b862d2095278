"""From a recommendation request to logged results: the problems to answer, the log entries, the response.

- ``problems_for``: the request's subject as problem rows the engine takes: an ad-hoc text (with the
  sector, region, amount and size the caller gave), a stored problem, or every problem of a stored
  enterprise (each with its enterprise's context, via ``service.store``); ``check_rows`` adds the checks
  the request schema cannot make (known district, text with words).
- ``log_entries``: one log entry per answered problem, written by ``service.api.logbook`` (one transaction
  per micro-batch, or the local spool when the store does not take it at once). Ids: the response's
  ``recommendation_id`` is a new UUID; its problems are logged as ``<recommendation_id>-1``, ``-2``, ... in
  response order.
- Reasons: the request JSON keeps each shown institution's reasons and the escalation reason as
  ``{code, params}`` (``service.api.cases.logged_reasons``); ``response`` renders them as ``{code, params,
  text}`` in the caller's language. Once the log is in the store, the cases of stored problems move
  (``move_cases``: recommended, or escalated by the engine).
- Propensity (logged per shown institution): ranking is deterministic, so every shown institution was shown
  with probability 1; what is uncertain is whether the caseworker *looked* at it. We log the examination
  propensity of the position-based model, ``1 / rank`` (eta = 1, as in Joachims et al. 2017), which
  off-policy estimators divide by. The request JSON also holds ``propensity_model`` so readers know.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from matching.errors import InvalidInput, Issue
from matching.normalise import has_content
from matching.records import Recommendation
from service.api.batching import Job, LogWriter
from service.api.cases import engine_moves, logged_reasons, ranked_reasons_out, reason_out, stored_subjects
from service.api.errors import ApiError
from service.api.schemas import EnterpriseSubject, ProblemSubject, RecommendationIn, TextSubject
from service.store import LoggedRecommendation, get_enterprise, get_problem, log_recommendations, problems_of
from service.store.cases import apply_moves

__all__ = ["problems_for", "check_rows", "unknown_regions", "log_entries", "log_writer", "response",
           "new_recommendation_id", "propensity", "PROPENSITY_MODEL"]

PROPENSITY_MODEL = "position-based examination, 1/rank"
_AD_HOC = ("text", "sector", "region", "amount", "employees", "annual_revenue", "founded")


_PREFIX = uuid.uuid4().hex[:16]  # per process: ids stay unique across workers and restarts
_COUNTER = itertools.count(1)


def new_recommendation_id() -> str:
    """A unique id, cheap to make (a random per-process prefix and a counter: no system call per request)."""
    return f"{_PREFIX}{next(_COUNTER):012x}"


def propensity(rank: int) -> float:
    return 1.0 / rank


def problems_for(engine: Engine, body: RecommendationIn) -> tuple[list[dict[str, Any]], str | None]:
    """(problem rows, enterprise id) for the request's subject; 404 for an unknown stored id."""
    if isinstance(body, TextSubject):
        row = {name: getattr(body, name) for name in _AD_HOC}
        row["sector"] = None if body.sector is None else body.sector.value
        return [row], None
    if isinstance(body, ProblemSubject):
        problem = get_problem(engine, body.problem_id)
        if problem is None:
            raise ApiError.field(404, "problem_id", f"no problem {body.problem_id!r}", "unknown problem")
        return [asdict(problem)], problem.enterprise_id
    assert isinstance(body, EnterpriseSubject)
    if get_enterprise(engine, body.enterprise_id) is None:
        raise ApiError.field(404, "enterprise_id", f"no enterprise {body.enterprise_id!r}", "unknown enterprise")
    return [asdict(p) for p in problems_of(engine, body.enterprise_id)], body.enterprise_id


def unknown_regions(rows: Sequence[dict[str, Any]], regions: frozenset[str]) -> list[str]:
    return [row["region"] for row in rows if row.get("region") is not None and row["region"] not in regions]


def check_rows(rows: Sequence[dict[str, Any]], regions: frozenset[str]) -> None:
    """The checks the request schema cannot make: a known district, and text with words in it.

    The engine checks again when it scores; checking here keeps one bad request from failing a batch.
    """
    issues = []
    many = len(rows) > 1
    for number, row in enumerate(rows, start=1):
        where = number if many else None
        if not has_content(row["text"]):
            issues.append(Issue(column="text", expected="words (letters, digits or Chinese characters)",
                                found="only punctuation or symbols", row=where))
        region = row.get("region")
        if region is not None and region not in regions:
            shown = ", ".join(sorted(regions)[:12]) + (" ..." if len(regions) > 12 else "")
            issues.append(Issue(column="region", expected=f"a known region ({shown})", found=repr(region), row=where))
    if issues:
        raise InvalidInput(issues)


def log_entries(jobs: Sequence[Job]) -> list[LoggedRecommendation]:
    """One log entry per answered problem of ``jobs``, each with the model version that answered it."""
    entries: list[LoggedRecommendation] = []
    for job in jobs:
        assert job.results is not None
        for position, result in enumerate(job.results, start=1):
            entries.append(LoggedRecommendation(
                recommendation=result,
                text=job.rows[position - 1]["text"],
                request={**job.meta, "k": job.k, "escalate": result.escalate,
                         "categories": result.categories, "propensity_model": PROPENSITY_MODEL,
                         **logged_reasons(result)},
                enterprise_id=job.meta.get("enterprise_id"),
                propensities=[propensity(item.rank) for item in result.institutions],
                recommendation_id=f"{job.meta['recommendation_id']}-{position}",
            ))
    return entries


def move_cases(engine: Engine, jobs: Sequence[Job]) -> None:
    """Move the cases of the stored problems ``jobs`` answered (``service.api.cases.engine_moves``)."""
    moves = [move for job in jobs for move in engine_moves(stored_subjects([job]), job.meta.get("key_id"))]
    if moves:
        apply_moves(engine, moves)


def log_writer(engine: Engine) -> LogWriter:
    """Straight to the store, waiting as long as it takes (the service uses ``service.api.logbook``)."""
    def write(jobs: Sequence[Job]) -> None:
        log_recommendations(engine, log_entries(jobs))
        move_cases(engine, jobs)

    return write


def response(recommendation_id: str, model_version: str, enterprise_id: str | None,
             results: Sequence[Recommendation], language: str = "en") -> dict[str, Any]:
    shaped = []
    for position, result in enumerate(results, start=1):
        item = result.to_dict()
        item.pop("model_version", None)
        for shown, ranked in zip(item["institutions"], result.institutions, strict=True):
            shown["reasons"] = ranked_reasons_out(ranked, language)
        item["escalate_reason"] = reason_out(result.escalate_reason, language)
        item["recommendation_id"] = f"{recommendation_id}-{position}"
        shaped.append(item)
    version = results[0].model_version if results else model_version
    return {"recommendation_id": recommendation_id, "model_version": version, "enterprise_id": enterprise_id,
            "results": shaped, "escalate": any(r.escalate for r in results)}
