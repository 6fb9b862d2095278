"""The language of a request's reasons: ``?lang=en|zh`` when given, else the first of ``Accept-Language``
that is English or Chinese (any ``zh-*`` is Chinese), else English. ``Lang`` is the route parameter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query

from matching.explain.reasons import LANGUAGES, language_of
from service.api.errors import ApiError

__all__ = ["Lang", "LANG_PATTERN", "request_language"]

LANG_PATTERN = r"^(en|zh)(-[A-Za-z0-9]{1,8})*$"


def request_language(lang: str | None, accept_language: str | None) -> str:
    """``en`` or ``zh``; a ``lang`` that is neither (nor a tag of one, such as ``zh-Hans``) is a 422."""
    if lang is not None:
        primary = lang.strip().lower().replace("_", "-").split("-", 1)[0]
        if primary not in LANGUAGES:
            raise ApiError.field(422, "lang", f"must be one of {', '.join(LANGUAGES)}. Got {lang!r} instead.")
        return primary
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag.split("-", 1)[0] in LANGUAGES:
            return language_of(tag)
    return "en"


async def _language(
    lang: Annotated[str | None, Query(max_length=40, pattern=LANG_PATTERN,
                                           description="en or zh (zh-Hans...): the language of reasons' text")] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> str:
    return request_language(lang, accept_language)


Lang = Annotated[str, Depends(_language)]
