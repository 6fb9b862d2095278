"""Reasons as data: a code and its parameters, rendered in English or Chinese by one set of templates.

A ``Reason`` is the English sentence the engine has always written (so every reader of text keeps working:
frames, CSV files, logs) that also carries ``code`` and ``params``; the engine writes escalations so. The
reasons of a recommended pair stay plain sentences (``RankedInstitution.reasons``) with their codes and
values beside them in one flat tuple (``RankedInstitution.reason_data``, decoded by ``reasons_data``): the
engine explains every pair, and an object per reason (each a container for the garbage collector to walk)
slowed it down more than anything else it does per pair. ``render(code, params, language)`` is the one
renderer; ``templates()`` gives its templates and vocabularies as JSON for the console, whose JavaScript
renders the same way (``service/web/static/i18n.js``, checked against this module by a browser test).

Template placeholders: ``{name}`` is the parameter as written; ``{name:format}`` formats it: ``percent``
(0.83 -> 83%), ``money`` (1,200,000), ``count`` (a whole number), ``score`` (two decimals), ``list`` (a list
joined), a vocabulary name (``category``, ``kind``, ``sector``, ``check``, ``outcome``: a code looked up),
a vocabulary name with ``*`` (a list of codes, each looked up), or ``rule_counts`` (a mapping of eligibility
rule -> institutions it excluded). A code that is not known renders its ``text`` parameter, else itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["Reason", "PARAMS", "render", "reason_data", "reasons_data", "templates", "LANGUAGES", "language_of"]

LANGUAGES = ("en", "zh")

_VOCABULARY: dict[str, dict[str, dict[str, str]]] = {
    "category": {
        "financing": {"en": "financing", "zh": "融资"},
        "guarantee": {"en": "guarantee", "zh": "担保与抵押"},
        "technology": {"en": "technology", "zh": "技术与设备升级"},
        "energy": {"en": "energy", "zh": "节能降耗"},
        "new_product": {"en": "new product", "zh": "新产品开发"},
        "it": {"en": "it", "zh": "信息化"},
        "skills": {"en": "skills", "zh": "技能培训"},
        "land": {"en": "land", "zh": "用地"},
        "water": {"en": "water", "zh": "用水"},
        "electricity": {"en": "electricity", "zh": "用电"},
        "transport": {"en": "transport", "zh": "交通物流"},
        "market": {"en": "market", "zh": "市场开拓"},
    },
    "kind": {
        "bank": {"en": "a bank", "zh": "银行"},
        "guarantee": {"en": "a guarantee corporation", "zh": "担保公司"},
        "microcredit": {"en": "a small-loan company", "zh": "小额贷款公司"},
        "research_institute": {"en": "a research institute", "zh": "科研院所"},
        "college": {"en": "a college", "zh": "高等院校"},
        "government": {"en": "a government department or utility", "zh": "政府部门或公用事业单位"},
    },
    "sector": {
        "manufacturing": {"en": "manufacturing", "zh": "制造业"},
        "agriculture": {"en": "agriculture", "zh": "农业"},
        "construction": {"en": "construction", "zh": "建筑业"},
        "wholesale_retail": {"en": "wholesale retail", "zh": "批发和零售业"},
        "transport_warehousing_postal": {"en": "transport warehousing postal", "zh": "交通运输、仓储和邮政业"},
        "catering_accommodation": {"en": "catering accommodation", "zh": "住宿和餐饮业"},
        "information_services": {"en": "information services", "zh": "信息传输和软件服务业"},
        "real_estate_property": {"en": "real estate property", "zh": "房地产和物业管理"},
        "leasing_business_services": {"en": "leasing business services", "zh": "租赁和商务服务业"},
        "other": {"en": "other", "zh": "其他"},
    },
    "check": {
        "active": {"en": "active", "zh": "机构在营"},
        "region": {"en": "region", "zh": "服务区域"},
        "sector": {"en": "sector", "zh": "服务行业"},
        "amount": {"en": "amount", "zh": "金额范围"},
        "capacity": {"en": "capacity", "zh": "接案余量"},
    },
    "rule": {
        "active": {"en": "institution is not active", "zh": "机构未在营"},
        "region": {"en": "does not serve the enterprise's region", "zh": "不服务该企业所在区域"},
        "sector": {"en": "does not serve the enterprise's sector", "zh": "不服务该企业所在行业"},
        "amount": {"en": "amount asked is outside its lending range", "zh": "申请金额超出其放贷范围"},
        "capacity": {"en": "no capacity left this month", "zh": "本月接案已满"},
    },
    "outcome": {
        "contacted": {"en": "contacted", "zh": "已联系"},
        "accepted": {"en": "accepted", "zh": "已受理"},
        "declined": {"en": "declined", "zh": "已拒绝"},
        "solved": {"en": "solved", "zh": "已解决"},
        "failed": {"en": "failed", "zh": "未能解决"},
    },
}

_TEMPLATES: dict[str, dict[str, str]] = {
    # why an institution is recommended
    "need_detected": {"en": "need detected: {category:category} ({confidence:percent} confident), which "
                            "{kind:kind} handles",
                      "zh": "识别到需求：{category:category}（置信度 {confidence:percent}），{kind:kind}可以办理"},
    "matched_terms": {"en": "matched terms: {terms:list}", "zh": "匹配的词语：{terms:list}"},
    "track_record": {"en": "track record: about {rate:percent} of {cases:count} past cases solved",
                     "zh": "过往记录：{cases:count} 个案例中约 {rate:percent} 已解决"},
    "sector_specialist": {"en": "specialises in the {sector:sector} sector", "zh": "专门服务于{sector:sector}"},
    "district_specialist": {"en": "serves the {district} district specifically", "zh": "专门服务 {district} 区"},
    "amount_in_range": {"en": "amount {amount:money} is within its range {low:money}-{high:money}",
                        "zh": "申请金额 {amount:money} 元在其额度范围 {low:money}–{high:money} 元之内"},
    "eligibility_passed": {"en": "eligibility passed: {checks:check*}", "zh": "资格审核通过：{checks:check*}"},
    # why the engine escalates
    "no_recognisable_need": {"en": "the text states no need we recognise and matches no institution's profile: "
                                   "please describe the problem (what the enterprise needs, e.g. a loan, new "
                                   "equipment, land, power or training, and what for)",
                             "zh": "问题描述中没有可识别的需求，也与任何机构的简介都不匹配：请描述问题（企业需要什么，"
                                   "例如贷款、新设备、土地、电力或培训，以及用途）"},
    "no_eligible_institution": {"en": "no eligible institution in the city (excluded: {excluded:rule_counts})",
                                "zh": "本市没有符合条件的机构（排除原因：{excluded:rule_counts}）"},
    "below_threshold": {"en": "no institution fits well enough (best score {best:score} is below "
                              "{threshold:score})",
                        "zh": "没有足够合适的机构（最高得分 {best:score} 低于阈值 {threshold:score}）"},
    # why a case moved
    "caseworker_escalated": {"en": "escalated by a caseworker: {note}", "zh": "个案工作人员上报：{note}"},
    "rule_failed_referrals": {"en": "{count} referrals failed (the rule escalates after {limit})",
                              "zh": "转介失败 {count} 次（规则：失败 {limit} 次即上报）"},
    "rule_days_open": {"en": "open for {days} days (the rule escalates after {limit})",
                       "zh": "已开放 {days} 天（规则：超过 {limit} 天即上报）"},
    "province_resolved": {"en": "resolved by the provincial working group: {note}", "zh": "省级工作组已解决：{note}"},
    "province_closed": {"en": "closed by the provincial working group: {note}", "zh": "省级工作组已结案：{note}"},
    "outcome_recorded": {"en": "outcome recorded: {institution_id} {outcome:outcome}",
                         "zh": "记录结果：{institution_id} {outcome:outcome}"},
    "recommended": {"en": "{count} institutions recommended", "zh": "推荐了 {count} 家机构"},
    "text": {"en": "{text}", "zh": "{text}"},
}

# The parameters of each code the engine explains a pair with, in the order ``reason_data`` holds their values.
PARAMS: dict[str, tuple[str, ...]] = {
    "need_detected": ("category", "confidence", "kind"),
    "matched_terms": ("terms",),
    "track_record": ("rate", "cases"),
    "sector_specialist": ("sector",),
    "district_specialist": ("district",),
    "amount_in_range": ("amount", "low", "high"),
    "eligibility_passed": ("checks",),
}

# Parameters that are lists; in ``reason_data`` a list may be its items joined by ", " (as in the sentence).
LIST_PARAMS = frozenset({"terms", "checks"})

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+)(\*?))?\}")
_SEPARATOR = {"en": ", ", "zh": "、"}
_NONE = {"en": "none", "zh": "无"}
_COLON = {"en": ": ", "zh": "："}


def language_of(tag: str | None) -> str:
    """``en`` or ``zh`` for a language tag (``zh-Hans``, ``zh-CN``, ``en-GB``...); English when unknown."""
    return "zh" if tag and tag.strip().lower().startswith("zh") else "en"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _formatter(how: str | None, star: str, language: str) -> Callable[[Any], str]:
    """The function that writes a parameter as a placeholder's format asks (see the module docstring)."""
    separator = _SEPARATOR[language]
    if how is None:
        return _text
    if how in _NUMBERS:
        spec = _NUMBERS[how]
        return lambda value: format(float(value), spec)
    if how == "list":
        return lambda value: separator.join(map(str, value))
    if how == "rule_counts":
        rules, colon, none = _words("rule", language), _COLON[language], _NONE[language]
        return lambda value: separator.join(f"{rules.get(str(rule), str(rule))}{colon}{count}"
                                            for rule, count in dict(value).items()) or none
    words = _words(how, language)
    if star:
        return lambda value: separator.join([words.get(v) or str(v) for v in value])
    return lambda value: words.get(value) or str(value)


_NUMBERS = {"percent": ".0%", "money": ",.0f", "count": ".0f", "score": ".2f"}


def _words(vocabulary: str, language: str) -> dict[str, str]:
    return {code: texts[language] for code, texts in _VOCABULARY[vocabulary].items()}


_Compiled = tuple[str, tuple[tuple[str, Callable[[Any], str]], ...]]
_compiled: dict[tuple[str, str], _Compiled] = {}


def _compile(code: str, language: str) -> _Compiled:
    """A template as a ``str.format`` string and, per placeholder, its parameter and formatter: the engine
    builds a reason for every recommended pair, so rendering one is a single ``format`` call."""
    parts: list[tuple[str, Callable[[Any], str]]] = []

    def number(match: re.Match[str]) -> str:
        how, star = match.group(2), match.group(3)
        parts.append((match.group(1), _formatter(how, star, language)))
        return f"{{{len(parts) - 1}}}"

    template = _TEMPLATES[code][language].replace("{{", "{{{{").replace("}}", "}}}}")
    return _PLACEHOLDER.sub(number, template), tuple(parts)


def render(code: str, params: Mapping[str, Any], language: str = "en") -> str:
    """The reason ``code`` with ``params`` as a sentence in ``language`` (``en`` or ``zh``)."""
    if language not in _SEPARATOR:
        language = language_of(language)
    compiled = _compiled.get((code, language))
    if compiled is None:
        if code not in _TEMPLATES:
            return str(params.get("text", code))
        compiled = _compiled[(code, language)] = _compile(code, language)
    form, parts = compiled
    return form.format(*[formatter(params.get(name)) for name, formatter in parts])


class Reason(str):
    """A reason: its English sentence, carrying ``code`` and ``params`` (plain JSON values)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, params: Mapping[str, Any] | None = None) -> Reason:
        values = params if type(params) is dict else dict(params or {})
        self = super().__new__(cls, render(code, values, "en"))
        self.code = code
        self.params = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reason, (self.code, self.params))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


def reasons_data(reasons: Sequence[str], data: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """``{code, params}`` for each reason of a recommended pair: from ``data`` (``(code, *values, ...)``, as
    the engine writes ``RankedInstitution.reason_data``), else from each sentence (code ``text``)."""
    if not data:
        return [found for found in map(reason_data, reasons) if found is not None]
    out = []
    position = 0
    while position < len(data):
        code = data[position]
        names = PARAMS[code]
        values = data[position + 1:position + 1 + len(names)]
        out.append({"code": code, "params": {name: _listed(value) if name in LIST_PARAMS else value
                                             for name, value in zip(names, values, strict=True)}})
        position += 1 + len(names)
    return out


def _listed(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split(", ") if value else []
    return list(value)


def reason_data(reason: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{code, params}`` for a ``Reason``, a stored ``{code, params}`` or a plain sentence (code ``text``)."""
    if reason is None:
        return None
    if isinstance(reason, Reason):
        return reason.to_dict()
    if isinstance(reason, Mapping):
        return {"code": str(reason.get("code", "text")), "params": dict(reason.get("params") or {})}
    return {"code": "text", "params": {"text": str(reason)}}


def templates() -> dict[str, Any]:
    """The templates and vocabularies as JSON, for a client that renders reasons itself."""
    return {"languages": list(LANGUAGES), "templates": _TEMPLATES, "vocabulary": _VOCABULARY,
            "separator": _SEPARATOR, "none": _NONE, "colon": _COLON}
