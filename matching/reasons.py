"""Reasons as data: a code and its parameters, rendered in English or Chinese by one set of templates.

A ``Reason`` is the English sentence the engine has always written (so every reader of text keeps working:
frames, CSV files, logs) that also carries ``code`` and ``params``. ``render(code, params, language)`` is the
one renderer; ``templates()`` gives its templates and vocabularies as JSON for the console, whose JavaScript
renders the same way (``service/web/static/i18n.js``, checked against this module by a browser test).

Template placeholders: ``{name}`` is the parameter as written; ``{name:format}`` formats it: ``percent``
(0.83 -> 83%), ``money`` (1,200,000), ``count`` (a whole number), ``score`` (two decimals), ``list`` (a list
joined), a vocabulary name (``category``, ``kind``, ``sector``, ``check``, ``outcome``: a code looked up),
a vocabulary name with ``*`` (a list of codes, each looked up), or ``rule_counts`` (a mapping of eligibility
rule -> institutions it excluded). A code that is not known renders its ``text`` parameter, else itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Reason", "render", "reason_data", "templates", "LANGUAGES", "language_of"]

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
    "no_recognisable_need": {"en": "the text states no need we recognise and matches no institution's profile",
                             "zh": "问题描述中没有可识别的需求，也与任何机构的简介都不匹配"},
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

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+)(\*?))?\}")
_SEPARATOR = {"en": ", ", "zh": "、"}
_NONE = {"en": "none", "zh": "无"}
_COLON = {"en": ": ", "zh": "："}


def language_of(tag: str | None) -> str:
    """``en`` or ``zh`` for a language tag (``zh-Hans``, ``zh-CN``, ``en-GB``...); English when unknown."""
    return "zh" if tag and tag.strip().lower().startswith("zh") else "en"


def _word(vocabulary: str, code: Any, language: str) -> str:
    entry = _VOCABULARY[vocabulary].get(str(code))
    return entry[language] if entry else str(code)


def _formatted(value: Any, how: str | None, star: str, language: str) -> str:
    if how is None:
        return "" if value is None else str(value)
    if how == "percent":
        return f"{float(value):.0%}"
    if how == "money":
        return f"{float(value):,.0f}"
    if how == "count":
        return f"{float(value):.0f}"
    if how == "score":
        return f"{float(value):.2f}"
    separator = _SEPARATOR[language]
    if how == "list":
        return separator.join(str(v) for v in value)
    if how == "rule_counts":
        items = [f"{_word('rule', rule, language)}{_COLON[language]}{count}" for rule, count in dict(value).items()]
        return separator.join(items) or _NONE[language]
    if star:
        return separator.join(_word(how, v, language) for v in value)
    return _word(how, value, language)


def render(code: str, params: Mapping[str, Any], language: str = "en") -> str:
    """The reason ``code`` with ``params`` as a sentence in ``language`` (``en`` or ``zh``)."""
    language = language_of(language)
    entry = _TEMPLATES.get(code)
    if entry is None:
        return str(params.get("text", code))

    def fill(match: re.Match[str]) -> str:
        return _formatted(params.get(match.group(1)), match.group(2), match.group(3), language)

    return _PLACEHOLDER.sub(fill, entry[language])


class Reason(str):
    """A reason: its English sentence, carrying ``code`` and ``params`` (plain JSON values)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, params: Mapping[str, Any] | None = None) -> Reason:
        values = dict(params or {})
        self = super().__new__(cls, render(code, values, "en"))
        self.code = code
        self.params = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reason, (self.code, self.params))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


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
