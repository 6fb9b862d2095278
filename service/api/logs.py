"""Structured logs: one JSON object per line, with the fields a request log needs and nothing from bodies.

``JsonLogFormatter`` writes time, level, logger, message and the structured extras (method, route template,
status, latency, request id, exception type, key id). ``log_config(level)`` is the ``logging.config``
dictionary ``smematch serve`` hands to uvicorn: smematch's and uvicorn's loggers through the JSON formatter,
uvicorn's own access log off (it prints raw paths with query strings; ours prints route templates). A failed
start-up is logged by the app as one line naming the cause (``create_app``); ``StartUpFailureFilter`` keeps the
server's traceback and its repetition of the failure out of the log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["JsonLogFormatter", "StartUpFailureFilter", "log_config", "ACCESS_LOGGER"]

ACCESS_LOGGER = "smematch.access"


class JsonLogFormatter(logging.Formatter):
    FIELDS = ("method", "route", "status", "latency_ms", "request_id", "exception", "key_id")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        return json.dumps(entry, ensure_ascii=False)


class StartUpFailureFilter(logging.Filter):
    """Drops uvicorn's report of a failed lifespan start-up (a traceback, then "Application startup failed"):
    the app has logged the cause in one line already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("uvicorn"):
            return True
        message = record.getMessage()
        return not (message.startswith("Traceback (most recent call last)")
                    or message.startswith("Application startup failed"))


def log_config(level: str = "info") -> dict[str, Any]:
    level = level.upper()
    handler = {"handlers": ["json"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLogFormatter"}},
        "filters": {"start_up": {"()": f"{__name__}.StartUpFailureFilter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr",
                              "filters": ["start_up"]}},
        "loggers": {"smematch": handler, "uvicorn": handler, "uvicorn.error": {"level": level}},
    }
