"""CLI: ``smematch cases escalate-overdue`` applies the days-open rule: every active problem stated more than
``SMEMATCH_CASE_ESCALATE_AFTER_DAYS`` days ago is escalated (one event each, by the rule; safe to run again,
for example from cron). Prints how many it escalated."""

from __future__ import annotations

from typing import Annotated

import typer

from service.commands._common import out_console, reported_errors


def register(app: typer.Typer) -> None:
    cases = typer.Typer(help="Cases: the rules that escalate problems.", no_args_is_help=True)
    app.add_typer(cases, name="cases")

    @cases.command("escalate-overdue")
    def escalate_overdue(
        days: Annotated[int | None, typer.Option(help="Days open (default: the setting; 0: the rule is off).",
                                                 min=0)] = None,
    ) -> None:
        """Escalate every active problem open longer than the rule allows."""
        with reported_errors():
            from service.api.cases import case_rules
            from service.settings import load_settings
            from service.store import opened
            from service.store.cases import CaseRules
            from service.store.cases import escalate_overdue as sweep

            settings = load_settings()
            rules = case_rules(settings)
            if days is not None:
                rules = CaseRules(failed_referrals=rules.failed_referrals, days_open=days)
            with opened(settings.database_url, schema=True) as engine:
                done = sweep(engine, rules)
        out_console.print(f"escalated {done} problem(s) open more than {rules.days_open} days"
                          if rules.days_open else "the days-open rule is off (0 days)", highlight=False)
