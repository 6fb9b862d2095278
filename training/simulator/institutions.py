"""The simulator's institutions: what kinds exist, what each is really good at, and how it presents itself.

Inputs: a numpy ``Generator`` and how many institutions to make. Outputs: an ``InstitutionSet`` holding the
``institutions.csv`` frame of the table contract (realistic names and service descriptions in English,
Chinese or both) and the hidden attributes the simulator needs for the ground truth and the caseworkers'
policy: archetype, latent quality, popularity, home district and bit masks of the sectors and districts served.

An **archetype** is finer than a kind: a land bureau and a power supply company are both ``government`` but
solve different problems. ``ARCHETYPES[a].fit`` is the hidden category-by-archetype fit (0..1) behind the
true success probability; the descriptions name the archetype's products, so a matcher can learn it from text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.records import CATEGORIES, INSTITUTION_KINDS, SECTORS
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


_BIG_BANKS: tuple[Pair, ...] = (
    ("Agricultural Bank of China", "中国农业银行"), ("Industrial and Commercial Bank of China", "中国工商银行"),
    ("China Construction Bank", "中国建设银行"), ("Bank of China", "中国银行"), ("Bank of Communications", "交通银行"),
    ("Postal Savings Bank of China", "中国邮政储蓄银行"), ("China Merchants Bank", "招商银行"),
    ("Industrial Bank", "兴业银行"), ("China CITIC Bank", "中信银行"), ("China Minsheng Bank", "中国民生银行"),
    ("Ping An Bank", "平安银行"), ("Bank of Jiangcheng", "江城银行"),
)
_RURAL_BANKS: tuple[Pair, ...] = (
    ("Jiangcheng Rural Commercial Bank", "江城农村商业银行"), ("Huimin Village Bank", "惠民村镇银行"),
    ("Xingnong Village Bank", "兴农村镇银行"), ("Jiangcheng Rural Credit Cooperative", "江城农村信用合作社"),
)
_LOAN = (("working-capital loans", "流动资金贷款"), ("equipment loans", "设备贷款"))

ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("commercial_bank", "bank", 0.65,
              {"financing": 0.9, "guarantee": 0.35, "technology": 0.25, "energy": 0.2, "new_product": 0.1,
               "it": 0.05, "market": 0.15, "transport": 0.05},
              (("{brand}, {district} Sub-branch", "{brand}{area}支行"),
               ("{brand}, {district} {street} Sub-branch", "{brand}{street}支行")),
              _LOAN + (("inclusive-finance credit loans", "普惠小微信用贷款"),
                       ("invoice financing", "发票贷"), ("tax-record loans", "税易贷"),
                       ("mortgage loans on plant and property", "厂房抵押贷款"),
                       ("trade finance and letters of credit", "贸易融资和信用证"),
                       ("green loans for energy-saving upgrades", "节能改造绿色信贷"),
                       ("accounts-receivable financing", "应收账款融资")),
              scope="branch", amounts=(5e4, 3e5, 3e6, 3e7), capacity=40, fame=0.6, brands=_BIG_BANKS),
    Archetype("rural_bank", "bank", 0.25,
              {"financing": 0.85, "guarantee": 0.3, "technology": 0.15, "water": 0.05, "market": 0.1},
              (("{brand}, {district} Branch", "{brand}{area}支行"),
               ("{brand}, {street} Office", "{brand}{street}营业部")),
              _LOAN + (("agricultural production loans", "农业生产贷款"), ("loans for farmers and cooperatives",
                       "农户和合作社贷款"), ("seasonal purchase loans", "季节性收购贷款"),
                       ("individual business loans", "个体工商户经营贷款")),
              scope="local", focus=("agriculture", "wholesale_retail", "catering_accommodation",
                                    "transport_warehousing_postal", "other"), focus_share=0.6,
              amounts=(1e4, 5e4, 1e6, 5e6), capacity=30, fame=0.2, brands=_RURAL_BANKS),
    Archetype("tech_bank", "bank", 0.10,
              {"financing": 0.85, "guarantee": 0.35, "technology": 0.35, "new_product": 0.3, "it": 0.25},
              (("{brand}, {city} Science and Technology Sub-branch", "{brand}{city}科技支行"),),
              (("intellectual-property pledge loans", "知识产权质押贷款"), ("loans for technology firms",
               "科技型企业贷款"), ("R&D project loans", "研发项目贷款"), ("equipment loans", "设备贷款"),
               ("talent-entrepreneur credit", "人才贷")),
              scope="branch", focus=("manufacturing", "information_services", "leasing_business_services"),
              focus_share=0.7, amounts=(5e5, 1e6, 5e6, 2e7), capacity=15, brands=_BIG_BANKS),
    Archetype("guarantee_corp", "guarantee", 0.75, {"guarantee": 0.95, "financing": 0.5},
              (("{city} {brand} Financing Guarantee Co., Ltd.", "{city}{brand}融资担保有限公司"),
               ("{district} SME Financing Guarantee Co., Ltd.", "{district}中小企业融资担保有限公司"),
               ("{brand} Credit Guarantee Co., Ltd.", "{brand}信用担保有限公司")),
              (("loan guarantees", "贷款担保"), ("performance bonds", "履约保函"), ("bid bonds", "投标保函"),
               ("credit enhancement for bank loans", "银行贷款增信"), ("bill guarantees", "票据担保"),
               ("guarantees without collateral for small firms", "小微企业免抵押担保")),
              scope="branch", amounts=(1e5, 5e5, 5e6, 2e7), capacity=20, fame=0.2, brands=BRANDS),
    Archetype("agri_guarantee", "guarantee", 0.25, {"guarantee": 0.9, "financing": 0.45},
              (("{city} Agricultural Credit Guarantee Co., Ltd., {district} Office",
                "{city}农业信贷担保有限公司{district}办事处"),),
              (("guarantees for agricultural loans", "农业贷款担保"), ("guarantees for family farms",
               "家庭农场担保"), ("guarantees for cooperatives", "合作社贷款担保")),
              scope="branch", focus=("agriculture",), focus_share=0.9, amounts=(5e4, 1e5, 1e6, 3e6), capacity=15),
    Archetype("microloan", "microcredit", 1.0, {"financing": 0.75, "guarantee": 0.2},
              (("{district} {brand} Microcredit Co., Ltd.", "{district}{brand}小额贷款有限公司"),
               ("{city} {brand} Small Loan Co., Ltd.", "{city}{brand}小额贷款股份有限公司")),
              (("fast unsecured small loans", "快速信用小额贷款"), ("short-term bridge loans", "短期过桥贷款"),
               ("working-capital loans", "流动资金贷款"), ("loans for individual businesses", "个体户经营贷款"),
               ("car and equipment pledge loans", "车辆设备抵押贷款")),
              scope="local", amounts=(1e4, 5e4, 3e5, 3e6), capacity=20, fame=-0.2, brands=BRANDS),
    Archetype("agri_academy", "research_institute", 0.25,
              {"technology": 0.85, "new_product": 0.7, "water": 0.25, "energy": 0.2, "market": 0.15},
              (("{city} Academy of Agricultural Sciences", "{city}市农业科学研究院"),
               ("{district} Agricultural Technology Extension Station", "{district}农业技术推广站"),
               ("{city} {field} Research Institute", "{city}市{field}研究所")),
              (("new crop varieties", "农作物新品种"), ("pest and disease control", "病虫害防治"),
               ("agricultural product processing technology", "农产品加工技术"),
               ("water-saving irrigation", "节水灌溉技术"), ("soil testing", "土壤检测"),
               ("technology transfer to farms", "农业技术转让")),
              focus=("agriculture",), focus_share=1.0, capacity=10, fame=-0.3,
              fields=(("Tea", "茶叶"), ("Fruit Tree", "果树"), ("Aquaculture", "水产"), ("Animal Husbandry", "畜牧"),
                      ("Vegetable", "蔬菜"), ("Edible Fungi", "食用菌"), ("Seed", "种子"))),
    Archetype("industrial_institute", "research_institute", 0.30,
              {"technology": 0.9, "new_product": 0.85, "energy": 0.5, "it": 0.3},
              (("{city} Institute of {field} Research", "{city}市{field}研究所"),
               ("{city} {field} Research Institute", "{city}市{field}研究院"),
               ("{city} {field} Engineering Technology Research Centre", "{city}市{field}工程技术研究中心")),
              (("technology transfer", "技术转让"), ("pilot testing", "中试"), ("process improvement", "工艺改进"),
               ("product testing and certification", "产品检测认证"), ("equipment upgrading", "设备升级改造"),
               ("joint R&D of new products", "新产品联合研发")),
              focus=("manufacturing", "construction"), focus_share=0.8, capacity=8, fame=-0.3,
              fields=(("Machinery", "机械"), ("New Materials", "新材料"), ("Light Industry Design", "轻工业设计"),
                      ("Textile", "纺织"), ("Food Industry", "食品工业"), ("Chemical Industry", "化工"),
                      ("Electronics", "电子"), ("Building Materials", "建材"), ("Mould and Die", "模具"),
                      ("Packaging", "包装"))),
    Archetype("energy_centre", "research_institute", 0.15,
              {"energy": 0.9, "technology": 0.4, "electricity": 0.3, "water": 0.15},
              (("{city} Energy Conservation Technology Service Centre", "{city}市节能技术服务中心"),
               ("{city} Institute of Energy Research", "{city}市能源研究所"),
               ("{city} {field} Engineering Research Centre", "{city}市{field}工程研究中心")),
              (("energy audits", "能源审计"), ("energy-saving retrofits", "节能改造"),
               ("rooftop solar design", "屋顶光伏设计"), ("waste-heat recovery", "余热回收"),
               ("clean boiler conversion", "锅炉清洁能源改造")),
              capacity=10, fame=-0.3,
              fields=(("Solar Energy", "太阳能"), ("Thermal Energy", "热能"), ("Motor Efficiency", "电机能效"),
                      ("Building Energy", "建筑节能"), ("Clean Combustion", "清洁燃烧"))),
    Archetype("it_institute", "research_institute", 0.15,
              {"it": 0.9, "technology": 0.45, "new_product": 0.4, "skills": 0.2},
              (("{city} Institute of Software and Information Technology", "{city}市软件与信息技术研究院"),
               ("{city} Industrial Internet Innovation Centre", "{city}市工业互联网创新中心"),
               ("{city} {field} Engineering Technology Research Centre", "{city}市{field}工程技术研究中心")),
              (("ERP and management software", "企业管理软件"), ("digital transformation consulting", "数字化转型咨询"),
               ("e-commerce platforms", "电商平台建设"), ("network security", "网络安全服务"),
               ("industrial internet for workshops", "车间工业互联网")),
              capacity=10, fame=-0.3,
              fields=(("Big Data", "大数据"), ("Cybersecurity", "网络安全"), ("Smart Manufacturing", "智能制造"),
                      ("E-commerce", "电子商务"), ("Cloud Computing", "云计算"), ("Internet of Things", "物联网"))),
    Archetype("productivity_centre", "research_institute", 0.15,
              {"technology": 0.6, "new_product": 0.55, "market": 0.35, "it": 0.35, "skills": 0.3},
              (("{city} Productivity Promotion Centre", "{city}市生产力促进中心"),
               ("{city} Technology Transfer Centre", "{city}市技术转移中心"),
               ("{district} Productivity Promotion Centre", "{district}生产力促进中心"),
               ("{district} Science and Technology Innovation Service Centre", "{district}科技创新服务中心")),
              (("technology brokerage", "技术经纪"), ("patent services", "专利服务"), ("innovation vouchers",
               "创新券"), ("matchmaking with universities", "产学研对接")),
              capacity=12, fame=-0.2),
    Archetype("vocational_college", "college", 0.5, {"skills": 0.95, "technology": 0.35, "it": 0.35,
                                                     "new_product": 0.15},
              (("{city} Vocational and Technical College", "{city}职业技术学院"),
               ("{city} Technician College", "{city}技师学院"),
               ("{city} {field} Vocational College", "{city}{field}职业学院"),
               ("{district} Vocational Skills Training School", "{district}职业技能培训学校"),
               ("{brand} Vocational Training School", "{brand}职业培训学校")),
              (("vocational training", "职业技能培训"), ("apprenticeships", "学徒制培养"),
               ("welding and electrician certificates", "焊工电工证书培训"), ("e-commerce training", "电商培训"),
               ("order-based training of new workers", "订单式人才培养")),
              capacity=20, fame=-0.3, brands=BRANDS,
              fields=(("Commerce", "商贸"), ("Transport", "交通"), ("Light Industry", "轻工"), ("Agriculture", "农业"),
                      ("Construction", "建筑"), ("Tourism", "旅游"), ("Information Technology", "信息"))),
    Archetype("university", "college", 0.3,
              {"technology": 0.7, "new_product": 0.75, "it": 0.7, "energy": 0.45, "skills": 0.5, "market": 0.2},
              (("{city} University of Technology", "{city}理工大学"),
               ("{city} University, School of {field}", "{city}大学{field}学院"),
               ("{city} University of Technology, School of {field}", "{city}理工大学{field}学院")),
              (("joint research projects", "校企联合研发"), ("technology transfer", "技术转让"),
               ("product design", "产品设计"), ("laboratory testing", "实验室检测"),
               ("graduate internships", "毕业生实习")),
              capacity=10, fame=-0.3,
              fields=(("Mechanical Engineering", "机械工程"), ("Computer Science", "计算机"),
                      ("Materials Science", "材料科学与工程"), ("Food Science", "食品科学"),
                      ("Electrical Engineering", "电气工程"), ("Chemical Engineering", "化学工程"),
                      ("Environmental Science", "环境科学"), ("Civil Engineering", "土木工程"))),
    Archetype("business_school", "college", 0.2, {"market": 0.55, "skills": 0.6, "it": 0.3, "financing": 0.1},
              (("{city} University of Finance and Economics", "{city}财经大学"),
               ("{city} University, School of Business", "{city}大学商学院"),
               ("{city} University of Finance and Economics, School of {field}", "{city}财经大学{field}学院")),
              (("management training", "管理培训"), ("market research", "市场调研"),
               ("export marketing courses", "出口营销课程"), ("financial management training", "财务管理培训")),
              capacity=12, fame=-0.3,
              fields=(("Accounting", "会计"), ("International Trade", "国际贸易"), ("Marketing", "市场营销"),
                      ("E-commerce", "电子商务"), ("Management", "管理"))),
    Archetype("land_bureau", "government", 0.12, {"land": 0.95},
              (("{city} Bureau of Natural Resources and Planning", "{city}市自然资源和规划局"),
               ("{district} Branch, {city} Bureau of Natural Resources and Planning",
                "{city}市自然资源和规划局{area}分局")),
              (("land approvals", "用地审批"), ("industrial land supply", "工业用地供应"),
               ("land-use certificates", "不动产权证办理"), ("planning permits", "规划许可"),
               ("change of land use", "土地用途变更")),
              capacity=40),
    Archetype("water_bureau", "government", 0.10, {"water": 0.95, "energy": 0.1},
              (("{city} Water Affairs Bureau", "{city}市水务局"),
               ("{district} Water Affairs Bureau", "{district}水务局")),
              (("water permits", "取水许可"), ("water supply connections", "供水报装"),
               ("wastewater discharge permits", "排水许可"), ("irrigation water", "农业灌溉用水")),
              capacity=40),
    Archetype("power_supply", "government", 0.12, {"electricity": 0.95, "energy": 0.5},
              (("State Grid {city} Power Supply Company", "国网{city}供电公司"),
               ("State Grid {city} {district} Power Supply Centre", "国网{city}{area}供电中心")),
              (("power grid connection", "电网接入"), ("transformer capacity increase", "变压器增容"),
               ("three-phase power supply", "三相电报装"), ("demand-side energy management", "需求侧用能管理")),
              capacity=50),
    Archetype("rail_freight", "government", 0.07, {"transport": 0.9, "market": 0.2},
              (("China Railway {city} Freight Centre", "中国铁路{city}货运中心"),
               ("{district} Rail Freight Station", "{district}铁路货运站")),
              (("rail freight", "铁路货运"), ("container booking on the China-Europe railway express", "中欧班列舱位"),
               ("freight yard warehousing", "货场仓储"), ("cold-chain rail transport", "铁路冷链运输")),
              capacity=30),
    Archetype("transport_bureau", "government", 0.08, {"transport": 0.75},
              (("{city} Transport Bureau", "{city}市交通运输局"),
               ("{district} Transport Bureau", "{district}交通运输局")),
              (("truck access permits", "货车通行证"), ("logistics park places", "物流园区入驻"),
               ("road access for industrial sites", "工业园区道路配套")),
              capacity=30),
    Archetype("commerce_bureau", "government", 0.12, {"market": 0.85, "transport": 0.2},
              (("{city} Commerce Bureau", "{city}市商务局"), ("{district} Commerce Bureau", "{district}商务局")),
              (("export fairs", "出口商品交易会"), ("trade missions", "境外经贸洽谈"),
               ("cross-border e-commerce support", "跨境电商扶持"), ("market-access and certification advice",
               "市场准入和认证咨询"), ("supermarket and procurement matchmaking", "商超和采购对接")),
              capacity=40),
    Archetype("sme_centre", "government", 0.16,
              {"financing": 0.4, "guarantee": 0.3, "skills": 0.5, "market": 0.5, "it": 0.45, "technology": 0.35,
               "land": 0.2},
              (("{city} SME Service Centre", "{city}市中小企业服务中心"),
               ("{district} Enterprise Service Centre", "{district}企业服务中心")),
              (("policy consulting", "政策咨询"), ("loan interest subsidies", "贷款贴息"),
               ("training for managers", "经营管理培训"), ("digitalisation vouchers", "数字化转型补贴"),
               ("market matchmaking", "市场对接"), ("one-stop approvals", "一站式审批代办")),
              capacity=50, fame=0.6),
    Archetype("hr_bureau", "government", 0.08, {"skills": 0.8, "financing": 0.2},
              (("{city} Human Resources and Social Security Bureau", "{city}市人力资源和社会保障局"),
               ("{district} Human Resources and Social Security Bureau", "{district}人力资源和社会保障局")),
              (("training subsidies", "职业培训补贴"), ("recruitment fairs", "招聘会"),
               ("start-up guaranteed loans", "创业担保贷款"), ("skills certification", "技能等级认定")),
              capacity=40),
    Archetype("science_bureau", "government", 0.08, {"technology": 0.55, "new_product": 0.6, "financing": 0.2},
              (("{city} Science and Technology Bureau", "{city}市科学技术局"),
               ("{district} Science and Technology Bureau", "{district}科学技术局")),
              (("R&D subsidies", "研发费用补助"), ("high-tech enterprise certification", "高新技术企业认定"),
               ("science and technology projects", "科技计划项目")),
              capacity=30),
    Archetype("drc", "government", 0.07, {"energy": 0.6, "land": 0.3, "electricity": 0.3},
              (("{city} Development and Reform Commission", "{city}市发展和改革委员会"),
               ("{district} Development and Reform Bureau", "{district}发展和改革局")),
              (("energy-consumption quotas", "能耗指标"), ("project filing", "项目备案"),
               ("energy-saving subsidies", "节能专项资金")),
              capacity=30),
)

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
            opening = ("Offers {} for small and micro enterprises.", "Products and services: {}.",
                       "We provide {}.")[int(u[2] * 3)]
            text["en"].append(opening.format(_join(items, "en")))
        else:
            opening = ("为小微企业提供{}。", "主要业务：{}。", "提供{}等服务。")[int(u[2] * 3)]
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
