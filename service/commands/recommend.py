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

from matching.context import fit_matcher
from matching.errors import InvalidInput, Issue
from matching.reasons import LANGUAGES, reason_data, reasons_data, render
from matching.records import RankedInstitution, Recommendation
from service.commands._common import out_console, reported_errors
from service.loading import current_ranker, load_tables_from
from service.settings import Settings

FIELDS = ("text", "sector", "region", "amount", "problem_id")


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
        if not isinstance(value, dict) or "text" not in value:
            issues.append(Issue(column="text", expected="an object with a 'text' field", found=repr(value)[:60],
                                file=str(path), row=number))
            continue
        rows.append({key: value.get(key) for key in FIELDS})
    if issues:
        raise InvalidInput(issues)
    if not rows:
        raise InvalidInput(Issue(column=None, expected="at least one problem", found="an empty file", file=str(path)))
    return pd.DataFrame(rows, columns=list(FIELDS))


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
        lang: Annotated[str, typer.Option("--lang", help="The language of the reasons: en or zh.")] = "en",
    ) -> None:
        """Recommend institutions for a problem, or for every line of a JSON-lines file, in order."""
        with reported_errors():
            if lang not in LANGUAGES:
                raise InvalidInput(Issue(column="--lang", expected=f"one of {', '.join(LANGUAGES)}", found=repr(lang)))
            if (text is None) == (input is None):
                raise InvalidInput(Issue(column="--text/--input", expected="exactly one of them", found=(
                    "both" if text is not None else "neither")))
            problems = (read_jsonl(input) if input is not None else
                        pd.DataFrame([{"text": text, "sector": sector, "region": region, "amount": amount}]))
            settings = Settings()
            matcher = fit_matcher(load_tables_from(data=data, db=db, settings=settings),
                                  current_ranker(settings.models_dir))
            results = matcher.recommend(problems, k=k)
        for result in results:
            if as_json:
                typer.echo(result_json(result, lang))
            else:
                show(result, lang)
