"""The simulator's institutions: what kinds exist, what each is really good at, and how it presents itself.

Inputs: a numpy ``Generator`` and how many institutions to make. Outputs: an ``InstitutionSet`` holding the
``institutions.csv`` frame of the table contract (realistic names and service descriptions in English,
Chinese or both) and the hidden attributes the simulator needs for the ground truth and the caseworkers'
policy: archetype, latent quality, popularity, home district and bit masks of the sectors and districts served.

An **archetype** is finer than a kind: a land bureau and a power supply company are both ``government`` but
solve different problems. ``ARCHETYPES[a].fit`` is the hidden category-by-archetype fit (0..1) behind the
true success probability; the descriptions name the archetype's products, so a matcher can learn it from text.
The archetypes (kind, share, fit, name templates, products, scope, amounts, capacity) and the banks' names are
read from ``data/institutions.json``; the openings of the descriptions from ``data/templates.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.records import CATEGORIES, INSTITUTION_KINDS, SECTORS
from training.simulator import load_data, pairs
from training.simulator.text import BRANDS, CITIES, DISTRICT_WEIGHTS, DISTRICTS, SECTOR_NAMES, STREETS

__all__ = ["Archetype", "ARCHETYPES", "KIND_SHARES", "InstitutionSet", "fit_matrix", "make_institutions"]

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Archetype:
    key: str
    kind: str
    share: float  # weight within its kind
    fit: dict[str, float]  # category -> how well this archetype solves it (hidden)
    names: tuple[Pair, ...]  # templates: {brand} {district} {area} (district, short) {street} {city} {field}
    products: tuple[Pair, ...]
    scope: str = "city"  # city: serves all, first one city-level; branch/local: a district office
    focus: tuple[str, ...] = ()  # sectors it may restrict itself to
    focus_share: float = 0.0  # probability that it does
    amounts: tuple[float, float, float, float] | None = None  # min from..to, max from..to (yuan)
    capacity: float = 10.0  # median cases per month
    fame: float = 0.0  # popularity with caseworkers beyond capacity and quality
    brands: tuple[Pair, ...] = field(default_factory=tuple)
    fields: tuple[Pair, ...] = field(default_factory=tuple)  # specialities for {field} in names


_DATA = load_data("institutions.json")
# The brand lists an archetype's names draw {brand} from, by the name institutions.json gives them.
_BRANDS: dict[str, tuple[Pair, ...]] = {"big_banks": pairs(_DATA["big_banks"]),
                                        "rural_banks": pairs(_DATA["rural_banks"]), "brands": BRANDS}


def _archetype(row: dict) -> Archetype:
    """An archetype from its entry in institutions.json (lists as tuples; fields left out keep their defaults)."""
    values = dict(row)
    for key in ("names", "products", "fields"):
        if key in values:
            values[key] = pairs(values[key])
    if "brands" in values:
        values["brands"] = _BRANDS[values["brands"]]
    if "focus" in values:
        values["focus"] = tuple(values["focus"])
    if "amounts" in values:
        values["amounts"] = tuple(values["amounts"])
    return Archetype(**values)


ARCHETYPES: tuple[Archetype, ...] = tuple(_archetype(row) for row in _DATA["archetypes"])
# How a description opens, by language: "{}" takes the products it names.
_OPENINGS: dict[str, tuple[str, ...]] = {language: tuple(t) for language, t in
                                         load_data("templates.json")["institution_openings"].items()}
KIND_SHARES: dict[str, float] = {"bank": 0.27, "guarantee": 0.10, "microcredit": 0.12, "research_institute": 0.14,
                                 "college": 0.11, "government": 0.26}
_INACTIVE_SHARE = 0.04
_NAME_DRAWS = [7, 8, 9, 12]  # the columns of an institution's draws that shape its name


def fit_matrix() -> np.ndarray:
    """The hidden fit, shape (len(CATEGORIES), len(ARCHETYPES)), values in 0..1."""
    return np.array([[a.fit.get(c, 0.0) for a in ARCHETYPES] for c in CATEGORIES])


@dataclass(frozen=True, slots=True)
class InstitutionSet:
    frame: pd.DataFrame  # institutions.csv
    archetype: np.ndarray  # index into ARCHETYPES
    kind: np.ndarray  # index into INSTITUTION_KINDS
    quality: np.ndarray  # latent, standard normal
    popularity: np.ndarray  # log-scale attraction for caseworkers
    home: np.ndarray  # district index of the office
    sector_mask: np.ndarray  # bit s set: serves sector s; 0: serves all
    region_mask: np.ndarray  # bit d set: serves district d; 0: serves all
    min_amount: np.ndarray  # NaN for non-lenders
    max_amount: np.ndarray
    active: np.ndarray

    def truth(self) -> pd.DataFrame:
        """The hidden attributes by institution, for analyses (not written to disk)."""
        return pd.DataFrame({
            "institution_id": self.frame["institution_id"],
            "archetype": [ARCHETYPES[a].key for a in self.archetype],
            "home_region": [DISTRICTS[d][0] for d in self.home],
            "quality": self.quality,
            "popularity": self.popularity,
        })


def _counts(n: int) -> np.ndarray:
    """Institutions per archetype: shares by largest remainder, each archetype at least once when n allows."""
    weights = np.array([KIND_SHARES[a.kind] * a.share / sum(b.share for b in ARCHETYPES if b.kind == a.kind)
                        for a in ARCHETYPES])
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(np.int64)
    for index in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[index] += 1
    if n >= len(ARCHETYPES):
        while (counts == 0).any():
            counts[int(np.argmax(counts))] -= 1
            counts[int(np.argmax(counts == 0))] += 1
    return counts


def _mask(indexes: np.ndarray | list[int]) -> int:
    return int(sum(1 << int(i) for i in set(indexes)))


def _round(value: float, step: float) -> float:
    return float(max(step, round(value / step) * step))


def make_institutions(rng: np.random.Generator, n: int) -> InstitutionSet:
    counts = _counts(n)
    archetype = np.repeat(np.arange(len(ARCHETYPES)), counts)
    rank = np.concatenate([np.arange(c) for c in counts]) if n else np.zeros(0, np.int64)  # 0: the first one
    order = rng.permutation(n)
    archetype, rank = archetype[order], rank[order]
    # Past a city's worth of an archetype (as many as 300 institutions hold), the next ones belong to the
    # province's other cities, each with its own city-level office: a province has many land bureaus.
    per_city = np.maximum(_counts(300), 1)
    government = np.array([a.kind == "government" for a in ARCHETYPES])
    per_city = np.where(government, np.minimum(per_city, len(DISTRICTS)), per_city)[archetype]
    city, rank = rank // per_city, rank % per_city
    draw = rng.random((n, 13))
    quality = rng.standard_normal(n)
    noise = rng.standard_normal(n)
    districts = np.arange(len(DISTRICTS))
    weights = np.array(DISTRICT_WEIGHTS) / sum(DISTRICT_WEIGHTS)
    n_sectors = len(SECTORS)
    rows: list[dict[str, object]] = []
    home = np.zeros(n, np.int64)
    sector_mask = np.zeros(n, np.int64)
    region_mask = np.zeros(n, np.int64)
    min_amount = np.full(n, np.nan)
    max_amount = np.full(n, np.nan)
    capacity = np.zeros(n, np.int64)
    fame = np.zeros(n)
    taken: set[str] = set()
    for i in range(n):
        a, u = ARCHETYPES[int(archetype[i])], draw[i]
        city_level = a.scope == "city" and rank[i] == 0
        if a.kind == "government":
            home[i] = 0 if city_level else 1 + (int(rank[i]) - 1) % (len(DISTRICTS) - 1)
            region_mask[i] = 0 if city_level else _mask([home[i]])
        elif a.scope == "city":
            home[i] = 0 if rank[i] == 0 else int(u[1] * len(DISTRICTS))
        else:
            home[i] = 3 if a.key == "tech_bank" else int(np.searchsorted(np.cumsum(weights), u[0] * 0.999999))
            restricted = u[1] < (0.25 if a.scope == "branch" else 0.55)
            if restricted:
                others = rng.choice(districts[districts != home[i]], size=int(u[2] * 3), replace=False)
                region_mask[i] = _mask([home[i], *others.tolist()])
        if a.focus and u[3] < a.focus_share:
            sector_mask[i] = _mask([SECTORS.index(s) for s in a.focus])
        elif a.amounts is not None and u[3] > 0.9:
            sector_mask[i] = _mask(rng.choice(n_sectors, size=3 + int(u[4] * 4), replace=False).tolist())
        if a.amounts is not None:
            lo, hi, top_lo, top_hi = a.amounts
            min_amount[i] = _round(lo * (hi / lo) ** u[5], 1e4)
            max_amount[i] = max(min_amount[i], _round(top_lo * (top_hi / top_lo) ** u[6], 1e5))
        capacity[i] = max(1, round(a.capacity * (0.5 if a.kind == "government" and not city_level else 1.0)
                                   * float(np.exp(0.5 * noise[i]))))
        fame[i] = a.fame + (0.4 if a.kind == "government" and city_level else 0.0)
        for attempt in range(12):  # another street, brand, template or speciality while the name is taken
            varied = u.copy()
            varied[_NAME_DRAWS] = (u[_NAME_DRAWS] + 0.6180339887 * attempt) % 1.0
            name, description = _present(a, CITIES[int(city[i]) % len(CITIES)], int(home[i]), city_level, varied,
                                         int(sector_mask[i]), int(region_mask[i]), min_amount[i], max_amount[i])
            if name not in taken:
                break
        taken.add(name)
        rows.append({"name": name, "kind": a.kind, "description": description,
                     "sectors": ";".join(s for k, s in enumerate(SECTORS) if sector_mask[i] >> k & 1),
                     "regions": ";".join(d[0] for k, d in enumerate(DISTRICTS) if region_mask[i] >> k & 1)})
    active = rng.random(n) >= _INACTIVE_SHARE
    popularity = 0.8 * np.log(np.maximum(capacity, 1)) + 0.35 * quality + fame + 0.7 * rng.standard_normal(n)
    width = max(4, len(str(n)))
    frame = pd.DataFrame(rows, columns=["name", "kind", "description", "sectors", "regions"])
    frame.insert(0, "institution_id", [f"I{i:0{width}d}" for i in range(1, n + 1)])
    frame["name"] = _unique(frame["name"].tolist())
    frame["min_amount"] = min_amount
    frame["max_amount"] = max_amount
    frame["capacity"] = capacity
    frame["active"] = np.where(active, "true", "false")
    kind = np.array([INSTITUTION_KINDS.index(ARCHETYPES[a].kind) for a in archetype], dtype=np.int64)
    return InstitutionSet(frame, archetype, kind, quality, popularity, home, sector_mask, region_mask,
                          min_amount, max_amount, active)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _join(items: list[str], language: str) -> str:
    if language == "zh":
        return "、".join(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _present(a: Archetype, city: Pair, home: int, city_level: bool, u: np.ndarray, sector_mask: int, region_mask: int,
             low: float, high: float) -> tuple[str, str]:
    """A name and a description in English, Chinese or both, naming 3-5 of the archetype's products."""
    district_en, district_zh = DISTRICTS[home]
    area_zh = district_zh.removesuffix("区")
    if city != CITIES[0]:  # an office in another city of the province says which city
        district_en, district_zh, area_zh = f"{city[0]} {district_en}", f"{city[1]}市{district_zh}", city[1] + area_zh
    street = STREETS[int(u[7] * len(STREETS))]
    brand = a.brands[int(u[8] * len(a.brands))] if a.brands else ("", "")
    speciality = a.fields[int(u[12] * len(a.fields))] if a.fields else ("", "")
    if a.scope == "city":  # the first is the city's own; the others are its district offices or siblings
        options = a.names[:1] if city_level or len(a.names) == 1 else a.names[1:]
    else:
        options = a.names
    en_t, zh_t = options[int(u[9] * len(options))]
    en = en_t.format(brand=brand[0], district=district_en, area=district_en, street=street[0], city=city[0],
                     field=speciality[0])
    zh = zh_t.format(brand=brand[1], district=district_zh, area=area_zh, street=street[1], city=city[1],
                     field=speciality[1])
    name = en if u[10] < 0.55 else (zh if u[10] < 0.85 else f"{en} ({zh})")
    start = int(u[11] * len(a.products))
    chosen = [a.products[(start + k) % len(a.products)] for k in range(min(len(a.products), 3 + int(u[9] * 3)))]
    text = {"en": [], "zh": []}
    for side, language in ((0, "en"), (1, "zh")):
        items = [p[side] for p in chosen]
        if language == "en":
            opening = _OPENINGS["en"][int(u[2] * len(_OPENINGS["en"]))]
            text["en"].append(opening.format(_join(items, "en")))
        else:
            opening = _OPENINGS["zh"][int(u[2] * len(_OPENINGS["zh"]))]
            text["zh"].append(opening.format(_join(items, "zh")))
    if high == high:
        verb = "Guarantees" if a.kind == "guarantee" else "Loans"
        text["en"].append(f"{verb} from RMB {low:,.0f} to RMB {high:,.0f}.")
        text["zh"].append(f"额度{low / 1e4:g}万元至{high / 1e4:g}万元。")
    if region_mask:
        served = [d for k, d in enumerate(DISTRICTS) if region_mask >> k & 1]
        text["en"].append(f"Serves enterprises in {_join([d[0] for d in served], 'en')}.")
        text["zh"].append(f"服务范围：{_join([d[1] for d in served], 'zh')}。")
    if sector_mask:
        served_sectors = [SECTOR_NAMES[s] for k, s in enumerate(SECTORS) if sector_mask >> k & 1]
        text["en"].append(f"Focus on {_join([s[0] for s in served_sectors], 'en')}.")
        text["zh"].append(f"重点服务{_join([s[1] for s in served_sectors], 'zh')}。")
    english, chinese = " ".join(text["en"]), "".join(text["zh"])
    choice = u[4]
    description = english if choice < 0.55 else (chinese if choice < 0.75 else f"{english} {chinese}")
    return name, description
