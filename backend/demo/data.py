"""Demo content for a fictional city, 江州市, used to seed a development database.

Everything here is invented: the city, its districts, streets and communities, the
foundation (its 统一社会信用代码 is well-formed but fictional), the funds, the charity
spaces and the needs (小微项目). No real person is named; stories speak of households,
counts and situations only.

Conventions:

- Money is in fen (分), always whole yuan (multiples of 100).
- Times are relative to the day the data is seeded: ``*_days_ago`` count backwards from
  today, ``deadline_days`` counts forwards (negative when the deadline has passed).
- ``budget_lines`` are ``(item, amount_fen)`` pairs that add up exactly to ``goal_fen``.
- The data satisfies the disclosure rules (信息公开) on the day it is seeded: a need that
  has been running for more than 180 days has a disclosure or progress update in the last
  90 days, and every completed or closed need has its final report within 90 days of its
  end. Exactly one need, marked ``disclosure_overdue``, breaks the rule on purpose, so the
  back office has an overdue disclosure to show.

Run ``python backend/demo/data.py`` to check the invariants.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------

Level = Literal["city", "district", "street", "community"]
Category = Literal[
    "elderly",
    "children",
    "hardship",
    "medical",
    "education",
    "disability",
    "military",
    "environment",
    "convenience",
]
Status = Literal[
    "draft", "submitted", "fundraising", "funded", "in_progress", "completed", "closed"
]
UpdateKind = Literal["progress", "disclosure", "final"]
Metric = Literal["fund_count", "need_count", "space_count", "raised_fen", "beneficiary_count"]


class RegionNode(TypedDict):
    name: str
    level: Level
    key: NotRequired[str]  # communities only
    children: NotRequired[list[RegionNode]]  # all levels but community


class FoundationData(TypedDict):
    name: str
    credit_code: str
    mch_id: str


class FundData(TypedDict):
    key: str
    community: str
    name: str
    committee_threshold_fen: int
    public_fundraising: bool
    established_days_ago: int


class SpaceData(TypedDict):
    code: str
    name: str
    community: str
    fund: str
    address: str
    opening_hours: str
    description: str


class TargetData(TypedDict):
    region: str  # "city" or a district's name
    metric: Metric
    target: int


class UpdateData(TypedDict):
    days_ago: int
    kind: UpdateKind
    text: str


class NeedData(TypedDict):
    key: str
    fund: str
    category: Category
    title: str
    story: str
    goal_fen: int
    budget_lines: list[tuple[str, int]]
    beneficiary_count: int
    status: Status
    published_days_ago: int | None
    deadline_days: int
    completed_days_ago: int | None
    close_reason: str | None
    filing_number: str | None
    updates: list[UpdateData]
    #: the one need whose disclosure is late on the day it is seeded (see the invariants)
    disclosure_overdue: NotRequired[bool]


# ---------------------------------------------------------------------------
# Regions: 市 → 区 → 街道/镇 → 社区/村
# ---------------------------------------------------------------------------

CITY: RegionNode = {
    "name": "江州市",
    "level": "city",
    "children": [
        {
            "name": "临江区",
            "level": "district",
            "children": [
                {
                    "name": "望湖街道",
                    "level": "street",
                    "children": [
                        {"name": "望湖社区", "level": "community", "key": "c1"},
                        {"name": "柳岸社区", "level": "community", "key": "c2"},
                        {"name": "桂苑社区", "level": "community", "key": "c3"},
                    ],
                },
                {
                    "name": "南门街道",
                    "level": "street",
                    "children": [
                        {"name": "南门社区", "level": "community", "key": "c4"},
                        {"name": "书院社区", "level": "community", "key": "c5"},
                        {"name": "锦绣社区", "level": "community", "key": "c6"},
                    ],
                },
            ],
        },
        {
            "name": "青山区",
            "level": "district",
            "children": [
                {
                    "name": "白沙镇",
                    "level": "street",
                    "children": [
                        {"name": "白沙村", "level": "community", "key": "c7"},
                        {"name": "石桥村", "level": "community", "key": "c8"},
                    ],
                },
            ],
        },
    ],
}

# ---------------------------------------------------------------------------
# Foundation, funds, charity spaces, targets
# ---------------------------------------------------------------------------

FOUNDATION: FoundationData = {
    "name": "江州市慈善基金会",
    # Fictional, but with valid GB 11714 and GB 32100 check characters.
    "credit_code": "53330100MJ8820416T",
    "mch_id": "1900000109",
}

FUNDS: list[FundData] = [
    {
        "key": "f1",
        "community": "c1",
        "name": "望湖社区慈善基金",
        "committee_threshold_fen": 300000,
        "public_fundraising": True,
        "established_days_ago": 860,
    },
    {
        "key": "f2",
        "community": "c2",
        "name": "柳岸社区慈善基金",
        "committee_threshold_fen": 200000,
        "public_fundraising": True,
        "established_days_ago": 720,
    },
    {
        "key": "f3",
        "community": "c3",
        "name": "桂苑社区慈善基金",
        "committee_threshold_fen": 100000,
        "public_fundraising": False,
        "established_days_ago": 540,
    },
    {
        "key": "f4",
        "community": "c4",
        "name": "南门社区慈善基金",
        "committee_threshold_fen": 300000,
        "public_fundraising": True,
        "established_days_ago": 800,
    },
    {
        "key": "f5",
        "community": "c5",
        "name": "书院社区慈善基金",
        "committee_threshold_fen": 100000,
        "public_fundraising": False,
        "established_days_ago": 460,
    },
    {
        "key": "f6",
        "community": "c6",
        "name": "锦绣社区慈善基金",
        "committee_threshold_fen": 200000,
        "public_fundraising": True,
        "established_days_ago": 380,
    },
    {
        "key": "f7",
        "community": "c7",
        "name": "白沙村慈善基金",
        "committee_threshold_fen": 100000,
        "public_fundraising": False,
        "established_days_ago": 300,
    },
    {
        "key": "f8",
        "community": "c8",
        "name": "石桥村慈善基金",
        "committee_threshold_fen": 100000,
        "public_fundraising": False,
        "established_days_ago": 240,
    },
]

SPACES: list[SpaceData] = [
    {
        "code": "jz-wh-01",
        "name": "望湖社区慈善空间",
        "community": "c1",
        "fund": "f1",
        "address": "江州市临江区望湖街道湖滨路128号望湖社区党群服务中心一楼",
        "opening_hours": "周一至周六 9:00-17:00",
        "description": (
            "设有爱心捐赠角、项目公示墙和便民服务台，居民可扫码查看本社区每一笔善款的去向。"
        ),
    },
    {
        "code": "jz-nm-01",
        "name": "南门爱心驿站",
        "community": "c4",
        "fund": "f4",
        "address": "江州市临江区南门街道解放南路56号",
        "opening_hours": "周一至周日 8:30-18:00",
        "description": (
            "为环卫工人、快递小哥和过往居民提供热水、休息座椅和应急药箱。每周二、周六设便民修理点。"
        ),
    },
    {
        "code": "jz-sy-01",
        "name": "书院社区慈善空间",
        "community": "c5",
        "fund": "f5",
        "address": "江州市临江区南门街道书院巷12号",
        "opening_hours": "周二至周日 9:00-17:30",
        "description": (
            "庇护工坊学员的烘焙义卖点，义卖收入全部返还学员。空间内设少儿阅读区和志愿者报名处。"
        ),
    },
    {
        "code": "jz-bs-01",
        "name": "白沙村爱心驿站",
        "community": "c7",
        "fund": "f7",
        "address": "江州市青山区白沙镇白沙大道88号白沙村文化礼堂一楼",
        "opening_hours": "周一至周五 8:30-17:00",
        "description": "村里的慈善公示和捐赠点，周末是留守儿童陪伴课堂的活动场地。",
    },
]

TARGETS: list[TargetData] = [
    {"region": "city", "metric": "fund_count", "target": 300},
    {"region": "city", "metric": "need_count", "target": 500},
    {"region": "city", "metric": "space_count", "target": 50},
    {"region": "city", "metric": "raised_fen", "target": 5000000000},
    {"region": "city", "metric": "beneficiary_count", "target": 100000},
    {"region": "临江区", "metric": "fund_count", "target": 60},
    {"region": "临江区", "metric": "need_count", "target": 100},
    {"region": "临江区", "metric": "space_count", "target": 10},
]

# ---------------------------------------------------------------------------
# Needs (小微项目)
# ---------------------------------------------------------------------------

# 公开募捐备案编号 (fictional): the foundation's credit code, the year and a sequence
# number. The gaps in the sequence are other funds' filings elsewhere in the city.
_FILING = "53330100MJ8820416T-2026-"

NEEDS: list[NeedData] = [
    # --- fundraising --------------------------------------------------------------
    {
        "key": "n01",
        "fund": "f1",
        "category": "environment",
        "title": "老旧小区雨水管维修",
        "story": (
            "望湖社区1至3幢建于1992年，共126户，原有铸铁雨水管锈蚀开裂，每逢梅雨季节外墙渗水、"
            "一楼住户家中返潮。项目将更换PVC雨水立管约420米并疏通地面排水沟，"
            "由有资质的施工队施工，居民代表全程监督验收。"
        ),
        "goal_fen": 1860000,
        "budget_lines": [
            ("雨水立管及管件材料费", 980000),
            ("施工人工费", 620000),
            ("高空作业吊篮租赁费", 180000),
            ("地面排水沟疏通费", 80000),
        ],
        "beneficiary_count": 340,
        "status": "fundraising",
        "published_days_ago": 25,
        "deadline_days": 65,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0047",
        "updates": [
            {
                "days_ago": 8,
                "kind": "progress",
                "text": "施工方已完成三幢楼雨水管的现场勘测，施工方案经居民议事会讨论通过。"
                "筹款达到目标后即开工，预计工期两周。",
            },
        ],
    },
    {
        "key": "n02",
        "fund": "f1",
        "category": "children",
        "title": "四点半课堂课后辅导",
        "story": (
            "社区内有40余名小学生的父母下班较晚，放学后无人看护。四点半课堂利用社区活动室，"
            "每周一至周五16:30-18:30由大学生志愿者和退休教师辅导作业、开展阅读活动。"
            "本项目筹集一学年的志愿者交通餐费补贴、文具和绘本。"
        ),
        "goal_fen": 960000,
        "budget_lines": [
            ("志愿者交通餐费补贴", 560000),
            ("文具及作业本", 160000),
            ("绘本与课外读物", 240000),
        ],
        "beneficiary_count": 42,
        "status": "fundraising",
        "published_days_ago": 200,
        "deadline_days": 45,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0011",
        "updates": [
            {
                "days_ago": 190,
                "kind": "progress",
                "text": "四点半课堂本周开课，首批报名学生38名，分低年级和高年级两个班。"
                "每天有2至3名志愿者到岗，家长可在社区公众号查看排班。",
            },
            {
                "days_ago": 100,
                "kind": "disclosure",
                "text": "开课三个月信息公开：累计开课58天，服务学生2140人次。"
                "已支出志愿者交通餐费补贴1740元、文具及作业本520元、绘本与课外读物1180元。",
            },
            {
                "days_ago": 15,
                "kind": "disclosure",
                "text": "第二季度信息公开：本季度开课61天，在读学生增至42名。"
                "已支出志愿者交通餐费补贴1830元、文具及作业本410元，新增绘本86册支出640元。",
            },
        ],
    },
    {
        "key": "n03",
        "fund": "f2",
        "category": "elderly",
        "title": "高龄老人居家适老化改造",
        "story": (
            "柳岸社区80岁以上老人共156名，其中20户老人住在无电梯的老楼，近一年有5位老人在家中跌倒。"
            "项目为这20户安装卫生间扶手、淋浴座椅、防滑地垫和夜间感应灯，"
            "每户改造前由社工上门评估，改造后回访。"
        ),
        "goal_fen": 1680000,
        "budget_lines": [
            ("扶手与淋浴座椅（20户）", 920000),
            ("防滑地垫与感应夜灯", 360000),
            ("安装人工费", 320000),
            ("上门评估与回访交通费", 80000),
        ],
        "beneficiary_count": 26,
        "status": "fundraising",
        "published_days_ago": 18,
        "deadline_days": 72,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0050",
        "updates": [],
    },
    {
        "key": "n04",
        "fund": "f4",
        "category": "hardship",
        "title": "困难家庭冬季暖心包",
        "story": (
            "南门社区登记在册的低保、低边及支出型困难家庭共60户，不少是独居老人和单亲家庭。"
            "入冬前，项目为每户准备一份暖心包：一床棉被、一套保暖内衣、一袋大米和一桶食用油，"
            "由网格员和志愿者在12月上旬逐户送达。"
        ),
        "goal_fen": 720000,
        "budget_lines": [
            ("棉被60床", 300000),
            ("保暖内衣60套", 180000),
            ("大米和食用油60份", 210000),
            ("包装与配送", 30000),
        ],
        "beneficiary_count": 118,
        "status": "fundraising",
        "published_days_ago": 10,
        "deadline_days": 20,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0055",
        "updates": [],
    },
    {
        "key": "n05",
        "fund": "f4",
        "category": "medical",
        "title": "慢病居民家庭健康监测",
        "story": (
            "南门社区有高血压、糖尿病等慢病登记居民212人，其中40户为独居或空巢老人，"
            "家中没有血压计和血糖仪。项目为这40户配置电子血压计和血糖仪，"
            "并联合社区卫生服务站每月上门随访一次，教会老人自测和记录。"
        ),
        "goal_fen": 640000,
        "budget_lines": [
            ("电子血压计40台", 360000),
            ("血糖仪及试纸", 240000),
            ("健康记录本印制", 40000),
        ],
        "beneficiary_count": 52,
        "status": "fundraising",
        "published_days_ago": 30,
        "deadline_days": 60,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0045",
        "updates": [
            {
                "days_ago": 12,
                "kind": "progress",
                "text": "社区卫生服务站已确定两名签约家庭医生负责每月随访。"
                "40户受助家庭名单已经网格员逐户核实。",
            },
        ],
    },
    {
        "key": "n06",
        "fund": "f6",
        "category": "education",
        "title": "困境儿童助学",
        "story": (
            "锦绣社区有10名在读中小学生来自困境家庭，有的父母一方重病，有的由祖辈抚养。"
            "项目按每人每学期600元、一学年两学期发放助学金，用于学习用品、校服和课外读物，"
            "发放前由社区和学校共同核实，名单不对外公开。"
        ),
        "goal_fen": 1200000,
        "budget_lines": [
            ("春季学期助学金（10人）", 600000),
            ("秋季学期助学金（10人）", 600000),
        ],
        "beneficiary_count": 10,
        "status": "fundraising",
        "published_days_ago": 40,
        "deadline_days": 50,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0042",
        "updates": [
            {
                "days_ago": 20,
                "kind": "progress",
                "text": "社区已与两所学校完成10名学生的家庭情况核实。"
                "筹满后，首期助学金将在寒假前发放到监护人账户。",
            },
        ],
    },
    {
        "key": "n07",
        "fund": "f1",
        "category": "disability",
        "title": "残疾人康复器材添置",
        "story": (
            "望湖社区持证残疾人共87名，其中肢体残疾37名，康复站现有器材多为十年前配置，部分已损坏。"
            "项目为社区康复站添置上下肢康复训练器、平行杠和站立架，并购置轮椅6台供居民免费借用，"
            "每周三由区康复医院治疗师驻点指导。"
        ),
        "goal_fen": 1580000,
        "budget_lines": [
            ("上下肢康复训练器", 680000),
            ("平行杠与站立架", 420000),
            ("轮椅6台", 420000),
            ("运输安装费", 60000),
        ],
        "beneficiary_count": 87,
        "status": "fundraising",
        "published_days_ago": 45,
        "deadline_days": 30,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0040",
        "updates": [],
    },
    {
        "key": "n08",
        "fund": "f2",
        "category": "military",
        "title": "退役军人走访慰问",
        "story": (
            "柳岸社区有退役军人、军属和烈属共48户，其中12户为年老体弱或生活困难的老兵家庭。"
            "春节前，社区双拥志愿服务队将逐户走访，为48户送上慰问品，"
            "并为12户困难老兵额外提供一次家政保洁和一次健康检查。"
        ),
        "goal_fen": 480000,
        "budget_lines": [
            ("慰问品48份", 288000),
            ("家政保洁（12户）", 120000),
            ("健康检查（12人）", 72000),
        ],
        "beneficiary_count": 60,
        "status": "fundraising",
        "published_days_ago": 5,
        "deadline_days": 55,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0057",
        "updates": [],
    },
    {
        "key": "n09",
        "fund": "f4",
        "category": "convenience",
        "title": "社区便民修理点",
        "story": (
            "南门社区老年居民多，修伞、配钥匙、换拉链、修小家电常常要跑很远。"
            "项目在社区服务中心一楼设立便民修理点，由8名有手艺的退休居民志愿者每周二、周六轮值，"
            "只收材料成本；善款用于购置工具、配件和工作台。"
        ),
        "goal_fen": 560000,
        "budget_lines": [
            ("维修工具与检测仪表", 260000),
            ("常用配件耗材", 180000),
            ("工作台与收纳柜", 120000),
        ],
        "beneficiary_count": 600,
        "status": "fundraising",
        "published_days_ago": 22,
        "deadline_days": 40,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0048",
        "updates": [
            {
                "days_ago": 10,
                "kind": "progress",
                "text": "8名志愿者已排好轮值表，修理点位置定在南门爱心驿站内。"
                "在工具到位之前，志愿者先用自带工具试运行了两个周六，共修好物件73件。",
            },
        ],
    },
    {
        "key": "n10",
        "fund": "f6",
        "category": "environment",
        "title": "楼道照明改造",
        "story": (
            "锦绣社区7幢、8幢是没有物业的老楼，6个单元的楼道灯坏了多年，晚上老人上下楼只能打手电。"
            "项目将36盏旧灯更换为声光控LED灯并整理楼道线路，由社区电工施工，"
            "完工后由楼长负责日常报修。"
        ),
        "goal_fen": 390000,
        "budget_lines": [
            ("声光控LED灯36盏", 144000),
            ("电线线槽等辅材", 96000),
            ("电工人工费", 150000),
        ],
        "beneficiary_count": 150,
        "status": "fundraising",
        "published_days_ago": 12,
        "deadline_days": 35,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0053",
        "updates": [],
    },
    {
        "key": "n11",
        "fund": "f3",
        "category": "elderly",
        "title": "老年人智能手机培训班",
        "story": (
            "桂苑社区60岁以上居民有900余人，很多老人不会用手机挂号、扫码乘车和视频通话。"
            "项目开设8期智能手机培训班，每期15人、4课时，由中学生志愿者一对一辅导，"
            "并印制大字版图文操作手册，方便老人回家后对照练习。"
        ),
        "goal_fen": 240000,
        "budget_lines": [
            ("大字版操作手册印制", 60000),
            ("志愿者餐费补贴", 120000),
            ("教学用品与茶水", 60000),
        ],
        "beneficiary_count": 120,
        "status": "fundraising",
        "published_days_ago": 15,
        "deadline_days": 45,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
    {
        "key": "n12",
        "fund": "f7",
        "category": "environment",
        "title": "村道太阳能路灯安装",
        "story": (
            "白沙村通往村小学和菜地的两条村道长约1.2公里，没有路灯，冬季傍晚学生放学和村民收工"
            "都摸黑走路，去年发生过两起摔伤。项目沿村道安装30盏太阳能路灯，"
            "由镇里指定的施工单位安装，村民代表参与选址和验收。"
        ),
        "goal_fen": 3600000,
        "budget_lines": [
            ("太阳能路灯30盏", 2400000),
            ("基础浇筑与安装", 900000),
            ("运输费", 120000),
            ("质保期巡检维护", 180000),
        ],
        "beneficiary_count": 860,
        "status": "fundraising",
        "published_days_ago": 35,
        "deadline_days": 85,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [
            {
                "days_ago": 20,
                "kind": "progress",
                "text": "村民代表会议已确定30盏路灯的点位，其中8盏位于学生上学必经的桥头和弯道。"
                "施工单位已完成现场踏勘。",
            },
        ],
    },
    {
        "key": "n13",
        "fund": "f5",
        "category": "education",
        "title": "少儿图书角",
        "story": (
            "书院社区活动中心有一间闲置小屋，周边三所小学的孩子放学后常在这里等家长。"
            "项目把它改造成少儿图书角，购置适合6至12岁儿童的图书800册、书架和阅读桌椅，"
            "由家长志愿者轮流管理，周末开展亲子共读。"
        ),
        "goal_fen": 680000,
        "budget_lines": [
            ("儿童图书800册", 400000),
            ("书架与阅读桌椅", 220000),
            ("照明灯具与地垫", 60000),
        ],
        "beneficiary_count": 200,
        "status": "fundraising",
        "published_days_ago": 28,
        "deadline_days": 60,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
    {
        "key": "n14",
        "fund": "f8",
        "category": "medical",
        "title": "大病家庭医疗救助",
        "story": (
            "石桥村目前有4户家庭因成员患尿毒症、恶性肿瘤等重大疾病，医保报销后每年自付部分仍在"
            "2万元以上，已影响正常生活。项目按经村民代表会议评议的标准，为4户每户发放5000元"
            "医疗救助金，凭医疗票据据实核销。"
        ),
        "goal_fen": 2000000,
        "budget_lines": [
            ("第一批医疗救助金（2户）", 1000000),
            ("第二批医疗救助金（2户）", 1000000),
        ],
        "beneficiary_count": 4,
        "status": "fundraising",
        "published_days_ago": 20,
        "deadline_days": 70,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [
            {
                "days_ago": 8,
                "kind": "progress",
                "text": "村民代表会议已通过4户救助对象的评议结果，并在村务公开栏公示7天无异议。"
                "公示不含受助人姓名和病情细节。",
            },
        ],
    },
    # --- funded -------------------------------------------------------------------
    {
        "key": "n15",
        "fund": "f1",
        "category": "convenience",
        "title": "便民雨伞与充电服务站",
        "story": (
            "望湖社区紧邻公交枢纽和农贸市场，居民和过路行人常遇到突降大雨、手机没电的情况。"
            "项目在社区服务中心和慈善空间门口设置两处便民服务站，配备共享雨伞100把、"
            "充电柜一台和应急药箱，由志愿者每日检查补充。"
        ),
        "goal_fen": 320000,
        "budget_lines": [
            ("共享雨伞100把", 150000),
            ("充电柜", 120000),
            ("应急药箱及药品", 50000),
        ],
        "beneficiary_count": 1500,
        "status": "funded",
        "published_days_ago": 40,
        "deadline_days": 20,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0041",
        "updates": [
            {
                "days_ago": 6,
                "kind": "progress",
                "text": "项目已筹满目标金额，共有41人次参与捐赠。"
                "雨伞和充电柜已下单，预计两周内到货安装。",
            },
        ],
    },
    {
        "key": "n16",
        "fund": "f4",
        "category": "children",
        "title": "寒假儿童托管班",
        "story": (
            "南门社区双职工家庭较多，寒假期间约有60名小学生白天无人照看。"
            "项目将在寒假开设为期4周的托管班，每天安排作业辅导、体育游戏和安全教育，"
            "由2名专职老师和大学生志愿者带班，并为孩子提供午餐。"
        ),
        "goal_fen": 1440000,
        "budget_lines": [
            ("专职老师劳务费", 640000),
            ("儿童午餐（60人×20天）", 600000),
            ("活动材料与意外保险", 200000),
        ],
        "beneficiary_count": 60,
        "status": "funded",
        "published_days_ago": 50,
        "deadline_days": 30,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0038",
        "updates": [
            {
                "days_ago": 10,
                "kind": "progress",
                "text": "托管班善款已筹满，报名将于12月下旬开放，优先照顾双职工和困难家庭。"
                "授课老师和志愿者已确定，场地为社区二楼多功能厅。",
            },
        ],
    },
    {
        "key": "n17",
        "fund": "f8",
        "category": "elderly",
        "title": "留守老人上门助浴",
        "story": (
            "石桥村60岁以上留守老人有73人，其中12位高龄或失能老人在家洗澡困难，冬季更难自理。"
            "项目引入专业助浴服务机构，为12位老人提供每月一次、共六个月的上门助浴，"
            "助浴员持证上岗，并配备助浴床和防滑保暖用品。"
        ),
        "goal_fen": 880000,
        "budget_lines": [
            ("上门助浴服务72人次", 720000),
            ("助浴床及防滑用品", 120000),
            ("老人意外保险", 40000),
        ],
        "beneficiary_count": 12,
        "status": "funded",
        "published_days_ago": 60,
        "deadline_days": -5,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [
            {
                "days_ago": 3,
                "kind": "progress",
                "text": "项目已筹满，服务机构已与村委会签订服务协议。"
                "首轮上门助浴将于下周开始，每次服务后由村网格员电话回访。",
            },
        ],
    },
    {
        "key": "n18",
        "fund": "f6",
        "category": "military",
        "title": "军属家庭上门维修服务",
        "story": (
            "锦绣社区有现役军人家庭19户，不少是军嫂独自带孩子、照顾老人，家里水电坏了常找不到人修。"
            "项目组建由退役军人和物业师傅组成的维修小队，为19户军属家庭提供一年的免费上门维修，"
            "材料费由项目承担。"
        ),
        "goal_fen": 600000,
        "budget_lines": [
            ("常用维修材料", 300000),
            ("维修师傅误工补贴", 240000),
            ("工具包", 60000),
        ],
        "beneficiary_count": 58,
        "status": "funded",
        "published_days_ago": 70,
        "deadline_days": -12,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0033",
        "updates": [
            {
                "days_ago": 30,
                "kind": "progress",
                "text": "善款已筹满，维修小队共6人，其中4人是退役军人。"
                "小队已为3户军属家庭上门更换水龙头和插座。",
            },
        ],
    },
    # --- in progress --------------------------------------------------------------
    {
        "key": "n19",
        "fund": "f1",
        "category": "elderly",
        "title": "独居老人爱心午餐",
        "story": (
            "望湖社区有独居老人65名，其中30名年满80岁或行动不便，做饭困难。"
            "项目与社区老年食堂合作，为30名老人每天提供一份两荤一素的午餐，每餐补贴3元，"
            "由志愿者送餐上门并顺带看望，全年按365天计算。"
        ),
        "goal_fen": 4380000,
        "budget_lines": [
            ("餐费补贴（30人×365天×3元）", 3285000),
            ("送餐志愿者交通补贴", 840000),
            ("保温餐箱与餐具", 255000),
        ],
        "beneficiary_count": 30,
        "status": "in_progress",
        "published_days_ago": 320,
        "deadline_days": -25,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0003",
        "updates": [
            {
                "days_ago": 305,
                "kind": "progress",
                "text": "爱心午餐本周正式开餐，首批30名老人全部登记完毕。"
                "送餐由12名志愿者分三条线路完成，每天11点前送到老人家中。",
            },
            {
                "days_ago": 215,
                "kind": "disclosure",
                "text": "第一季度信息公开：累计送餐2680份，"
                "支出餐费补贴8040元、保温餐箱与餐具2550元。"
                "志愿者在送餐时发现2位老人身体不适，已及时联系家属送医。",
            },
            {
                "days_ago": 125,
                "kind": "disclosure",
                "text": "第二季度信息公开：本季度送餐2730份，支出餐费补贴8190元。"
                "送餐志愿者的交通补贴尚未领取，留待年底统一发放。"
                "1位老人搬去子女家居住，名额已由候补老人接替。",
            },
            {
                "days_ago": 35,
                "kind": "disclosure",
                "text": "第三季度信息公开：本季度送餐2760份，支出餐费补贴8280元。"
                "全部支出凭证已在项目账目中公示，欢迎居民查阅。",
            },
        ],
    },
    {
        "key": "n20",
        "fund": "f5",
        "category": "disability",
        "title": "心智障碍青年庇护工坊",
        "story": (
            "书院社区及周边有14名18至35岁的心智障碍青年，毕业后大多待在家中，家长难以外出工作。"
            "项目在社区闲置用房开设庇护工坊，每周五天由2名特教老师带领学习手工烘焙和简单包装，"
            "产品在慈善空间义卖，收入全部返还学员。"
        ),
        "goal_fen": 2200000,
        "budget_lines": [
            ("特教老师劳务补贴", 1440000),
            ("烘焙设备", 480000),
            ("原料与包装", 280000),
        ],
        "beneficiary_count": 14,
        "status": "in_progress",
        "published_days_ago": 210,
        "deadline_days": -15,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [
            {
                "days_ago": 195,
                "kind": "progress",
                "text": "庇护工坊已完成场地布置和烘焙设备安装，14名学员全部报到。"
                "学员家长自发组成互助小组，轮流到工坊协助老师。",
            },
            {
                "days_ago": 110,
                "kind": "disclosure",
                "text": "运行满三个月信息公开：已支出烘焙设备4800元、特教老师劳务补贴3600元、"
                "原料与包装700元。学员已能独立制作曲奇和蛋卷，首场义卖收入1260元已全部发放给学员。",
            },
        ],
        # The second quarter's report was never posted: the back office flags it overdue.
        "disclosure_overdue": True,
    },
    {
        "key": "n21",
        "fund": "f7",
        "category": "children",
        "title": "留守儿童周末陪伴",
        "story": (
            "白沙村有留守儿童31名，父母常年在外务工，由祖辈照看。"
            "项目利用村文化礼堂，每个周末开设半天陪伴课堂，由镇中心小学教师和大学生志愿者"
            "带领阅读、手工和体育活动，每月安排一次与父母的视频连线。"
        ),
        "goal_fen": 1120000,
        "budget_lines": [
            ("志愿者交通与餐费补贴", 560000),
            ("活动材料与图书", 320000),
            ("孩子午点", 240000),
        ],
        "beneficiary_count": 31,
        "status": "in_progress",
        "published_days_ago": 95,
        "deadline_days": -10,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [
            {
                "days_ago": 60,
                "kind": "progress",
                "text": "陪伴课堂已连续开展5个周末，平均每次到课26名孩子。"
                "第一次亲子视频连线中，有4位家长专门调班参加。",
            },
            {
                "days_ago": 20,
                "kind": "progress",
                "text": "本月新增手工和跳绳课程，镇中心小学派出3名教师轮值。"
                "已支出活动材料与图书2100元、孩子午点860元，票据已上传。",
            },
        ],
    },
    {
        "key": "n22",
        "fund": "f4",
        "category": "environment",
        "title": "垃圾分类亭改造",
        "story": (
            "南门社区现有6处露天垃圾投放点，夏季异味重、雨天污水横流，周边住户反映强烈。"
            "项目将其改造为带顶棚、洗手池和除臭喷淋的垃圾分类亭，方案经居民议事会三次讨论确定，"
            "完工后由物业负责日常保洁。"
        ),
        "goal_fen": 2850000,
        "budget_lines": [
            ("分类亭主体6座", 1800000),
            ("洗手池与给排水", 450000),
            ("除臭喷淋设备", 360000),
            ("地面硬化", 240000),
        ],
        "beneficiary_count": 2100,
        "status": "in_progress",
        "published_days_ago": 60,
        "deadline_days": -8,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0035",
        "updates": [
            {
                "days_ago": 15,
                "kind": "progress",
                "text": "前3座分类亭已完成主体安装并投入使用，其余3座正在浇筑地面。"
                "施工期间临时投放点已设置指引牌。",
            },
        ],
    },
    {
        "key": "n23",
        "fund": "f2",
        "category": "hardship",
        "title": "困难家庭危旧房屋修缮",
        "story": (
            "柳岸社区有5户困难家庭居住在上世纪八十年代的自建房中，屋顶漏雨、墙体开裂，"
            "家中有残疾人或重病患者，无力自行维修。项目在街道住建办安全评估后，"
            "为5户进行屋面防水、墙体加固和电路改造，每户预算约7000元。"
        ),
        "goal_fen": 3500000,
        "budget_lines": [
            ("屋面防水材料与施工", 1500000),
            ("墙体加固", 1200000),
            ("电路改造", 650000),
            ("房屋安全评估费", 150000),
        ],
        "beneficiary_count": 16,
        "status": "in_progress",
        "published_days_ago": 150,
        "deadline_days": -28,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": _FILING + "0017",
        "updates": [
            {
                "days_ago": 120,
                "kind": "progress",
                "text": "街道住建办已完成5户房屋安全评估，其中2户屋面需整体翻修。"
                "施工单位经三家比价确定，首户已进场施工。",
            },
            {
                "days_ago": 40,
                "kind": "disclosure",
                "text": "已完成3户屋面防水和电路改造，支出18600元，票据与施工前后照片已公示。"
                "剩余2户将在雨季结束后施工。",
            },
        ],
    },
    # --- completed ----------------------------------------------------------------
    {
        "key": "n24",
        "fund": "f1",
        "category": "medical",
        "title": "老年人眼健康筛查",
        "story": (
            "望湖社区65岁以上老人约1100名，白内障、青光眼等眼病早期不易察觉。"
            "项目联合区人民医院眼科在社区开展两天集中筛查，为需要进一步诊治的老人预约转诊，"
            "并为20名低收入老人免费配老花镜。"
        ),
        "goal_fen": 560000,
        "budget_lines": [
            ("筛查设备运输与场地布置", 120000),
            ("医护人员餐费交通", 160000),
            ("老花镜20副", 200000),
            ("宣传与登记材料", 80000),
        ],
        "beneficiary_count": 416,
        "status": "completed",
        "published_days_ago": 130,
        "deadline_days": -70,
        "completed_days_ago": 40,
        "close_reason": None,
        "filing_number": _FILING + "0021",
        "updates": [
            {
                "days_ago": 60,
                "kind": "progress",
                "text": "眼健康筛查于上周六、周日在社区服务中心举行，共有416名老人参加。"
                "区人民医院派出眼科医生4名、护士6名。",
            },
            {
                "days_ago": 25,
                "kind": "final",
                "text": "项目已完成，共筛查老人416名，发现疑似白内障63人、青光眼9人，均已预约转诊。"
                "实际支出5480元，结余120元已转入社区基金池。",
            },
        ],
    },
    {
        "key": "n25",
        "fund": "f2",
        "category": "education",
        "title": "困难家庭大学新生助学金",
        "story": (
            "今年柳岸社区有3名困难家庭学生考入大学，家庭多为低保户或单亲家庭，学费和生活费压力较大。"
            "项目为每人一次性发放3000元入学助学金，经录取通知书和家庭情况核实后直接转入学生本人账户，"
            "并为他们对接志愿者导师。"
        ),
        "goal_fen": 900000,
        "budget_lines": [
            ("本科新生助学金（2人）", 600000),
            ("高职新生助学金（1人）", 300000),
        ],
        "beneficiary_count": 3,
        "status": "completed",
        "published_days_ago": 150,
        "deadline_days": -90,
        "completed_days_ago": 50,
        "close_reason": None,
        "filing_number": _FILING + "0018",
        "updates": [
            {
                "days_ago": 100,
                "kind": "progress",
                "text": "3名学生的录取通知书和家庭情况已核实，"
                "其中2名考入本科院校、1名考入高职院校。"
                "助学金将在开学前发放。",
            },
            {
                "days_ago": 30,
                "kind": "final",
                "text": "3笔助学金共9000元已于开学前全部转入学生本人账户，无结余。"
                "3名学生均已与志愿者导师结对，导师每学期至少联系一次。",
            },
        ],
    },
    {
        "key": "n26",
        "fund": "f6",
        "category": "convenience",
        "title": "社区公共休闲座椅增设",
        "story": (
            "锦绣社区老人多，小区主干道和菜场门口没有可以歇脚的地方，不少老人买菜回来只能坐在花坛边。"
            "项目在居民投票选出的12个点位增设带扶手、便于老人起身的防腐木座椅，"
            "并在其中4处加装遮阳棚。"
        ),
        "goal_fen": 780000,
        "budget_lines": [
            ("防腐木座椅12张", 480000),
            ("遮阳棚4处", 240000),
            ("安装固定", 60000),
        ],
        "beneficiary_count": 900,
        "status": "completed",
        "published_days_ago": 90,
        "deadline_days": -45,
        "completed_days_ago": 20,
        "close_reason": None,
        "filing_number": _FILING + "0029",
        "updates": [
            {
                "days_ago": 50,
                "kind": "progress",
                "text": "座椅样品已在社区广场试坐一周，居民投票选定带扶手的款式。"
                "首批6张座椅已完成安装。",
            },
            {
                "days_ago": 10,
                "kind": "final",
                "text": "12张座椅和4处遮阳棚已全部安装完成，并通过居民代表验收。"
                "实际支出7620元，结余180元转入社区基金池。",
            },
        ],
    },
    {
        "key": "n27",
        "fund": "f8",
        "category": "disability",
        "title": "重度残疾人家庭取暖设备",
        "story": (
            "石桥村有重度残疾人16名，多数长期卧床或行动不便，冬季室内阴冷潮湿。"
            "项目为16户家庭各配备一台电暖器和一套加厚床褥，"
            "并由村电工上门检查线路、加装漏电保护开关，确保安全使用。"
        ),
        "goal_fen": 960000,
        "budget_lines": [
            ("电暖器16台", 480000),
            ("加厚床褥16套", 320000),
            ("漏电保护开关及安装", 160000),
        ],
        "beneficiary_count": 16,
        "status": "completed",
        "published_days_ago": 75,
        "deadline_days": -20,
        "completed_days_ago": 12,
        "close_reason": None,
        "filing_number": None,
        "updates": [
            {
                "days_ago": 30,
                "kind": "progress",
                "text": "电暖器和床褥已完成比价采购，村电工已检查完10户家庭的线路。"
                "有2户线路老化严重，已一并更换入户线。",
            },
            {
                "days_ago": 5,
                "kind": "final",
                "text": "16台电暖器和16套床褥已全部送到受助家庭，每户都加装了漏电保护开关。"
                "实际支出9560元，结余40元转入村慈善基金池。",
            },
        ],
    },
    {
        "key": "n28",
        "fund": "f4",
        "category": "military",
        "title": "退役老兵健康体检",
        "story": (
            "南门社区有退役军人62名，其中70岁以上老兵24名，部分患有慢性病却很少主动体检。"
            "项目联合社区卫生服务中心为24名老兵提供一次全面体检，包括血常规、心电图和腹部B超，"
            "并建立健康档案、安排家庭医生定期随访。"
        ),
        "goal_fen": 360000,
        "budget_lines": [
            ("体检费（24人）", 312000),
            ("接送车辆", 48000),
        ],
        "beneficiary_count": 24,
        "status": "completed",
        "published_days_ago": 100,
        "deadline_days": -65,
        "completed_days_ago": 58,
        "close_reason": None,
        "filing_number": _FILING + "0026",
        "updates": [
            {
                "days_ago": 70,
                "kind": "progress",
                "text": "善款已筹满，体检分三批进行，社区安排车辆接送行动不便的老兵。"
                "第一批8名老兵已完成体检。",
            },
            {
                "days_ago": 50,
                "kind": "final",
                "text": "24名老兵已全部完成体检，其中7人查出需进一步诊治的问题，已由家庭医生跟进。"
                "实际支出3600元，无结余。",
            },
        ],
    },
    # --- closed -------------------------------------------------------------------
    {
        "key": "n29",
        "fund": "f3",
        "category": "hardship",
        "title": "火灾受损家庭应急救助",
        "story": (
            "桂苑社区一户五口之家因电动车充电引发火灾，房屋严重受损，家中有两位老人和一名在读小学生，"
            "目前暂住亲戚家。项目为其筹集临时租房、添置基本家具家电和孩子学习用品的费用，"
            "救助标准经社区两委和居民代表评议。"
        ),
        "goal_fen": 2000000,
        "budget_lines": [
            ("临时租房6个月", 720000),
            ("基本家具家电", 1080000),
            ("学习用品与衣物", 200000),
        ],
        "beneficiary_count": 5,
        "status": "closed",
        "published_days_ago": 45,
        "deadline_days": -15,
        "completed_days_ago": 30,
        "close_reason": (
            "受助家庭已获政府临时救助和保险理赔，经管委会决议提前结束募捐，剩余款项转入社区基金池"
        ),
        "filing_number": None,
        "updates": [
            {
                "days_ago": 38,
                "kind": "progress",
                "text": "已筹得善款8650元，已为受助家庭支付三个月房租3600元。"
                "孩子的书包、文具和冬衣已购置，支出1280元。",
            },
            {
                "days_ago": 20,
                "kind": "final",
                "text": "受助家庭已获政府临时救助和保险理赔，管委会决议提前结束募捐。"
                "共筹得善款9230元，已支出4880元，剩余4350元转入桂苑社区慈善基金池，用于其他困难救助。",
            },
        ],
    },
    {
        "key": "n30",
        "fund": "f1",
        "category": "children",
        "title": "小区儿童游乐设施翻新",
        "story": (
            "望湖社区中心花园的儿童滑梯、秋千已使用15年，多处锈蚀松动，经检测存在安全隐患，"
            "已临时封闭。项目计划拆除旧设施，更换符合国家标准的组合滑梯、秋千和安全地垫，"
            "受益的是小区内约180名12岁以下儿童。"
        ),
        "goal_fen": 2600000,
        "budget_lines": [
            ("组合滑梯", 1400000),
            ("秋千与跷跷板", 500000),
            ("EPDM安全地垫", 600000),
            ("旧设施拆除", 100000),
        ],
        "beneficiary_count": 180,
        "status": "closed",
        "published_days_ago": 110,
        "deadline_days": -50,
        "completed_days_ago": 40,
        "close_reason": (
            "物业已动用住宅专项维修资金统一更换游乐设施，项目终止，已筹款项转入社区基金池"
        ),
        "filing_number": _FILING + "0024",
        "updates": [
            {
                "days_ago": 80,
                "kind": "progress",
                "text": "已筹得善款12460元，三家供应商的报价正在比对。"
                "业主委员会表示正在申请使用住宅专项维修资金，社区将等待其结果再决定是否采购。",
            },
            {
                "days_ago": 35,
                "kind": "final",
                "text": "维修资金申请已获批准，游乐设施由物业统一更换，本项目终止。"
                "共筹得12460元，未发生支出，经管委会表决和监督员确认，剩余12460元全部转入"
                "望湖社区慈善基金池，优先用于四点半课堂等儿童项目。",
            },
        ],
    },
    {
        "key": "n31",
        "fund": "f7",
        "category": "medical",
        "title": "村卫生室设备添置",
        "story": (
            "白沙村卫生室服务全村1100余名村民，现有的心电图机和消毒柜已老化，"
            "村民做检查要到十公里外的镇卫生院。项目计划为卫生室添置一台十二导联心电图机、"
            "一台全自动血压计和一台医用消毒柜，方便老人就近检查。"
        ),
        "goal_fen": 1200000,
        "budget_lines": [
            ("十二导联心电图机", 780000),
            ("全自动血压计", 260000),
            ("医用消毒柜", 160000),
        ],
        "beneficiary_count": 1100,
        "status": "closed",
        "published_days_ago": 80,
        "deadline_days": -40,
        "completed_days_ago": 25,
        "close_reason": (
            "镇卫生院已按标准化村卫生室建设统一配置心电图机和血压计，项目终止，剩余款项转入村慈善基金池"
        ),
        "filing_number": None,
        "updates": [
            {
                "days_ago": 50,
                "kind": "progress",
                "text": "已筹得4300元，先行采购医用消毒柜一台，支出1600元。"
                "镇卫生院通知村卫生室已列入今年标准化建设名单。",
            },
            {
                "days_ago": 18,
                "kind": "final",
                "text": "心电图机和血压计已由镇卫生院统一配置到位，本项目终止。"
                "共筹得4300元，支出1600元，剩余2700元转入白沙村慈善基金池。",
            },
        ],
    },
    # --- drafts -------------------------------------------------------------------
    {
        "key": "n32",
        "fund": "f3",
        "category": "convenience",
        "title": "快递代收与便民服务点",
        "story": (
            "桂苑社区是无物业的老旧小区，快递只能堆在楼道口或托邻居代收，老人取件不便，丢件时有发生。"
            "项目拟在社区服务站设立代收点，配置货架和监控，由社区志愿者值守，"
            "同时提供代缴水电费、复印等便民服务。"
        ),
        "goal_fen": 420000,
        "budget_lines": [
            ("货架与储物柜", 240000),
            ("监控设备", 120000),
            ("标识标牌", 60000),
        ],
        "beneficiary_count": 800,
        "status": "draft",
        "published_days_ago": None,
        "deadline_days": 60,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
    {
        "key": "n33",
        "fund": "f5",
        "category": "military",
        "title": "退役军人志愿服务队装备",
        "story": (
            "书院社区由22名退役军人组成的志愿服务队常年参与防汛巡查、交通疏导和反诈宣传，"
            "但队员一直自备装备。项目拟为服务队统一配置反光马甲、强光手电、雨衣和急救包，"
            "提升夜间巡查和应急处置时的安全性。"
        ),
        "goal_fen": 300000,
        "budget_lines": [
            ("反光马甲与雨衣22套", 132000),
            ("强光手电22支", 88000),
            ("急救包", 80000),
        ],
        "beneficiary_count": 22,
        "status": "draft",
        "published_days_ago": None,
        "deadline_days": 45,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
    {
        "key": "n34",
        "fund": "f8",
        "category": "hardship",
        "title": "困难村民种养殖帮扶",
        "story": (
            "石桥村有6户因病、因残致困的家庭仍有劳动能力，希望通过养鸡、种菜增加收入。"
            "项目拟为每户提供鸡苗、菜种和农资，并请镇农技站技术员上门指导，"
            "产品可由村里统一对接社区团购销售。"
        ),
        "goal_fen": 600000,
        "budget_lines": [
            ("鸡苗与饲料", 360000),
            ("菜种与化肥", 150000),
            ("技术指导交通补贴", 90000),
        ],
        "beneficiary_count": 19,
        "status": "draft",
        "published_days_ago": None,
        "deadline_days": 60,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
    # --- submitted ----------------------------------------------------------------
    {
        "key": "n35",
        "fund": "f3",
        "category": "disability",
        "title": "视障居民智能听书机",
        "story": (
            "桂苑社区有视力残疾居民18名，其中多数是中老年后失明，平时很少出门，获取信息困难。"
            "项目计划为18人每人配备一台可收听广播、有声书和新闻的智能听书机，"
            "并由志愿者上门教会使用、每季度回访一次。"
        ),
        "goal_fen": 600000,
        "budget_lines": [
            ("智能听书机18台", 504000),
            ("上门教学与回访交通费", 96000),
        ],
        "beneficiary_count": 18,
        "status": "submitted",
        "published_days_ago": None,
        "deadline_days": 50,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
    {
        "key": "n36",
        "fund": "f5",
        "category": "education",
        "title": "青少年科创兴趣课",
        "story": (
            "书院社区周边有不少外来务工人员子女，课余很少有机会接触科技类活动。"
            "项目计划与区青少年宫合作，每周六下午开设科创兴趣课，内容包括简易编程、电路搭建和航模制作，"
            "共16次课，每期招收20名10至14岁学生。"
        ),
        "goal_fen": 540000,
        "budget_lines": [
            ("教具与耗材", 280000),
            ("授课老师课时补贴（16次）", 240000),
            ("学生意外保险", 20000),
        ],
        "beneficiary_count": 20,
        "status": "submitted",
        "published_days_ago": None,
        "deadline_days": 40,
        "completed_days_ago": None,
        "close_reason": None,
        "filing_number": None,
        "updates": [],
    },
]


# ---------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------

CATEGORIES: tuple[Category, ...] = (
    "elderly",
    "children",
    "hardship",
    "medical",
    "education",
    "disability",
    "military",
    "environment",
    "convenience",
)
PUBLIC_STATUSES: tuple[Status, ...] = (
    "fundraising",
    "funded",
    "in_progress",
    "completed",
    "closed",
)
RUNNING_STATUSES: tuple[Status, ...] = ("fundraising", "funded", "in_progress")

_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _credit_code_ok(code: str) -> bool:
    """Check the 18th character of a 统一社会信用代码 (GB 32100-2015)."""
    if len(code) != 18 or any(c not in _CODE_CHARS for c in code):
        return False
    total = sum(_CODE_CHARS.index(c) * w for c, w in zip(code, _CODE_WEIGHTS, strict=False))
    return _CODE_CHARS[(31 - total % 31) % 31] == code[17]


def _sentences(text: str) -> int:
    return sum(text.count(mark) for mark in "。！？")


def _max_gap(marks: list[int]) -> int:
    ordered = sorted(marks)
    return max(ordered[i + 1] - ordered[i] for i in range(len(ordered) - 1))


def _check_regions() -> None:
    assert CITY["level"] == "city"
    assert CITY["name"].endswith("市")
    districts = CITY["children"]
    streets = [s for d in districts for s in d["children"]]
    communities = [c for s in streets for c in s["children"]]
    assert len(districts) == 2
    assert len(streets) == 3
    assert len(communities) == 8
    for d in districts:
        assert d["level"] == "district"
        assert d["name"].endswith("区")
    for s in streets:
        assert s["level"] == "street"
        assert s["name"].endswith(("街道", "镇"))
    for c in communities:
        assert c["level"] == "community"
        assert c["name"].endswith(("社区", "村"))
        assert "children" not in c
    names = [CITY["name"]] + [n["name"] for n in districts + streets + communities]
    assert len(set(names)) == len(names), "region names must be unique"
    assert [c["key"] for c in communities] == [f"c{i}" for i in range(1, 9)]


def _check_foundation_funds_spaces_targets() -> None:
    communities = [c for d in CITY["children"] for s in d["children"] for c in s["children"]]
    community_name = {c["key"]: c["name"] for c in communities}
    district_names = {d["name"] for d in CITY["children"]}

    code = FOUNDATION["credit_code"]
    assert code.startswith("53")
    assert _credit_code_ok(code), code
    assert FOUNDATION["mch_id"].isdigit()
    assert len(FOUNDATION["mch_id"]) == 10

    assert len(FUNDS) == 8
    fund_by_key = {f["key"]: f for f in FUNDS}
    assert len(fund_by_key) == 8
    assert sorted(f["community"] for f in FUNDS) == sorted(community_name), "one per community"
    for f in FUNDS:
        assert f["name"] == community_name[f["community"]] + "慈善基金", f["name"]
        assert f["committee_threshold_fen"] >= 100000
        assert f["committee_threshold_fen"] % 100 == 0
        assert 200 <= f["established_days_ago"] <= 900
    assert len({f["committee_threshold_fen"] for f in FUNDS}) >= 3
    assert {f["public_fundraising"] for f in FUNDS} == {True, False}

    assert len(SPACES) == 4
    assert len({s["code"] for s in SPACES}) == 4
    assert len({s["name"] for s in SPACES}) == 4
    assert len({s["community"] for s in SPACES}) == 4, "spaces in different communities"
    for s in SPACES:
        assert 0 < len(s["code"]) <= 16
        assert s["code"].isascii()
        assert all(c.islower() or c.isdigit() or c == "-" for c in s["code"]), s["code"]
        assert fund_by_key[s["fund"]]["community"] == s["community"]
        assert s["address"].startswith(CITY["name"])
        assert s["opening_hours"]
        assert s["description"]

    city_metrics = {t["metric"] for t in TARGETS if t["region"] == "city"}
    assert city_metrics == {
        "fund_count",
        "need_count",
        "space_count",
        "raised_fen",
        "beneficiary_count",
    }
    other = [t for t in TARGETS if t["region"] != "city"]
    assert len(other) >= 2
    assert all(t["region"] in district_names for t in other)
    pairs = [(t["region"], t["metric"]) for t in TARGETS]
    assert len(set(pairs)) == len(pairs)
    assert all(t["target"] > 0 for t in TARGETS)


def _check_need_counts() -> None:
    assert len(NEEDS) >= 34
    keys = [n["key"] for n in NEEDS]
    assert len(set(keys)) == len(keys)
    titles = [n["title"] for n in NEEDS]
    assert len(set(titles)) == len(titles), "titles must be distinct"
    assert len({n["fund"] for n in NEEDS}) >= 6
    for cat in CATEGORIES:
        assert sum(n["category"] == cat for n in NEEDS) >= 2, cat
    by_status = {s: sum(n["status"] == s for n in NEEDS) for s in PUBLIC_STATUSES}
    assert all(count >= 3 for count in by_status.values()), by_status
    assert by_status["fundraising"] == max(by_status.values())
    assert by_status["fundraising"] >= 12
    assert sum(n["status"] == "draft" for n in NEEDS) == 3
    assert sum(n["status"] == "submitted" for n in NEEDS) == 2
    big = [n for n in NEEDS if n["status"] == "fundraising" and n["goal_fen"] >= 500000]
    assert len(big) >= 8
    overdue = [n for n in NEEDS if n.get("disclosure_overdue")]
    assert len(overdue) == 1, "exactly one need is overdue with its disclosure"
    assert overdue[0]["status"] == "in_progress"
    filings = [n["filing_number"] for n in NEEDS if n["filing_number"] is not None]
    assert len(set(filings)) == len(filings)


def _check_need(n: NeedData, fund: FundData) -> None:
    k = n["key"]
    code = FOUNDATION["credit_code"]
    assert n["category"] in CATEGORIES, k
    assert 0 < len(n["title"]) <= 30, k
    assert 80 <= len(n["story"]) <= 220, (k, len(n["story"]))
    assert 2 <= _sentences(n["story"]) <= 4, k
    assert 80000 <= n["goal_fen"] <= 6000000, k
    assert n["goal_fen"] % 100 == 0, k
    lines = n["budget_lines"]
    assert 2 <= len(lines) <= 5, k
    for item, amount in lines:
        assert item, k
        assert amount > 0, k
        assert amount % 100 == 0, k
    assert sum(amount for _, amount in lines) == n["goal_fen"], k
    assert len({item for item, _ in lines}) == len(lines), k
    assert n["beneficiary_count"] > 0, k

    status = n["status"]
    published = n["published_days_ago"]
    updates = n["updates"]
    if status in ("draft", "submitted"):
        assert published is None, k
        assert not updates, k
        assert n["completed_days_ago"] is None, k
        assert n["close_reason"] is None, k
        assert n["filing_number"] is None, k
        assert n["deadline_days"] > 0, k
        return

    assert published is not None, k
    assert 0 < published <= fund["established_days_ago"], k
    # Filed needs are exactly the published needs of funds that may raise publicly.
    filing = n["filing_number"]
    if fund["public_fundraising"]:
        assert filing is not None, k
        assert filing.startswith(code + "-20"), k
        year, seq = filing[len(code) + 1 :].split("-")
        assert len(year) == 4, k
        assert year.isdigit(), k
        assert len(seq) == 4, k
        assert seq.isdigit(), k
    else:
        assert filing is None, k

    deadline = n["deadline_days"]
    assert published + deadline > 0, f"{k}: deadline before publishing"
    if status == "fundraising":
        assert 10 <= deadline <= 120, k
    elif status in ("funded", "in_progress"):
        assert -30 <= deadline <= 60, k
    else:
        assert deadline < 0, k

    for u in updates:
        assert u["kind"] in ("progress", "disclosure", "final"), k
        assert 0 < u["days_ago"] <= published, f"{k}: update before publishing"
        assert 2 <= _sentences(u["text"]) <= 3, (k, u["text"])
        assert 20 <= len(u["text"]) <= 160, (k, len(u["text"]))
    ages = [u["days_ago"] for u in updates]
    assert ages == sorted(ages, reverse=True), f"{k}: updates oldest first"
    assert len(set(ages)) == len(ages), k
    finals = [u for u in updates if u["kind"] == "final"]

    if status in RUNNING_STATUSES:
        assert n["completed_days_ago"] is None, k
        assert n["close_reason"] is None, k
        assert not finals, k
        if n.get("disclosure_overdue"):
            # Over 6 months old, nothing posted for well over 3 months: overdue by weeks.
            assert published > 200, k
            assert min(ages) > 105, k
            return
        if published > 180:
            recent = [
                u
                for u in updates
                if u["kind"] in ("disclosure", "progress") and u["days_ago"] <= 90
            ]
            assert recent, f"{k}: disclosure overdue"
            # Every 3 months since the start, not just in the latest quarter.
            assert _max_gap([0, *ages, published]) <= 95, k
        return
    assert not n.get("disclosure_overdue"), k

    done = n["completed_days_ago"]
    assert done is not None, k
    assert 5 <= done <= 60, k
    assert done < published, k
    assert len(finals) == 1, k
    assert updates[-1]["kind"] == "final", k
    final = finals[0]
    assert done - 90 <= final["days_ago"] <= done, f"{k}: final report late"
    assert "结余" in final["text"] or "剩余" in final["text"], f"{k}: leftover not disclosed"
    if status == "completed":
        assert n["close_reason"] is None, k
        assert deadline <= -done, f"{k}: completed before its deadline"
    else:
        reason = n["close_reason"]
        assert reason, k
        assert 10 <= len(reason) <= 80, k
        assert "基金池" in reason, k
        assert "剩余" in final["text"], k


def check() -> None:
    """Assert every invariant the seeder and the disclosure rules rely on."""
    _check_regions()
    _check_foundation_funds_spaces_targets()
    _check_need_counts()
    fund_by_key = {f["key"]: f for f in FUNDS}
    for n in NEEDS:
        _check_need(n, fund_by_key[n["fund"]])


if __name__ == "__main__":
    check()
    print("ok")
