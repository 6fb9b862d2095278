"""The provincial queue as a spreadsheet: one flat row per escalated problem (``QUEUE_COLUMNS``), as CSV in
UTF-8 with a byte order mark (so that Excel opens Chinese text as such) or as XLSX (openpyxl).

Reasons are written as text in the chosen language; referrals as one cell, ``institution (kind): status,
date`` joined by ``; ``. The batch writes its escalations with the same columns (``OUT.escalations.csv``).
Inputs: queue entries (``service.store.queue.escalation_queue``). Outputs: bytes and their media type.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from matching.explain.reasons import reason_data, render
from service.store.queue import QUEUE_COLUMNS, escalation_queue

__all__ = ["XLSX", "flat_row", "csv_bytes", "xlsx_bytes", "export", "QUEUE_COLUMNS"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PAGE = 5_000


def _text(reason: Any, language: str) -> str:
    data = reason_data(reason)
    return "" if data is None else render(data["code"], data["params"], language)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return "" if value is None else value


def flat_row(entry: Mapping[str, Any], language: str) -> list[Any]:
    """One queue entry as the cells of ``QUEUE_COLUMNS``."""
    referrals = "; ".join(
        f"{r['name']} ({r['kind']}): {r['status']}, {_cell(r['recorded_at'])[:10]}" for r in entry.get("referrals", []))
    values = {**entry, "reason": _text(entry.get("reason"), language),
              "engine_reason": _text(entry.get("engine_reason"), language), "referrals": referrals}
    return [_cell(values.get(column)) for column in QUEUE_COLUMNS]


def csv_bytes(rows: Iterable[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(QUEUE_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows: Iterable[list[Any]]) -> bytes:
    from openpyxl import Workbook  # only the XLSX export needs it

    book = Workbook(write_only=True)
    sheet = book.create_sheet("escalations")
    sheet.append(list(QUEUE_COLUMNS))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _all(engine: Engine, language: str, filters: Mapping[str, Any]) -> Iterable[list[Any]]:
    offset = 0
    while True:
        page = escalation_queue(engine, limit=_PAGE, offset=offset, **filters)
        yield from (flat_row(entry, language) for entry in page)
        if len(page) < _PAGE:
            return
        offset += _PAGE


def export(engine: Engine, format: str, language: str, **filters: Any) -> tuple[bytes, str]:
    """(the file, its media type) for the whole queue under ``filters``."""
    rows = _all(engine, language, filters)
    if format == "xlsx":
        return xlsx_bytes(rows), XLSX
    return csv_bytes(rows), "text/csv; charset=utf-8"
