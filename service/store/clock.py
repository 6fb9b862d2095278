"""Times as the store keeps them: naive UTC, microseconds."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now", "naive_utc"]


def utc_now() -> datetime:
    """The current time as the store keeps times: naive UTC, microseconds."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in naive UTC (a naive value is taken as UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
