"""The simulator's text bank: how enterprises name themselves and state their problems, in English and Chinese.

Inputs: per-problem arrays drawn by ``training.simulator.generate`` (true categories as indexes into
``matching.records.CATEGORIES``, sector and district indexes, amounts asked for, staff, founding year) and
a numpy ``Generator``. Outputs: the problem texts with their language (``en``, ``zh`` or ``mixed``) and a
flag telling which texts carry typos (``render_problem_texts``), and enterprise names (``enterprise_names``).

Every random choice reads a pre-drawn uniform matrix, one row per problem, so a seed gives the same texts
whatever else changes, and a rendering with ``typo_share=0`` is the typo-free version of the same texts.
Institution names and descriptions are in ``training.simulator.institutions``; the vocabulary both share
(the city, its districts and streets) is here.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from matching.records import CATEGORIES, SECTORS

__all__ = [
    "CITY",
    "CITIES",
    "DISTRICTS",
    "DISTRICT_WEIGHTS",
    "BRANDS",
    "SECTOR_NAMES",
    "STREETS",
    "SECTOR_WORDS",
    "TEMPLATES",
    "ProblemTexts",
    "render_problem_texts",
    "enterprise_names",
    "format_amount",
]

Pair = tuple[str, str]  # (English, Chinese)

# The city of the programme first; the others appear only in province-sized runs (thousands of institutions).
CITIES: tuple[Pair, ...] = (
    ("Jiangcheng", "江城"), ("Heyang", "河阳"), ("Shanqiao", "山桥"), ("Qingshui", "清水"), ("Baiyun", "白云"),
    ("Longquan", "龙泉"), ("Xinhe", "新河"), ("Yunxi", "云溪"), ("Fengcheng", "枫城"), ("Huaxi", "华溪"),
    ("Songping", "松坪"), ("Taoyuan", "桃源"), ("Jinping", "金坪"), ("Lushan", "鹿山"), ("Wuling", "武陵"),
    ("Beiyang", "北阳"), ("Changning", "长宁"), ("Pingtan", "平滩"), ("Yuhe", "玉河"), ("Shiqiao", "石桥"),
    ("Anling", "安陵"), ("Bishui", "碧水"), ("Chenxi", "辰溪"), ("Dashan", "大杉"), ("Fuqiao", "福桥"),
    ("Guanghe", "广河"), ("Hongling", "红岭"), ("Jinsha", "金沙"), ("Lanxi", "岚溪"), ("Mingshui", "明水"),
    ("Ningyuan", "宁原"), ("Qiaotou", "桥头"), ("Ruixi", "瑞溪"), ("Shuangfeng", "双峰"), ("Tianhe", "天禾"),
    ("Wenshui", "文水"), ("Xiangping", "湘坪"), ("Yanshan", "雁山"), ("Zhuxi", "竹溪"), ("Zhaoyang", "朝阳"),
)
CITY: Pair = CITIES[0]
# District names as stored in the tables (pinyin) and in Chinese; the first is the city centre.
DISTRICTS: tuple[Pair, ...] = (
    ("Chengguan", "城关区"), ("Jiangbei", "江北区"), ("Jiangnan", "江南区"), ("Gaoxin", "高新区"),
    ("Nanhu", "南湖区"), ("Xishan", "西山区"), ("Dongling", "东岭区"), ("Linkong", "临空区"),
)
# How enterprises spread over the districts (the centre and the two river banks are the busiest).
DISTRICT_WEIGHTS: tuple[float, ...] = (0.18, 0.16, 0.15, 0.13, 0.11, 0.10, 0.09, 0.08)
STREETS: tuple[Pair, ...] = (
    ("Renmin Road", "人民路"), ("Jiefang Road", "解放路"), ("Zhongshan Road", "中山路"),
    ("Binjiang Avenue", "滨江大道"), ("Xinhua Street", "新华街"), ("Wenhua Road", "文化路"),
    ("Jianshe Road", "建设路"), ("Chaoyang Road", "朝阳路"), ("Heping Road", "和平路"),
    ("Dongfeng Road", "东风路"), ("Keji Road", "科技路"), ("Changjiang Road", "长江路"),
)


SECTOR_NAMES: dict[str, Pair] = {
    "manufacturing": ("manufacturing", "制造业"),
    "agriculture": ("agriculture", "农业"),
    "construction": ("construction", "建筑业"),
    "wholesale_retail": ("wholesale and retail", "批发零售业"),
    "transport_warehousing_postal": ("transport and warehousing", "交通运输仓储邮政业"),
    "catering_accommodation": ("catering and accommodation", "住宿和餐饮业"),
    "information_services": ("information services", "信息服务业"),
    "real_estate_property": ("real estate and property services", "房地产业"),
    "leasing_business_services": ("leasing and business services", "租赁和商务服务业"),
    "other": ("other services", "其他服务业"),
}


@dataclass(frozen=True, slots=True)
class SectorWords:
    trades: tuple[Pair, ...]  # what the firm is, for names and "we are a ... company"
    products: tuple[Pair, ...]
    equipment: tuple[Pair, ...]


SECTOR_WORDS: dict[str, SectorWords] = {
    "manufacturing": SectorWords(
        (("Machinery", "机械"), ("Precision Parts", "精密零部件"), ("Plastic Products", "塑料制品"),
         ("Electronics", "电子"), ("Textile", "纺织"), ("Furniture", "家具"), ("Packaging", "包装"),
         ("Metal Products", "金属制品"), ("Auto Parts", "汽车配件"), ("Food Processing", "食品加工")),
        (("auto parts", "汽车零部件"), ("plastic packaging", "塑料包装"), ("office furniture", "办公家具"),
         ("cotton fabric", "棉布面料"), ("valves", "阀门"), ("circuit boards", "电路板"),
         ("ceramic tiles", "瓷砖"), ("frozen dumplings", "速冻水饺"), ("steel fasteners", "紧固件")),
        (("CNC machines", "数控机床"), ("injection moulding machines", "注塑机"), ("production line", "生产线"),
         ("welding robots", "焊接机器人"), ("looms", "织布机"), ("air compressors", "空压机"),
         ("industrial boilers", "工业锅炉")),
    ),
    "agriculture": SectorWords(
        (("Agricultural Development", "农业开发"), ("Ecological Farm", "生态农场"), ("Tea", "茶业"),
         ("Aquaculture", "水产养殖"), ("Livestock", "畜牧"), ("Fruit and Vegetable", "果蔬"), ("Seedling", "种苗")),
        (("kiwi fruit", "猕猴桃"), ("tea", "茶叶"), ("rice", "大米"), ("mushrooms", "食用菌"),
         ("freshwater fish", "淡水鱼"), ("pork", "生猪"), ("vegetables", "蔬菜"), ("navel oranges", "脐橙")),
        (("cold storage", "冷库"), ("drip irrigation system", "滴灌设备"), ("grain dryers", "烘干机"),
         ("greenhouses", "温室大棚"), ("tea processing machines", "制茶机械"), ("aerators", "增氧机")),
    ),
    "construction": SectorWords(
        (("Construction Engineering", "建筑工程"), ("Decoration", "装饰工程"), ("Building Materials", "建材"),
         ("Municipal Engineering", "市政工程"), ("Steel Structure", "钢结构")),
        (("prefabricated components", "装配式构件"), ("interior fit-out", "室内装修"),
         ("ready-mixed concrete", "商品混凝土"), ("steel structures", "钢结构"), ("waterproofing", "防水工程")),
        (("tower cranes", "塔吊"), ("excavators", "挖掘机"), ("concrete mixers", "混凝土搅拌机"),
         ("scaffolding", "脚手架")),
    ),
    "wholesale_retail": SectorWords(
        (("Trading", "商贸"), ("Supermarket", "超市"), ("Home Appliances", "家电"), ("Hardware", "五金"),
         ("Pharmacy", "药房"), ("Clothing", "服装"), ("Food Wholesale", "食品批发")),
        (("home appliances", "家用电器"), ("building materials", "建材"), ("snack foods", "休闲食品"),
         ("clothing", "服装"), ("hardware", "五金"), ("mobile phones", "手机"), ("baby products", "母婴用品"),
         ("local specialties", "土特产")),
        (("shop fittings", "店面货架"), ("cash registers", "收银设备"), ("delivery vans", "配送车"),
         ("refrigerated display cabinets", "冷柜")),
    ),
    "transport_warehousing_postal": SectorWords(
        (("Logistics", "物流"), ("Freight", "货运"), ("Warehousing", "仓储"), ("Express Delivery", "快递"),
         ("Cold Chain", "冷链")),
        (("freight", "货物"), ("parcels", "快递包裹"), ("building materials", "建材"),
         ("fresh produce", "生鲜农产品"), ("containers", "集装箱")),
        (("refrigerated trucks", "冷藏车"), ("forklifts", "叉车"), ("heavy trucks", "重型货车"),
         ("warehouse racking", "仓储货架"), ("sorting machines", "分拣设备")),
    ),
    "catering_accommodation": SectorWords(
        (("Catering", "餐饮"), ("Hotel", "酒店"), ("Restaurant", "饭店"), ("Guesthouse", "民宿"), ("Hotpot", "火锅")),
        (("hotpot", "火锅"), ("noodles", "面食"), ("local cuisine", "本地菜"), ("guesthouse rooms", "民宿客房"),
         ("takeaway meals", "外卖快餐")),
        (("kitchen equipment", "厨房设备"), ("range hoods", "油烟净化器"), ("laundry machines", "洗衣设备"),
         ("air conditioners", "空调")),
    ),
    "information_services": SectorWords(
        (("Network Technology", "网络科技"), ("Software", "软件"), ("Information Technology", "信息技术"),
         ("Digital Media", "数字传媒"), ("Data Services", "数据服务")),
        (("mobile apps", "手机应用"), ("management software", "管理软件"), ("websites", "网站"),
         ("online courses", "在线课程"), ("smart home devices", "智能家居设备")),
        (("servers", "服务器"), ("data storage", "数据存储设备"), ("network equipment", "网络设备"),
         ("workstations", "工作站")),
    ),
    "real_estate_property": SectorWords(
        (("Property Management", "物业管理"), ("Real Estate Agency", "房地产经纪"),
         ("Real Estate Development", "房地产开发")),
        (("property management services", "物业服务"), ("rental apartments", "租赁公寓"), ("shop units", "商铺")),
        (("elevators", "电梯"), ("security systems", "安防系统"), ("water pumps", "水泵")),
    ),
    "leasing_business_services": SectorWords(
        (("Equipment Leasing", "设备租赁"), ("Advertising", "广告"), ("Consulting", "咨询"),
         ("Human Resources", "人力资源"), ("Exhibition Services", "会展服务"), ("Cleaning Services", "保洁服务")),
        (("equipment rental", "设备租赁"), ("advertising", "广告"), ("business consulting", "企业咨询"),
         ("event services", "会展服务"), ("cleaning services", "保洁服务")),
        (("construction machinery for rent", "租赁用工程机械"), ("printing machines", "印刷机"),
         ("display screens", "显示屏"), ("vehicles", "车辆")),
    ),
    "other": SectorWords(
        (("Printing", "印刷"), ("Laundry", "洗衣"), ("Beauty Salon", "美容美发"), ("Repair Services", "维修服务"),
         ("Education and Training", "教育培训")),
        (("printing", "印刷品"), ("laundry services", "洗衣服务"), ("handicrafts", "手工艺品"),
         ("repair services", "维修服务")),
        (("printing presses", "印刷机"), ("washing machines", "洗衣机"), ("sewing machines", "缝纫机")),
    ),
}

# Slots: {amount} {product} {equipment} {place} {staff} {years} {trade} {mu} {kva}. English templates hold no
# Chinese and Chinese templates no Latin letters, so the language of a text is the language it was drawn in.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "financing": {
        "en": (
            "Need a working capital loan of {amount}.",
            "We are short of working capital. Raw material prices went up and our customers pay late, so we "
            "need about {amount} to keep production going.",
            "Looking for a bank loan to buy new {equipment}.",
            "Cash flow problem, need a loan urgently",
            "Our {product} business is growing fast but the bank turned us down because we have no property "
            "to mortgage. We need {amount} before the next season.",
            "How can a small company like ours get credit? We need {amount} to fill a large order of {product}.",
            "Need financing of {amount} for expansion",
            "We want to expand our shop in {place} and need a loan of around {amount}. We have been operating "
            "for {years} years with stable revenue.",
            "Seeking short-term funding to pay suppliers before the Spring Festival.",
            "Receivables of about {amount} are stuck with a big customer; is there invoice or receivables "
            "financing we can use?",
        ),
        "zh": (
            "急需流动资金贷款{amount}。",
            "原材料涨价，客户回款慢，公司资金周转困难，希望申请{amount}贷款。",
            "想贷款购买{equipment}，请问有什么渠道？",
            "资金紧张，需要一笔贷款周转",
            "我们是{place}一家做{product}的小企业，没有房产抵押，银行不给贷款，需要{amount}周转。",
            "订单增加，想扩大生产，需要融资{amount}左右。",
            "应收账款有{amount}压在客户那里，能不能做应收账款融资？",
        ),
    },
    "guarantee": {
        "en": (
            "The bank requires a guarantor for our loan of {amount} and we cannot find one.",
            "No collateral for a bank loan, what can we do?",
            "We won a government tender but need a performance bond.",
            "Our loan application was approved on condition of a credit guarantee. Which guarantee company "
            "can help with {amount}?",
            "Need a guarantee for our bank loan",
            "We lease our workshop, so we have nothing to pledge. The bank says a guarantee corporation could "
            "back us for {amount}.",
            "Looking for a bid bond for a construction project in {place}.",
            "Can our {equipment} or our patents be used as collateral? We need {amount}.",
        ),
        "zh": (
            "银行要求提供担保，找不到担保人，{amount}贷款批不下来。",
            "缺少抵押物，需要担保公司帮忙",
            "中标了政府项目，需要开具履约保函。",
            "厂房是租的，没有可抵押的资产，希望担保公司能为{amount}贷款提供担保。",
            "需要投标保函，项目在{place}。",
            "能不能用{equipment}或者专利做抵押？需要{amount}。",
        ),
    },
    "technology": {
        "en": (
            "We still run old {equipment} and the defect rate is high. We want to upgrade the production line.",
            "Need technical support to improve the quality of our {product}.",
            "Looking for technology transfer for {product} processing.",
            "Want to automate our production line",
            "We would like to cooperate with a university or research institute to solve a process problem "
            "in {product} manufacturing.",
            "We have constant breakdowns of the {equipment}; we need expert advice on maintenance and upgrading.",
            "How can we improve our yield? Our technology is old.",
            "We plan to introduce new {equipment} but lack engineers to install and tune it. Pilot testing "
            "support would help.",
        ),
        "zh": (
            "{equipment}老化，次品率高，想进行技术改造。",
            "希望和高校或科研院所合作，解决{product}生产工艺问题。",
            "需要技术支持，提高{product}质量。",
            "想引进{equipment}，但缺少技术人员安装调试。",
            "生产线需要自动化改造",
            "寻求{product}加工技术转让。",
            "设备落后，良品率低，想找专家做技术诊断。",
        ),
    },
    "energy": {
        "en": (
            "Electricity bills are eating our margins. We want an energy audit and advice on energy-saving "
            "equipment.",
            "Need to cut the energy consumption of our {equipment}.",
            "Looking for an energy saving retrofit",
            "Want to install rooftop solar panels on our workshop in {place}.",
            "Our boilers fail the new emission standards; we need to switch to cleaner energy.",
            "Looking for help with waste-heat recovery and lowering coal use.",
            "How can we get the energy-efficiency subsidy for replacing old motors?",
            "The district set energy-consumption quotas and we are over ours. We need a plan to reduce "
            "energy use by 15%.",
        ),
        "zh": (
            "能耗太高，电费压力大，希望做能源审计和节能改造。",
            "想在{place}的厂房屋顶安装光伏。",
            "锅炉达不到新的排放标准，需要改用清洁能源。",
            "需要做节能改造",
            "{equipment}耗能大，想降低能耗。",
            "想申请电机能效提升补贴，请问怎么办理？",
        ),
    },
    "new_product": {
        "en": (
            "We want to develop a new {product} line but lack R&D capability.",
            "Looking for a partner to design and test a new product.",
            "Need help with new product development",
            "Need help with product design and prototype testing for {product}.",
            "Customers ask for a greener version of our {product}; we need R&D support to redesign it.",
            "We have an idea for a new kind of {product} but no lab to test it. Pilot-scale trials needed.",
            "How can we apply for a patent and get the new design tested?",
            "Our products are too similar to competitors'. We want to cooperate with a college on new "
            "product development.",
        ),
        "zh": (
            "想开发{product}新产品，但缺乏研发能力。",
            "需要新产品设计和样品试制支持。",
            "想做新产品研发，找合作伙伴",
            "有新型{product}的想法，但没有实验室做中试。",
            "产品同质化严重，希望和高校合作开发新产品。",
            "想申请专利，并对新设计进行检测。",
        ),
    },
    "it": {
        "en": (
            "We still keep accounts and inventory on paper. We need an ERP system.",
            "Want to build an online shop for our {product}.",
            "Need IT support for our office",
            "Our website is outdated and we get no online orders.",
            "Looking for software to manage orders and warehouse stock.",
            "We had a cyber attack last month; we need help securing our network and data.",
            "We want to digitalise the workshop: collect data from the {equipment} and track production in "
            "real time.",
            "How do we move our sales to WeChat mini-programs and e-commerce platforms?",
        ),
        "zh": (
            "账目和库存还靠手工记录，需要上信息化管理系统。",
            "想为{product}开网店。",
            "需要数字化转型方面的支持。",
            "网站太旧，没有线上订单。",
            "想把{equipment}联网，实时采集生产数据。",
            "公司信息化建设需要帮助",
            "想通过微信小程序和电商平台卖{product}，不知道怎么做。",
        ),
    },
    "skills": {
        "en": (
            "We cannot find skilled workers to operate the {equipment}.",
            "Need training for our staff.",
            "Our {staff} employees need vocational training in {trade}.",
            "Hard to recruit qualified technicians",
            "Looking for a college to train our sales team in e-commerce and marketing.",
            "High staff turnover; we want an apprenticeship programme with a vocational school.",
            "We need certified welders and electricians; can a college run a short course?",
            "Our managers lack skills in finance and management; looking for training courses.",
        ),
        "zh": (
            "招不到会操作{equipment}的技术工人。",
            "员工需要职业技能培训。",
            "想和职业学校合作，开展订单式培养。",
            "缺技术工人，招工难",
            "希望给销售团队做电商和营销培训。",
            "管理人员缺乏财务和管理知识，需要培训。",
        ),
    },
    "land": {
        "en": (
            "Need land to build a new workshop in {place}.",
            "Our factory has no land-use certificate; how do we get the approval?",
            "Land approval is taking too long",
            "We want to expand but cannot get industrial land in {place}.",
            "Looking for industrial land (about {mu} mu) near {place} for a new plant.",
            "We need a change of land use approval for our warehouse.",
            "Need industrial land for expansion",
            "The planning permit for our plant extension has been pending for months.",
        ),
        "zh": (
            "想在{place}建新厂房，需要用地。",
            "工厂没有土地证，怎么办理用地手续？",
            "用地审批太慢",
            "需要{mu}亩左右工业用地建设新厂。",
            "仓库需要办理土地用途变更审批。",
            "厂房扩建规划许可几个月都批不下来。",
        ),
    },
    "water": {
        "en": (
            "Need a water permit for our plant.",
            "Water supply is unstable in {place}; production stops several times a week.",
            "Our wastewater discharge permit is about to expire.",
            "Water shortage for irrigation this summer",
            "We need a bigger water connection for the new production line.",
            "Looking for approval to draw groundwater for our {product} farm.",
            "Wastewater treatment costs are too high; we need help.",
            "Water pressure is too low at our site",
        ),
        "zh": (
            "需要办理取水许可证。",
            "{place}供水不稳定，一周停产好几次。",
            "排水许可证快到期了，需要续办。",
            "灌溉缺水",
            "新生产线需要增容供水管道。",
            "污水处理成本高，希望得到帮助。",
        ),
    },
    "electricity": {
        "en": (
            "Need a power grid connection for our new factory in {place}.",
            "Frequent power cuts damage our {equipment}.",
            "Want to apply for a transformer capacity increase",
            "Electricity capacity is not enough for the new line; we need the transformer upgraded to {kva} kVA.",
            "Power outages every week at our site",
            "The grid connection for our cold storage has been waiting for two months.",
            "How do we apply for a three-phase power supply for the workshop?",
            "Voltage is unstable and our machines trip several times a day.",
        ),
        "zh": (
            "新厂房在{place}，需要接入电网。",
            "经常停电，损坏{equipment}。",
            "申请变压器增容到{kva}千伏安。",
            "停电频繁",
            "冷库用电报装等了两个月。",
            "电压不稳，设备一天跳闸好几次。",
        ),
    },
    "transport": {
        "en": (
            "Need rail freight to ship {product} to other provinces.",
            "Logistics costs are too high; looking for cheaper transport.",
            "Need cold-chain transport for {product}.",
            "Trucks are not allowed into {place} during the day",
            "Looking for warehouse space and a logistics partner near the rail freight yard.",
            "Our deliveries are delayed; road access to our factory is poor.",
            "Shipping costs keep going up",
            "We want to export by the China-Europe railway express; who can book container space?",
        ),
        "zh": (
            "需要铁路货运把{product}运到外省。",
            "物流成本太高，想找更便宜的运输方式。",
            "{product}需要冷链运输。",
            "白天货车不能进{place}，送货困难。",
            "想通过中欧班列出口，谁能订到集装箱舱位？",
            "物流配送跟不上",
        ),
    },
    "market": {
        "en": (
            "Sales of our {product} dropped; we need new markets.",
            "Want to export {product} but do not know how to start.",
            "Looking for export fairs to show our {product}.",
            "We need market access certification for selling {product} abroad.",
            "No customers for our products",
            "We want to get our {product} into supermarket chains and government procurement lists.",
            "Our goods were held at customs; we need help with standards and certification.",
            "Can the commerce bureau help us join a trade mission to Southeast Asia?",
        ),
        "zh": (
            "{product}销量下滑，需要开拓新市场。",
            "想出口{product}，不知道怎么做。",
            "希望参加出口商品交易会，推广{product}。",
            "产品出口需要认证，请问怎么办理？",
            "销路不好",
            "想进入连锁超市和政府采购目录。",
        ),
    },
}

_PREFIXES: dict[str, tuple[str, ...]] = {
    "en": (
        "We are a {trade} company in {place} with {staff} employees.",
        "Small {trade} business here, {years} years old.",
        "I run a {trade} firm in {place}.",
        "Hello.",
        "Our main business is {product}.",
    ),
    "zh": (
        "我们是{place}的一家{trade}企业，有{staff}名员工。",
        "我公司成立{years}年，主要做{product}。",
        "你好，",
        "我们是做{trade}的小微企业。",
    ),
}
_CLOSINGS: dict[str, tuple[str, ...]] = {
    "en": ("Thanks.", "Any help appreciated.", "Please advise.", "Urgent!", "Please contact us as soon as possible."),
    "zh": ("谢谢！", "请尽快联系。", "望帮助解决。", "急！"),
}
_CONNECTORS: dict[str, tuple[str, ...]] = {
    "en": ("Also, ", "In addition, ", "Besides that, ", "Second problem: ", "And "),
    "zh": ("另外，", "同时，", "还有，", "此外，"),
}
# Chinese words that bilingual writers often put in English ("需要一笔working capital").
_CODE_SWITCH: tuple[Pair, ...] = (
    ("流动资金", "working capital"), ("贷款", "loan"), ("融资", "financing"), ("担保", "guarantee"),
    ("抵押", "collateral"), ("培训", "training"), ("技术", "technology"), ("节能", "energy saving"),
    ("新产品", "new product"), ("信息化", "IT"), ("数字化", "digital"), ("用地", "land"),
    ("供水", "water supply"), ("停电", "power cut"), ("电网", "grid"), ("物流", "logistics"),
    ("出口", "export"), ("认证", "certification"), ("网店", "online shop"), ("光伏", "solar PV"),
)
# Pinyin-input slips: the intended character and a homophone typed by mistake.
_ZH_SLIPS: dict[str, str] = {
    "需": "须", "账": "帐", "贷": "代", "资": "姿", "金": "今", "术": "树", "场": "厂", "电": "点", "培": "陪",
    "销": "消", "备": "被", "设": "社", "审": "申", "批": "披", "证": "正", "担": "单", "保": "宝", "融": "容",
    "流": "留", "急": "及", "员": "园", "厂": "场", "做": "作", "再": "在",
}

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_LATIN_WORD = re.compile(r"[A-Za-z]{4,}")
_DICE_COLUMNS = 48


@dataclass(frozen=True, slots=True)
class ProblemTexts:
    texts: list[str]
    languages: np.ndarray  # "en", "zh" or "mixed"
    typos: np.ndarray  # bool: the text differs from its typo-free rendering


class _Dice:
    """Reads one pre-drawn row of uniforms in order; past its end it reuses the row, rescrambled."""

    __slots__ = ("row", "at")

    def __init__(self, row: list[float]) -> None:
        self.row = row
        self.at = 0

    def uniform(self) -> float:
        self.at += 1
        if self.at <= _DICE_COLUMNS:
            return self.row[self.at - 1]
        return (self.row[self.at % _DICE_COLUMNS] * 7919.0 + self.at * 0.6180339887) % 1.0

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.uniform() * len(options))]

    def below(self, share: float) -> bool:
        return self.uniform() < share


def format_amount(amount: float, language: str, choice: float) -> str:
    """Money as people write it: ``RMB 1.2 million``, ``350,000 yuan``, ``120万元``..."""
    if language == "zh":
        if amount >= 1e8:
            return f"{amount / 1e8:g}亿元"
        options = (f"{amount / 1e4:g}万元", f"{amount / 1e4:g}万", f"人民币{amount / 1e4:g}万元")
    elif amount >= 1e6:
        options = (f"RMB {amount / 1e6:g} million", f"{amount / 1e6:g} million yuan", f"¥{amount:,.0f}",
                   f"{amount:,.0f} yuan", f"{amount / 1e6:g}m RMB")
    else:
        options = (f"{amount:,.0f} yuan", f"¥{amount:,.0f}", f"RMB {amount / 1e3:g}k", f"{amount / 1e3:g}k yuan")
    return options[int(choice * len(options))]


@lru_cache(maxsize=1024)
def _slot_names(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@lru_cache(maxsize=64)
def _templates(category: str, language: str, with_amount: bool) -> tuple[str, ...]:
    bank = TEMPLATES[category][language]
    return bank if with_amount else tuple(t for t in bank if "amount" not in _slot_names(t))


def _slots(side: int, words: SectorWords, picks: list[float], district: int, amount: float, staff: int,
           years: int) -> dict[str, str]:
    """Slot values in English (side 0) or Chinese (1); ``picks`` choose the same things in both languages."""
    place_en, place_zh = DISTRICTS[district]
    trade = words.trades[int(picks[0] * len(words.trades))][side]
    return {
        "amount": format_amount(amount, "zh" if side else "en", picks[4]) if amount == amount else "",
        "product": words.products[int(picks[1] * len(words.products))][side],
        "equipment": words.equipment[int(picks[2] * len(words.equipment))][side],
        "place": place_zh if side else (place_en if picks[3] < 0.5 else f"{place_en} District"),
        "staff": str(max(staff, 2)),
        "years": str(max(years, 1)),
        "trade": trade if side else trade.lower(),
        "mu": str(5 + int(picks[5] * 60)),
        "kva": str((2 + int(picks[6] * 12)) * 100),
    }


def _statement(dice: _Dice, category: str, language: str, slots: dict[str, str], with_amount: bool) -> str:
    return dice.pick(_templates(category, language, with_amount)).format_map(slots)


def _join(first: str, second: str, connector: str) -> str:
    """Two statements in one text: close the first sentence and lower-case the second's first word."""
    if _CJK.search(connector):
        return first.rstrip("。，,. ") + "。" + connector + second
    first = _sentence(first)
    if len(second) > 1 and second[1].islower():
        second = second[0].lower() + second[1:]
    return f"{first} {connector}{second}"


def _sentence(text: str) -> str:
    return text if not text or text[-1] in ".!?。？！" else text + "."


def _mixed(dice: _Dice, category: str, slots: dict[str, dict[str, str]], with_amount: bool) -> str:
    """One statement in both scripts, by one of the ways bilingual writers mix them."""
    way = int(dice.uniform() * 4)
    zh = dice.pick(_templates(category, "zh", with_amount))
    en = dice.pick(_templates(category, "en", with_amount))
    if way == 0 and _slot_names(zh) & {"product", "equipment"}:  # Chinese sentence, English product names
        text = zh.format_map({**slots["zh"], "product": slots["en"]["product"],
                              "equipment": slots["en"]["equipment"]})
    elif way == 1 and _slot_names(en) & {"product", "equipment", "place"}:  # English sentence, Chinese names
        text = en.format_map({**slots["en"], "product": slots["zh"]["product"],
                              "equipment": slots["zh"]["equipment"], "place": slots["zh"]["place"]})
    elif way == 2:  # Chinese sentence with English key words
        text = zh.format_map(slots["zh"])
        for chinese, english in _CODE_SWITCH:
            if chinese in text and dice.below(0.7):
                text = text.replace(chinese, english, 1)
    else:
        text = ""
    if not (_CJK.search(text) and _LATIN.search(text)):  # the same need stated in both languages
        text = en.format_map(slots["en"]) + " " + zh.format_map(slots["zh"])
    return text


def _typo(text: str, dice: _Dice) -> str:
    """One to three slips: swapped or dropped letters in English words, homophones in Chinese."""
    latin = list(_LATIN_WORD.finditer(text))
    for _ in range(1 + int(dice.uniform() * (3 if len(text) > 80 else 2))):
        if latin and (not _CJK.search(text) or dice.below(0.6)):
            match = latin[int(dice.uniform() * len(latin))]
            word, start = match.group(), match.start()
            at = 1 + int(dice.uniform() * (len(word) - 2))
            op = dice.uniform()
            if op < 0.5 and word[at] != word[at + 1]:
                word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            elif op < 0.85:
                word = word[:at] + word[at + 1 :]
            else:
                word = word[:at] + word[at] + word[at:]
            text = text[:start] + word + text[match.end() :]
            latin = list(_LATIN_WORD.finditer(text))
        else:
            slips = [i for i, ch in enumerate(text) if ch in _ZH_SLIPS]
            if slips:
                i = slips[int(dice.uniform() * len(slips))]
                text = text[:i] + _ZH_SLIPS[text[i]] + text[i + 1 :]
            else:
                cjk = [m.start() for m in _CJK.finditer(text)]
                if len(cjk) > 2:
                    i = cjk[int(dice.uniform() * len(cjk))]
                    text = text[:i] + text[i + 1 :]
    return text


def render_problem_texts(
    rng: np.random.Generator,
    *,
    first: np.ndarray,
    second: np.ndarray,
    sectors: np.ndarray,
    districts: np.ndarray,
    amounts: np.ndarray,
    staff: np.ndarray,
    years: np.ndarray,
    zh_share: float = 0.20,
    mixed_share: float = 0.10,
    typo_share: float = 0.10,
) -> ProblemTexts:
    """Texts for problems with true categories ``first`` and ``second`` (indexes; -1: none).

    ``amounts`` is NaN where no amount was asked for; then no template mentioning an amount is used.
    """
    n = len(first)
    slot_picks = rng.random((n, 7)).tolist()
    dice_rows = rng.random((n, _DICE_COLUMNS)).tolist()
    draw = rng.random((n, 2))
    languages = np.where(draw[:, 0] < zh_share, "zh", np.where(draw[:, 0] < zh_share + mixed_share, "mixed", "en"))
    typo_wanted = (draw[:, 1] < typo_share).tolist()
    texts: list[str] = []
    typos = np.zeros(n, dtype=bool)
    names = [(CATEGORIES[f], CATEGORIES[s] if s >= 0 else None) for f, s in zip(first.tolist(), second.tolist(),
                                                                                  strict=True)]
    words = [SECTOR_WORDS[SECTORS[k]] for k in range(len(SECTORS))]
    rows = zip(languages.tolist(), names, sectors.tolist(), districts.tolist(), amounts.tolist(), staff.tolist(),
               years.tolist(), strict=True)
    for i, (language, categories, sector, district, amount, size, age) in enumerate(rows):
        dice = _Dice(dice_rows[i])
        with_amount = amount == amount
        sides = ("en", "zh") if language == "mixed" else (language,)
        slots = {side: _slots(side == "zh", words[sector], slot_picks[i], district, amount, size, age)
                 for side in sides}
        base = language if language != "mixed" else ("zh" if dice.below(0.5) else "en")
        if language == "mixed":
            text = _mixed(dice, categories[0], slots, with_amount)
        else:
            text = _statement(dice, categories[0], base, slots[base], with_amount)
        if categories[1] is not None:
            second_text = _statement(dice, categories[1], base, slots[base], with_amount)
            text = _join(text, second_text, dice.pick(_CONNECTORS[base]))
        if dice.below(0.3):
            prefix = dice.pick(_PREFIXES[base]).format_map(slots[base])
            text = prefix + ("" if base == "zh" else " ") + text
        if dice.below(0.2):
            closing = dice.pick(_CLOSINGS[base])
            text = text + closing if base == "zh" else _sentence(text) + " " + closing
        if typo_wanted[i]:
            slipped = _typo(text, dice)
            typos[i] = slipped != text
            text = slipped
        texts.append(text)
    return ProblemTexts(texts=texts, languages=languages, typos=typos)


# --------------------------------------------------------------------------------------- enterprise names

BRANDS: tuple[Pair, ...] = (
    ("Hengda", "恒达"), ("Xinyuan", "鑫源"), ("Huamei", "华美"), ("Jinhui", "金辉"), ("Tianrun", "天润"),
    ("Ruifeng", "瑞丰"), ("Hongxing", "宏兴"), ("Yongsheng", "永盛"), ("Longteng", "龙腾"), ("Fuxing", "富兴"),
    ("Mingde", "明德"), ("Jiahe", "嘉禾"), ("Baoli", "宝利"), ("Kangda", "康达"), ("Shengshi", "盛世"),
    ("Dingxin", "鼎信"), ("Haoyu", "浩宇"), ("Zhongcheng", "中诚"), ("Yida", "亿达"), ("Xiangyun", "祥云"),
    ("Huatai", "华泰"), ("Jiayuan", "佳源"), ("Boyuan", "博远"), ("Chuangxin", "创新"), ("Lvyuan", "绿源"),
    ("Tongda", "通达"), ("Wanjia", "万家"), ("Xinghe", "星河"), ("Anxin", "安信"), ("Ronghua", "荣华"),
    ("Dongsheng", "东升"), ("Jinshan", "金山"), ("Qianli", "千里"), ("Hexin", "合信"), ("Yuanda", "远大"),
    ("Shunfa", "顺发"), ("Meijia", "美佳"), ("Zhongtian", "中天"), ("Huayu", "华宇"), ("Fengtai", "丰泰"),
)
_SURNAMES: tuple[Pair, ...] = (
    ("Wang", "王"), ("Li", "李"), ("Zhang", "张"), ("Liu", "刘"), ("Chen", "陈"), ("Yang", "杨"), ("Zhao", "赵"),
    ("Huang", "黄"), ("Zhou", "周"), ("Wu", "吴"), ("Xu", "徐"), ("Sun", "孙"), ("Hu", "胡"), ("Zhu", "朱"),
    ("Gao", "高"), ("Lin", "林"), ("He", "何"), ("Guo", "郭"), ("Ma", "马"), ("Luo", "罗"),
)
_SHOP_SECTORS = frozenset({"wholesale_retail", "catering_accommodation", "other"})


def enterprise_names(rng: np.random.Generator, sectors: np.ndarray, districts: np.ndarray,
                     zh_share: float = 0.55) -> list[str]:
    """Company names as registered: ``江城市恒达机械有限公司``, ``Jiangbei Jiahe Tea Cooperative``, ``王记火锅店``."""
    draw = rng.random((len(sectors), 5))
    names: list[str] = []
    for i in range(len(sectors)):
        u = draw[i]
        sector = SECTORS[int(sectors[i])]
        trade = SECTOR_WORDS[sector].trades
        trade_en, trade_zh = trade[int(u[1] * len(trade))]
        brand_en, brand_zh = BRANDS[int(u[2] * len(BRANDS))]
        district_en, district_zh = DISTRICTS[int(districts[i])]
        form = u[3]
        if sector in _SHOP_SECTORS and form < 0.3:
            surname_en, surname_zh = _SURNAMES[int(u[4] * len(_SURNAMES))]
            en, zh = f"{surname_en}'s {trade_en}", f"{surname_zh}记{trade_zh}店"
        elif sector == "agriculture" and form < 0.4:
            en = f"{district_en} {brand_en} {trade_en} Cooperative"
            zh = f"{district_zh}{brand_zh}{trade_zh}专业合作社"
        elif form < 0.55:
            en, zh = f"{CITY[0]} {brand_en} {trade_en} Co., Ltd.", f"{CITY[1]}市{brand_zh}{trade_zh}有限公司"
        elif form < 0.75:
            en, zh = f"{district_en} {brand_en} {trade_en} Co., Ltd.", f"{district_zh}{brand_zh}{trade_zh}有限公司"
        else:
            en, zh = f"{brand_en} {trade_en} Co., Ltd.", f"{brand_zh}{trade_zh}有限公司"
        names.append(zh if u[0] < zh_share else en)
    return names
