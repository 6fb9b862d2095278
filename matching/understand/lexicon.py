"""Problem understanding: which categories a text is about, from a bilingual lexicon matched fuzzily.

English terms are matched word by word with rapidfuzz (a typo such as ``finnacing`` still counts), computed
for the unique words of a whole batch at once with ``rapidfuzz.process.cdist``; Chinese terms are matched as
substrings with one compiled pattern. A category's confidence is ``1 - exp(-sum of its matched weights)``.

Input: normalised texts (see ``matching.normalise``). Output: a (texts x categories) confidence matrix and, for
each text, the lexicon terms it matched (used to explain recommendations).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from matching.normalise import is_cjk_token, words
from matching.records import CATEGORIES, INSTITUTION_KINDS

__all__ = ["LEXICON", "CATEGORY_KIND_PRIOR", "Detection", "CategoryDetector", "kind_prior"]

# category -> (English words, Chinese terms). Weight 1 unless a term is given as "term:weight".
LEXICON: dict[str, tuple[str, str]] = {
    "financing": (
        "loan:1.2 loans:1.2 credit financing:1.2 finance:1.2 financial funding:1.2 fund funds capital:1 cash "
        "liquidity:1.2 borrow:1.2 borrowing:1.2 lending lender bank:0.6 money:0.8 investment:0.6 investor:0.6 "
        "overdraft:1.2 mortgage:1 repayment:0.8 interest:0.6 receivables:0.8 factoring:1 microloan:1.2 "
        "payroll:0.5 turnover:0.4 debt:0.8 yuan:0.5 rmb:0.5 wan:0.4 million:0.4",
        "贷款:1.2 融资:1.2 资金:1.2 借款:1.2 信贷:1.2 周转:1 流动资金:1.2 银行:0.6 资金链:1.2 贷:0.8 缺钱:1.2 "
        "投资:0.6 还款:0.8 利息:0.6 应收账款:0.8 保理:1 万元:0.5 授信:1.2 小额贷款:1.2 钱:0.6",
    ),
    "guarantee": (
        "guarantee:1.5 guarantor:1.5 guaranty:1.5 collateral:1.5 pledge:1.2 security:0.5 surety:1.5 "
        "mortgageable:1 counter-guarantee:1.5 bond:0.6 insure:0.4",
        "担保:1.5 抵押:1.5 质押:1.3 反担保:1.5 抵押物:1.5 担保公司:1.5 保证:0.6 增信:1.2",
    ),
    "technology": (
        "technology:1.2 technical:1 equipment:1.2 machine:1 machinery:1.2 upgrade:1.2 upgrading:1.2 process:0.8 "
        "automation:1.2 automate:1.2 production:0.6 line:0.4 quality:0.6 precision:0.8 retrofit:1.2 "
        "modernise:1 modernize:1 engineering:0.8 patent:0.8 innovation:0.8 research:0.8 expertise:0.6 "
        "yield:0.5 defect:0.8 defects:0.8 robot:1 robots:1 cnc:1.2 tooling:1 know-how:1 laboratory:0.8 testing:0.6",
        "技术:1.2 设备:1.2 工艺:1.2 升级:1.2 改造:1.2 自动化:1.2 生产线:1 技改:1.5 质量:0.6 良品率:1 研发:0.8 "
        "专利:0.8 机器人:1 数控:1.2 精度:0.8 技术改造:1.5 检测:0.6 创新:0.8 科技:1",
    ),
    "energy": (
        "energy:1.3 energy-saving:1.5 saving:0.6 efficiency:1 emission:1.2 emissions:1.2 carbon:1.2 boiler:1.2 "
        "solar:1.2 photovoltaic:1.2 consumption:0.6 waste:0.6 heat:0.8 heating:0.8 insulation:1 green:0.6 "
        "pollution:1 environmental:0.8 wastewater:0.8 coal:1",
        "节能:1.5 能耗:1.5 能源:1.3 减排:1.3 碳:1 锅炉:1.2 光伏:1.2 太阳能:1.2 余热:1.2 环保:1 污染:1 "
        "绿色:0.6 耗能:1.3 降耗:1.5 排放:1",
    ),
    "new_product": (
        "product:0.8 products:0.8 prototype:1.3 develop:0.8 development:0.8 design:0.8 new:0.4 formula:1 "
        "recipe:0.8 pilot:1 trial:0.6 launch:0.8 variety:0.8 packaging:0.6 brand:0.6 r&d:1.2 invention:1 "
        "breed:1 breeding:1 seeds:0.8 seedlings:0.8",
        "新产品:1.5 产品开发:1.5 研发:1 新品:1.3 样品:1 配方:1 中试:1.3 试制:1.3 设计:0.8 品种:1 育种:1.2 "
        "包装:0.6 品牌:0.6 开发:0.8",
    ),
    "it": (
        "software:1.3 digital:1.2 digitalisation:1.3 digitalization:1.3 informatisation:1.3 erp:1.3 crm:1.2 "
        "website:1.2 online:1 e-commerce:1.3 ecommerce:1.3 app:1 system:0.5 data:0.8 computer:1 computers:1 "
        "network:0.8 cloud:1 internet:1 it:0.6 mis:0.8 platform:0.6 inventory:0.6 barcode:1 pos:0.8 "
        "cybersecurity:1.2 automation-software:1 wechat:0.8 livestream:1 livestreaming:1",
        "信息化:1.5 软件:1.3 数字化:1.3 系统:0.6 网站:1.2 电商:1.3 电子商务:1.3 网络:0.8 云:0.8 数据:0.8 "
        "互联网:1 小程序:1.2 直播:1 ERP:1.3 管理系统:1.2 智能化:1",
    ),
    "skills": (
        "training:1.3 skills:1.3 skill:1.3 skilled:1.2 workers:0.8 staff:0.6 talent:1 recruit:1 recruiting:1 "
        "recruitment:1 hire:0.8 hiring:0.8 apprentice:1.2 apprentices:1.2 technicians:1 graduates:1 "
        "course:0.8 courses:0.8 certification:0.8 labour:0.8 labor:0.8 employees:0.4 shortage:0.4 "
        "internship:1.2 interns:1.2 teach:0.8 management:0.4",
        "培训:1.5 技能:1.3 人才:1.2 招工:1.3 招聘:1.3 用工:1.2 技术工人:1.3 学徒:1.2 员工:0.6 实习:1.2 "
        "毕业生:1 职业:0.8 技工:1.3 缺人:1.2",
    ),
    "land": (
        "land:1.5 plot:1 site:0.8 premises:0.8 factory:0.4 warehouse:0.3 zoning:1.3 lease:0.6 acre:1.2 "
        "acres:1.2 mu:0.8 construction-permit:1.3 permit:0.5 expansion:0.6 workshop:0.4 relocation:0.8 "
        "planning:0.6 approval:0.5 rezoning:1.3 farmland:1.2",
        "土地:1.5 用地:1.5 厂房:1 场地:1.2 征地:1.5 规划:0.8 亩:1 审批:0.5 土地证:1.5 扩建:0.8 搬迁:0.8 "
        "建设用地:1.5 租地:1.3",
    ),
    "water": (
        "water:1.5 irrigation:1.5 drainage:1.2 sewage:1.2 pipe:0.6 pipeline:0.6 well:0.6 drought:1.2 "
        "wastewater:1 reservoir:1 supply:0.3",
        "用水:1.5 供水:1.5 水:0.8 灌溉:1.5 排水:1.3 污水:1.2 水管:1 水源:1.2 干旱:1.2 取水:1.5 水费:1.2",
    ),
    "electricity": (
        "electricity:1.5 power:1 grid:1.2 transformer:1.3 voltage:1.2 kva:1.3 kw:0.8 outage:1.3 outages:1.3 "
        "blackout:1.3 electric:1 electrical:1 substation:1.3 capacity:0.3 connection:0.5 three-phase:1.3",
        "用电:1.5 电力:1.5 电网:1.3 变压器:1.5 电压:1.2 停电:1.3 供电:1.5 增容:1.3 电费:1.2 电:0.6 "
        "配电:1.3 接电:1.3",
    ),
    "transport": (
        "transport:1.3 transportation:1.3 logistics:1.3 rail:1.3 railway:1.3 freight:1.3 shipping:1.2 "
        "delivery:1 deliveries:1 truck:1 trucks:1 cargo:1.2 container:1 road:0.8 siding:1.3 "
        "warehousing:1 cold-chain:1.3 distribution:0.6 wagon:1.2 wagons:1.2 port:0.8",
        "运输:1.5 物流:1.5 铁路:1.5 货运:1.5 配送:1.2 车皮:1.3 冷链:1.3 专用线:1.3 仓储:1 道路:0.8 "
        "快递:1 运费:1.2 集装箱:1.2",
    ),
    "market": (
        "market:1.2 markets:1.2 marketing:1.2 sales:1 customers:1 customer:1 export:1.3 exports:1.3 "
        "buyers:1.2 buyer:1.2 orders:1 order:0.6 fair:0.8 fairs:0.8 trade:0.8 channel:1 channels:1 "
        "distributors:1 promotion:1 procurement:1 tender:1 tenders:1 demand:0.8 abroad:1 overseas:1.2",
        "市场:1.3 销售:1.2 销路:1.5 客户:1.2 出口:1.3 订单:1.2 展会:1.2 渠道:1.2 推广:1 采购:0.8 "
        "招标:1 外贸:1.3 卖不出去:1.5 滞销:1.5 营销:1.2",
    ),
}

# How well each institution kind fits each category (our prior, not learned): rows CATEGORIES, cols KINDS.
_PRIOR_ROWS: dict[str, dict[str, float]] = {
    "financing": {"bank": 0.95, "microcredit": 0.85, "guarantee": 0.6, "government": 0.25},
    "guarantee": {"guarantee": 0.95, "bank": 0.5, "microcredit": 0.35, "government": 0.2},
    "technology": {"research_institute": 0.95, "college": 0.8, "government": 0.25, "bank": 0.15},
    "energy": {"research_institute": 0.85, "government": 0.6, "college": 0.6, "bank": 0.2},
    "new_product": {"research_institute": 0.95, "college": 0.8, "government": 0.2},
    "it": {"college": 0.85, "research_institute": 0.8, "government": 0.35},
    "skills": {"college": 0.95, "research_institute": 0.35, "government": 0.45},
    "land": {"government": 0.95, "bank": 0.1},
    "water": {"government": 0.95, "research_institute": 0.2},
    "electricity": {"government": 0.95, "research_institute": 0.15},
    "transport": {"government": 0.9, "bank": 0.1},
    "market": {"government": 0.75, "college": 0.4, "research_institute": 0.3},
}
CATEGORY_KIND_PRIOR = np.array(
    [[_PRIOR_ROWS[c].get(k, 0.0) for k in INSTITUTION_KINDS] for c in CATEGORIES], dtype=np.float64
)


def _parse(spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in spec.split():
        term, _, weight = item.rpartition(":") if ":" in item else (item, "", "1")
        out[term.lower()] = float(weight)
    return out


@dataclass(frozen=True, slots=True)
class Detection:
    """Categories of a batch: ``confidence[i, j]`` for text i and CATEGORIES[j]; ``terms[i]`` the matches."""

    confidence: np.ndarray
    terms: list[tuple[str, ...]]


class CategoryDetector:
    """Fuzzy bilingual lexicon matcher. Stateless apart from the compiled lexicon; safe to share."""

    def __init__(self, *, fuzzy_cutoff: float = 84.0, min_fuzzy_length: int = 5) -> None:
        self.fuzzy_cutoff = fuzzy_cutoff
        self.min_fuzzy_length = min_fuzzy_length
        self._english: dict[str, dict[str, float]] = {}  # word -> {category: weight}
        chinese: dict[str, dict[str, float]] = {}
        for category, (english, han) in LEXICON.items():
            for term, weight in _parse(english).items():
                self._english.setdefault(term, {})[category] = weight
            for term, weight in _parse(han).items():
                (self._english if term.isascii() else chinese).setdefault(term, {})[category] = weight
        self._chinese = chinese
        self._english_terms = sorted(self._english)
        ordered = sorted(chinese, key=len, reverse=True)
        self._chinese_pattern = re.compile("|".join(map(re.escape, ordered)))
        self._category_index = {c: i for i, c in enumerate(CATEGORIES)}

    def _resolve_words(self, vocabulary: Sequence[str]) -> dict[str, str]:
        """Map each batch word to the lexicon word it stands for (exact, or a fuzzy match for typos)."""
        resolved = {w: w for w in vocabulary if w in self._english}
        unknown = [w for w in vocabulary if w not in resolved and len(w) >= self.min_fuzzy_length]
        if unknown:
            scores = process.cdist(
                unknown, self._english_terms, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff, workers=1
            )
            best = scores.argmax(axis=1)
            for row, word in enumerate(unknown):
                column = best[row]
                if scores[row, column] > 0 and len(self._english_terms[column]) >= self.min_fuzzy_length:
                    resolved[word] = self._english_terms[column]
        return resolved

    def detect(self, normalized_texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> Detection:
        """Categories of already normalised texts (``tokens``: their ``words``, when the caller has them)."""
        tokenised = [words(text) for text in normalized_texts] if tokens is None else tokens
        vocabulary = sorted({t for tokens in tokenised for t in tokens if not is_cjk_token(t)})
        resolved = self._resolve_words(vocabulary)
        confidence = np.zeros((len(normalized_texts), len(CATEGORIES)), dtype=np.float64)
        all_terms: list[tuple[str, ...]] = []
        for row, (text, tokens) in enumerate(zip(normalized_texts, tokenised, strict=True)):
            matched: dict[str, None] = {}
            for token in tokens:
                term = resolved.get(token)
                if term is not None:
                    matched[term] = None
            if self._chinese and not text.isascii():
                for found in self._chinese_pattern.findall(text):
                    matched[found] = None
            totals: dict[str, float] = {}
            for term in matched:
                for category, weight in (self._english.get(term) or self._chinese[term]).items():
                    totals[category] = totals.get(category, 0.0) + weight
            for category, total in totals.items():
                confidence[row, self._category_index[category]] = 1.0 - math.exp(-total)
            all_terms.append(tuple(matched))
        return Detection(confidence=confidence, terms=all_terms)


def kind_prior(confidence: np.ndarray) -> np.ndarray:
    """(texts x kinds) fit of each institution kind: the best over a text's categories of confidence x prior."""
    if confidence.size == 0:
        return np.zeros((confidence.shape[0], len(INSTITUTION_KINDS)))
    return (confidence[:, :, None] * CATEGORY_KIND_PRIOR[None, :, :]).max(axis=1)
