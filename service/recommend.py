"""Recommendations as ``smematch recommend`` asks for them: problems from one text or a JSON-lines file, the
tables from a folder or the store (``service.loading.load_tables_from``), the model from a bundle folder or
the current one (``service.bundles.current_ranker``), and the matcher fitted as of a date when given.

- ``read_jsonl(path)``: problems from a JSON-lines file; every unreadable line is reported together.
- ``with_known_problems(lines, tables)``: lines that name a ``problem_id`` of the tables take its fields.
- ``recommend_problems(settings, ...)``: the ``Recommendation`` of every problem, in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from matching.errors import InvalidInput, Issue
from matching.records import Recommendation
from matching.tables.context import as_time, check_as_of, fit_matcher, problem_frame
from matching.tables.files import Tables
from matching.understand.problems import PROBLEM_COLUMNS
from service.bundles import current_ranker, open_bundle
from service.loading import load_tables_from
from service.settings import Settings

__all__ = ["read_jsonl", "with_known_problems", "recommend_problems"]


def read_jsonl(path: Path) -> pd.DataFrame:
    """Problems from a JSON-lines file; every unreadable line is reported together."""
    issues: list[Issue] = []
    rows: list[dict] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(Issue(column=None, expected="a readable UTF-8 JSON-lines file", found=str(error),
                                 file=str(path))) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            issues.append(Issue(column=None, expected="a JSON object", found=f"invalid JSON ({error.msg})",
                                file=str(path), row=number))
            continue
        if not isinstance(value, dict) or ("text" not in value and "problem_id" not in value):
            issues.append(Issue(column="text", expected="an object with a 'text' or a 'problem_id' field",
                                found=repr(value)[:60], file=str(path), row=number))
            continue
        rows.append({key: value[key] for key in PROBLEM_COLUMNS if key in value})
    if issues:
        raise InvalidInput(issues)
    if not rows:
        raise InvalidInput(Issue(column=None, expected="at least one problem", found="an empty file", file=str(path)))
    return pd.DataFrame(rows)


def with_known_problems(lines: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """Lines that name a ``problem_id`` of the tables take that problem's fields (its text, enterprise, district,
    sector, amount, time...) where the line gives none; a line with neither text nor a known id is an error."""
    known = problem_frame(tables.problems, tables.enterprises).astype({"problem_id": str}).set_index("problem_id")
    rows: list[dict] = []
    issues: list[Issue] = []
    for number, line in enumerate(lines.to_dict("records"), start=1):
        given = {k: v for k, v in line.items() if v is not None and not (isinstance(v, float) and pd.isna(v))}
        problem_id = given.get("problem_id")
        base = known.loc[str(problem_id)].to_dict() if problem_id is not None and str(problem_id) in known.index \
            else {}
        if "text" not in given and not base:
            issues.append(Issue(column="problem_id", expected="a problem_id of the tables, or a 'text' field",
                                found=repr(problem_id), row=number))
            continue
        rows.append({**{k: base.get(k) for k in PROBLEM_COLUMNS if k in base}, **given})
    if issues:
        raise InvalidInput(issues)
    return pd.DataFrame(rows)


def recommend_problems(settings: Settings, *, text: str | None = None, input: Path | None = None,
                       sector: str | None = None, region: str | None = None, amount: float | None = None, k: int = 5,
                       data: Path | None = None, db: str | None = None, model: Path | None = None,
                       as_of: str | None = None) -> list[Recommendation]:
    """Recommend for ``text`` (with ``sector``, ``region``, ``amount``) or for every line of ``input``: exactly
    one of them. ``model``: a bundle folder (default: the current model); ``as_of``: only outcomes recorded
    before it count."""
    if (text is None) == (input is None):
        raise InvalidInput(Issue(column="--text/--input", expected="exactly one of them", found=(
            "both" if text is not None else "neither")))
    tables = load_tables_from(data=data, db=db, settings=settings)
    moment = as_time(as_of, "as-of") if as_of is not None else None
    if moment is not None:
        check_as_of(tables.outcomes, moment)
    problems = (with_known_problems(read_jsonl(input), tables) if input is not None else
                pd.DataFrame([{"text": text, "sector": sector, "region": region, "amount": amount}]))
    ranker = open_bundle(model) if model is not None else current_ranker(settings.models_dir).ranker
    matcher = fit_matcher(tables, ranker, as_of=moment)
    return matcher.recommend(problems, k=k)
