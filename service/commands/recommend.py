"""CLI: ``smematch recommend`` for one problem text or a JSON-lines file of problems.

Reasons are shown in ``--lang`` (``en`` or ``zh``); with ``--json`` each is ``{code, params, text}``, as the API
gives them."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from matching.explain.reasons import reason_data, reasons_data, render
from matching.records import SECTORS, RankedInstitution, Recommendation
from service.commands._common import out_console, reported_errors
from service.settings import load_settings


class Language(StrEnum):
    """The choices of ``--lang`` (``matching.explain.reasons.LANGUAGES``)."""

    en = "en"
    zh = "zh"


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


Sector = StrEnum("Sector", {sector: sector for sector in SECTORS})  # the choices of --sector


def register(app: typer.Typer) -> None:
    @app.command()
    def recommend(
        text: Annotated[str | None, typer.Option(help="One problem statement (English, Chinese or both).")] = None,
        input: Annotated[Path | None, typer.Option("--input", help="JSON lines: text, sector, region, amount.")] = None,
        sector: Annotated[Sector | None, typer.Option(help="The enterprise's sector.")] = None,
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
        lang: Annotated[Language, typer.Option("--lang", help="The language of the reasons.")] = Language.en,
    ) -> None:
        """Recommend institutions for a problem, or for every line of a JSON-lines file, in order.

        A line that names a problem_id of the tables takes that problem's fields where it gives none."""
        from service.recommend import recommend_problems

        with reported_errors():
            results = recommend_problems(load_settings(), text=text, input=input,
                                         sector=sector.value if sector else None, region=region,
                                         amount=amount, k=k, data=data, db=db, model=model, as_of=as_of)
        for result in results:
            if as_json:
                typer.echo(result_json(result, lang.value))
            else:
                show(result, lang.value)
