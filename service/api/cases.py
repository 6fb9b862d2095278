"""What the case routes do, between the HTTP edge and the store: shape events, queue entries and logged
recommendations with their reasons rendered in the caller's language, escalate and resolve, and turn the
engine's answers into case moves.

Inputs: an engine, ids, the caller and a language (``en`` or ``zh``). Outputs: dicts shaped like
``service.api.case_schemas``. ``engine_moves`` gives the moves for the recommendation log writer: a stored
problem the engine answered becomes ``recommended`` (from ``open``), one it escalates ``escalated`` (from
``open`` or ``recommended``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from matching.explain.reasons import Reason, reason_data, reasons_data, render
from matching.records import RankedInstitution, Recommendation
from service.api.security import Caller
from service.settings import Settings
from service.store.cases import CaseRules, Move, apply_moves, escalation, history, resolution
from service.store.log import logged_for_problem as logged_page
from service.store.queue import escalation_queue, overview, problems_with_status
from service.store.records import get_records

__all__ = ["reason_out", "event_out", "problem_case", "escalate", "resolve", "queue_page", "logged_for_problem",
           "logged_reasons", "ranked_reasons_out", "problems_page", "ids_with_status", "overview_out", "engine_moves",
           "stored_subjects", "who", "case_rules"]


def case_rules(settings: Settings) -> CaseRules:
    return CaseRules(failed_referrals=settings.case_escalate_after_failed_referrals,
                     days_open=settings.case_escalate_after_days)


def who(caller: Caller) -> str:
    return caller.name or caller.key_id


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def reason_out(reason: str | Mapping[str, Any] | None, language: str) -> dict[str, Any] | None:
    """``{code, params, text}``, ``text`` in ``language``."""
    data = reason_data(reason)
    if data is None:
        return None
    if language == "en" and isinstance(reason, Reason):  # its text is the English sentence already
        return {**data, "text": str(reason)}
    return {**data, "text": render(data["code"], data["params"], language)}


def ranked_reasons_out(ranked: RankedInstitution, language: str) -> list[dict[str, Any]]:
    """A recommended institution's reasons as ``{code, params, text}`` (the engine's sentence is the English)."""
    found = reasons_data(ranked.reasons, ranked.reason_data)
    if language == "en" and len(found) == len(ranked.reasons):
        return [{**data, "text": text} for data, text in zip(found, ranked.reasons, strict=True)]
    return [{**data, "text": render(data["code"], data["params"], language)} for data in found]


def event_out(event: Mapping[str, Any], language: str) -> dict[str, Any]:
    return {"sequence": event["sequence"], "status": event["status"], "at": _utc(event["at"]),
            "source": event["source"], "by": event["by"], "reason": reason_out(event["reason"], language)}


def problem_case(problem: dict[str, Any], engine: Engine, language: str) -> dict[str, Any]:
    """``problem`` (a stored problem, shaped) with its case's ``status`` and ``history``."""
    found = history(engine, problem["problem_id"])
    status, events = found if found is not None else ("open", [])
    return {**problem, "status": status, "history": [event_out(e, language) for e in events]}


def problems_page(engine: Engine, status: str, limit: int, offset: int, enterprise_id: str | None) -> dict[str, Any]:
    """The problems whose case is ``status`` (full records plus ``status``), by id, with ``next_offset``."""
    listed = problems_with_status(engine, status, limit=limit + 1, offset=offset, enterprise_id=enterprise_id)
    found = get_records(engine, "problems", [p["problem_id"] for p in listed[:limit]])
    items = [{**found[p["problem_id"]], "score": None, "status": status} for p in listed[:limit]
             if p["problem_id"] in found]
    return {"items": items, "next_offset": offset + limit if len(listed) > limit else None}


def overview_out(engine: Engine) -> dict[str, Any]:
    counts = overview(engine)
    return {**counts, "as_of": _utc(counts["as_of"])}


def ids_with_status(engine: Engine, status: str, enterprise_id: str | None) -> set[str]:
    return {p["problem_id"] for p in problems_with_status(engine, status, limit=None, enterprise_id=enterprise_id)}


def escalate(engine: Engine, problem_id: str, note: str, caller: Caller, language: str) -> tuple[dict[str, Any], bool]:
    """Escalate for a caseworker: (the answer, recorded). Escalated already: nothing recorded, and it says so."""
    reason = {"code": "caseworker_escalated", "params": {"note": note}}
    applied, = apply_moves(engine, [escalation(problem_id, source="caseworker", reason=reason, by=who(caller))])
    event: dict[str, Any] | None
    if applied.recorded:
        event = applied.events[0]
        message = f"problem {problem_id!r} is escalated to the provincial working group"
    else:
        _, events = history(engine, problem_id) or ("open", [])
        earlier = next((e for e in reversed(events) if e["status"] == "escalated"), None)
        event = earlier
        if applied.status == "escalated" and earlier is not None:
            message = (f"problem {problem_id!r} was already escalated at {earlier['at']:%Y-%m-%d %H:%M} UTC "
                       f"({earlier['source']}); nothing was recorded")
        else:
            message = f"problem {problem_id!r} is {applied.status}: it cannot be escalated; nothing was recorded"
    return {"problem_id": problem_id, "status": applied.status, "escalated": applied.recorded,
            "message": message, "event": None if event is None else event_out(event, language)}, applied.recorded


def resolve(engine: Engine, problem_id: str, text: str, status: str, caller: Caller) -> str:
    """Record the province's resolution; returns the new status (``CaseConflict`` when not escalated)."""
    applied, = apply_moves(engine, [resolution(problem_id, status, note=text, by=who(caller))])
    return applied.status


def queue_page(engine: Engine, *, limit: int, offset: int, language: str, **filters: Any) -> dict[str, Any]:
    entries = escalation_queue(engine, limit=limit + 1, offset=offset, **filters)
    items = [{**entry, "stated_at": _utc(entry["stated_at"]), "escalated_at": _utc(entry["escalated_at"]),
              "reason": reason_out(entry["reason"], language),
              "engine_reason": reason_out(entry["engine_reason"], language),
              "referrals": [{**r, "recorded_at": _utc(r["recorded_at"])} for r in entry["referrals"]]}
             for entry in entries[:limit]]
    return {"items": items, "limit": limit, "offset": offset,
            "next_offset": offset + limit if len(entries) > limit else None}


def logged_for_problem(engine: Engine, problem_id: str, *, limit: int, offset: int,
                       language: str) -> dict[str, Any]:
    """Every recommendation logged for ``problem_id``, newest first, with ranked institutions and reasons."""
    found, more = logged_page(engine, problem_id, limit=limit, offset=offset)
    items = []
    for head in found:
        request = head["request"] or {}
        kept = request.get("reasons") or []
        institutions = [{"rank": row["rank"], "institution_id": row["institution_id"], "score": row["score"],
                         "reasons": [reason_out(r, language) for r in (kept[n] if n < len(kept) else [])]}
                        for n, row in enumerate(head["items"])]
        items.append({"recommendation_id": head["recommendation_id"], "created_at": _utc(head["created_at"]),
                      "model_version": head["model_version"], "escalate": request.get("escalate"),
                      "escalate_reason": reason_out(request.get("escalate_reason"), language),
                      "institutions": institutions})
    return {"items": items, "next_offset": offset + limit if more else None}


def logged_reasons(result: Recommendation) -> dict[str, Any]:
    """What the log keeps of a result's reasons, as ``{code, params}`` (in its request JSON)."""
    return {"escalate_reason": reason_data(result.escalate_reason),
            "reasons": [reasons_data(item.reasons, item.reason_data) for item in result.institutions]}


def engine_moves(results: Iterable[Recommendation], by: str | None) -> list[Move]:
    moves: list[Move] = []
    for result in results:
        if result.problem_id is None:
            continue
        if result.escalate:
            reason = reason_data(result.escalate_reason) or {"code": "text", "params": {"text": ""}}
            moves.append(Move(result.problem_id, "escalated", "engine", reason, by,
                              frozenset({"open", "recommended"})))
        else:
            reason = {"code": "recommended", "params": {"count": len(result.institutions)}}
            moves.append(Move(result.problem_id, "recommended", "engine", reason, by, frozenset({"open"})))
    return moves


def stored_subjects(jobs: Sequence[Any]) -> list[Recommendation]:
    """The results of jobs about stored problems (a stored problem or enterprise, not ad-hoc text)."""
    return [result for job in jobs if job.meta.get("subject") in ("problem", "enterprise")
            for result in (job.results or [])]
