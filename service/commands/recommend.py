"""CLI: ``smematch recommend`` for one problem text or a JSON-lines file of problems.

Reasons are shown in ``--lang`` (``en`` or ``zh``); with ``--json`` each is ``{code, params, text}``, as the API
gives them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from matching.errors import InvalidInput, Issue
from matching.explain.reasons import LANGUAGES, reason_data, reasons_data, render
from matching.rank.rankers import load_bundle
from matching.records import RankedInstitution, Recommendation
from matching.tables.context import as_time, check_as_of, fit_matcher, problem_frame
from matching.tables.files import Tables
from matching.understand.problems import PROBLEM_COLUMNS
from service.commands._common import out_console, reported_errors
from service.loading import current_ranker, load_tables_from
from service.settings import Settings


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


def _reason(reason: str | None, language: str) -> dict | None:
    data = reason_data(reason)
    return None if data is None else {**data, "text": render(data["code"], data["params"], language)}


def _reasons(item: RankedInstitution, language: str) -> list[dict]:
    return [{**data, "text": render(data["code"], data["params"], language)}
            for data in reasons_data(item.reasons, item.reason_data)]


def result_json(result: Recommendation, language: str = "en") -> str:
    shaped = result.to_dict()
    for shown, item in zip(shaped["institutions"], result.institutions, strict=True):
        shown["reasons"] = _reasons(item, language)
    shaped["escalate_reason"] = _reason(result.escalate_reason, language)
    return json.dumps(shaped, ensure_ascii=False)


def show(result: Recommendation, language: str = "en") -> None:
    categories = ", ".join(f"{c} ({v:.0%})" for c, v in result.categories.items()) or "none recognised"
    out_console.print(f"[bold]needs:[/] {categories}   [dim]model {result.model_version}[/]")
    if result.escalate:
        escalation = _reason(result.escalate_reason, language)
        out_console.print(f"[bold yellow]escalate:[/] {escalation['text'] if escalation else ''}", highlight=False)
        return
    table = Table("#", "institution", "kind", "score", "reasons", show_lines=True)
    for item in result.institutions:
        table.add_row(str(item.rank), f"{item.name}\n[dim]{item.institution_id}[/]", item.kind,
                      f"{item.score:.3f}", "\n".join(r["text"] for r in _reasons(item, language)))
    out_console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def recommend(
        text: Annotated[str | None, typer.Option(help="One problem statement (English, Chinese or both).")] = None,
        input: Annotated[Path | None, typer.Option("--input", help="JSON lines: text, sector, region, amount.")] = None,
        sector: Annotated[str | None, typer.Option(help="The enterprise's sector.")] = None,
        region: Annotated[str | None, typer.Option(help="The enterprise's district.")] = None,
        amount: Annotated[float | None, typer.Option(help="Money asked for, if any.")] = None,
        k: Annotated[int, typer.Option("-k", "--k", help="How many institutions (1-50).")] = 5,
        data: Annotated[Path | None, typer.Option(help="A folder of tables (instead of the store).")] = None,
        db: Annotated[str | None, typer.Option(help="A database URL (default: the configured store).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON result per line.")] = False,
        model: Annotated[Path | None, typer.Option(
            "--model", help="A model bundle folder (default: the served one, models/current).")] = None,
        as_of: Annotated[str | None, typer.Option(
            "--as-of", help="Answer as on this date: only outcomes recorded before it count (track record, "
                            "history, load).")] = None,
        lang: Annotated[str, typer.Option("--lang", help="The language of the reasons: en or zh.")] = "en",
    ) -> None:
        """Recommend institutions for a problem, or for every line of a JSON-lines file, in order.

        A line that names a problem_id of the tables takes that problem's fields where it gives none."""
        with reported_errors():
            if lang not in LANGUAGES:
                raise InvalidInput(Issue(column="--lang", expected=f"one of {', '.join(LANGUAGES)}", found=repr(lang)))
            if (text is None) == (input is None):
                raise InvalidInput(Issue(column="--text/--input", expected="exactly one of them", found=(
                    "both" if text is not None else "neither")))
            settings = Settings()
            tables = load_tables_from(data=data, db=db, settings=settings)
            moment = as_time(as_of, "as-of") if as_of is not None else None
            if moment is not None:
                check_as_of(tables.outcomes, moment)
            problems = (with_known_problems(read_jsonl(input), tables) if input is not None else
                        pd.DataFrame([{"text": text, "sector": sector, "region": region, "amount": amount}]))
            ranker = load_bundle(model) if model is not None else current_ranker(settings.models_dir)
            matcher = fit_matcher(tables, ranker, as_of=moment)
            results = matcher.recommend(problems, k=k)
        for result in results:
            if as_json:
                typer.echo(result_json(result, lang))
            else:
                show(result, lang)
