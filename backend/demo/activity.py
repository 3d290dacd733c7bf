"""What happened in the demo city: how much each need raised and when, what was spent, who
was paid, and the photos on some updates. Everything is invented.

Conventions (as in `data`): money in fen, times in days before the day of seeding.

- ``RAISED``: for each need that received money, its cumulative totals (in fen) by the
  end of each phase, ``(until_days_ago, total_fen)``; the first phase starts when the need
  was published. Funded, in-progress and completed needs reach their goal; completed ones
  exactly (their final reports state the leftover as goal minus spent); fundraising ones
  stay well under it. Closed needs and the newest need have none.
- ``EXPENSES``: each fund's spending, matching what the needs' updates say was spent.
  ``submitted`` and ``disbursed`` are days ago; ``outcome`` is ``disbursed``, ``pending``
  (``approvals`` recorded so far) or ``rejected`` (one approval, then a rejection with
  ``reason``). The secretary submits, the committee decides, the foundation pays.
- ``POOL_GIFTS``: donations to funds' general pools, ``(fund key, amount_fen, days_ago)``.
- ``UPDATE_PHOTOS``: photos added to updates, by need key and the update's ``days_ago``.

Run ``python -m backend.demo.activity`` to check the invariants against `data`.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from backend.demo import data

Outcome = Literal["disbursed", "pending", "rejected"]
PayeeKind = Literal["person", "organization"]


class ExpenseData(TypedDict):
    need: str
    purpose: str
    amount_fen: int
    payee_name: str
    payee_type: PayeeKind
    submitted: int
    disbursed: NotRequired[int]
    outcome: Outcome
    approvals: NotRequired[int]
    reason: NotRequired[str]


class PhotoData(TypedDict):
    need: str
    update_days_ago: int
    scene: str
    caption: str


RAISED: dict[str, list[tuple[int, int]]] = {
    # fundraising: part of the goal (n08, published five days ago, has nothing yet)
    "n01": [(0, 742000)],
    "n02": [(110, 360000), (20, 650000), (0, 760000)],
    "n03": [(0, 421000)],
    "n04": [(0, 238000)],
    "n05": [(0, 315000)],
    "n06": [(0, 548000)],
    "n07": [(0, 692000)],
    "n09": [(0, 263000)],
    "n10": [(0, 121000)],
    "n11": [(0, 96000)],
    "n12": [(0, 1185000)],
    "n13": [(0, 274000)],
    "n14": [(0, 930000)],
    # funded: the goal, sometimes a little over (payments already under way)
    "n15": [(7, 320000)],
    "n16": [(12, 1446600)],
    "n17": [(4, 880000)],
    "n18": [(33, 602000)],
    # in progress
    "n19": [(307, 4380000)],
    "n20": [(200, 2200000)],
    "n21": [(70, 1120000)],
    "n22": [(35, 2853000)],
    "n23": [(125, 3500000)],
    # completed: exactly the goal
    "n24": [(75, 560000)],
    "n25": [(105, 900000)],
    "n26": [(60, 780000)],
    "n27": [(40, 960000)],
    "n28": [(72, 360000)],
}

#: needs whose donation count an update states (n15: 共有41人次参与捐赠)
DONATION_COUNTS: dict[str, int] = {"n15": 41}

POOL_GIFTS: list[tuple[str, int, int]] = [
    ("f1", 100000, 210),
    ("f1", 50000, 96),
    ("f1", 20000, 12),
    ("f2", 200000, 150),
    ("f2", 30000, 40),
    ("f3", 50000, 88),
    ("f4", 60000, 120),
    ("f4", 8800, 33),
    ("f4", 50000, 9),
    ("f5", 100000, 66),
    ("f5", 20000, 14),
    ("f6", 30000, 50),
    ("f7", 66600, 45),
    ("f7", 10000, 6),
    ("f8", 88800, 30),
]

EXPENSES: list[ExpenseData] = [
    # --- 望湖 (f1, committee from ¥3,000) ---------------------------------------------
    {"need": "n02", "purpose": "第一季度课堂开支（交通餐费补贴、文具、绘本）", "amount_fen": 344000,
     "payee_name": "望湖社区四点半课堂志愿服务队", "payee_type": "organization",
     "submitted": 105, "disbursed": 102, "outcome": "disbursed"},
    {"need": "n02", "purpose": "第二季度课堂开支（交通餐费补贴、文具、新增绘本）",
     "amount_fen": 288000, "payee_name": "望湖社区四点半课堂志愿服务队",
     "payee_type": "organization", "submitted": 19, "disbursed": 17, "outcome": "disbursed"},
    {"need": "n19", "purpose": "保温餐箱与餐具", "amount_fen": 255000,
     "payee_name": "江州市惠民厨具商行", "payee_type": "organization", "submitted": 304,
     "disbursed": 301, "outcome": "disbursed"},
    {"need": "n19", "purpose": "第一季度餐费补贴（送餐2680份）", "amount_fen": 804000,
     "payee_name": "望湖社区老年食堂", "payee_type": "organization", "submitted": 219,
     "disbursed": 216, "outcome": "disbursed"},
    {"need": "n19", "purpose": "第二季度餐费补贴（送餐2730份）", "amount_fen": 819000,
     "payee_name": "望湖社区老年食堂", "payee_type": "organization", "submitted": 129,
     "disbursed": 126, "outcome": "disbursed"},
    {"need": "n19", "purpose": "第三季度餐费补贴（送餐2760份）", "amount_fen": 828000,
     "payee_name": "望湖社区老年食堂", "payee_type": "organization", "submitted": 39,
     "disbursed": 36, "outcome": "disbursed"},
    {"need": "n24", "purpose": "筛查设备运输、场地布置与宣传材料", "amount_fen": 200000,
     "payee_name": "江州顺达会展服务有限公司", "payee_type": "organization", "submitted": 65,
     "disbursed": 62, "outcome": "disbursed"},
    {"need": "n24", "purpose": "医护人员餐费交通", "amount_fen": 160000,
     "payee_name": "江州市临江区人民医院", "payee_type": "organization", "submitted": 59,
     "disbursed": 57, "outcome": "disbursed"},
    {"need": "n24", "purpose": "老花镜20副", "amount_fen": 188000,
     "payee_name": "江州明亮眼镜店", "payee_type": "organization", "submitted": 58,
     "disbursed": 56, "outcome": "disbursed"},
    # --- 柳岸 (f2, committee from ¥2,000) ---------------------------------------------
    {"need": "n23", "purpose": "第1户屋面防水与电路改造", "amount_fen": 620000,
     "payee_name": "江州安居建筑工程有限公司", "payee_type": "organization", "submitted": 101,
     "disbursed": 97, "outcome": "disbursed"},
    {"need": "n23", "purpose": "第2户屋面防水与电路改造", "amount_fen": 620000,
     "payee_name": "江州安居建筑工程有限公司", "payee_type": "organization", "submitted": 76,
     "disbursed": 72, "outcome": "disbursed"},
    {"need": "n23", "purpose": "第3户屋面防水与电路改造", "amount_fen": 620000,
     "payee_name": "江州安居建筑工程有限公司", "payee_type": "organization", "submitted": 49,
     "disbursed": 45, "outcome": "disbursed"},
    {"need": "n23", "purpose": "第4户墙体加固", "amount_fen": 780000,
     "payee_name": "江州安居建筑工程有限公司", "payee_type": "organization", "submitted": 9,
     "outcome": "rejected",
     "reason": "施工报价单缺少施工单位盖章，且未附三家比价记录，请补齐后重新提交。"},
    *(
        {"need": "n25", "purpose": f"{kind}新生入学助学金（第{i}名）", "amount_fen": 300000,
         "payee_name": name, "payee_type": "person", "submitted": 61, "disbursed": 57,
         "outcome": "disbursed"}
        for i, (kind, name) in enumerate(
            [("本科", "林晓雯"), ("本科", "陈宇航"), ("高职", "许嘉豪")], start=1)
    ),
    # --- 南门 (f4, committee from ¥3,000) ---------------------------------------------
    {"need": "n22", "purpose": "前3座分类亭地面硬化", "amount_fen": 120000,
     "payee_name": "江州市南门市政养护队", "payee_type": "organization", "submitted": 29,
     "disbursed": 26, "outcome": "disbursed"},
    {"need": "n22", "purpose": "分类亭主体（前3座）", "amount_fen": 900000,
     "payee_name": "江州绿城环保设施有限公司", "payee_type": "organization", "submitted": 23,
     "disbursed": 19, "outcome": "disbursed"},
    {"need": "n22", "purpose": "分类亭主体（后3座）", "amount_fen": 900000,
     "payee_name": "江州绿城环保设施有限公司", "payee_type": "organization", "submitted": 3,
     "outcome": "pending", "approvals": 1},
    {"need": "n28", "purpose": "24名老兵健康体检费", "amount_fen": 312000,
     "payee_name": "南门社区卫生服务中心", "payee_type": "organization", "submitted": 67,
     "disbursed": 63, "outcome": "disbursed"},
    {"need": "n28", "purpose": "体检接送车辆", "amount_fen": 48000,
     "payee_name": "江州顺达客运有限公司", "payee_type": "organization", "submitted": 66,
     "disbursed": 63, "outcome": "disbursed"},
    # --- 书院 (f5, committee from ¥1,000) ---------------------------------------------
    {"need": "n20", "purpose": "烘焙设备", "amount_fen": 480000,
     "payee_name": "江州厨宝烘焙设备有限公司", "payee_type": "organization", "submitted": 199,
     "disbursed": 197, "outcome": "disbursed"},
    {"need": "n20", "purpose": "第一季度特教老师劳务补贴", "amount_fen": 360000,
     "payee_name": "江州市启智特殊教育服务中心", "payee_type": "organization", "submitted": 116,
     "disbursed": 113, "outcome": "disbursed"},
    {"need": "n20", "purpose": "第一季度烘焙原料与包装", "amount_fen": 70000,
     "payee_name": "陈丽萍", "payee_type": "person", "submitted": 116, "disbursed": 113,
     "outcome": "disbursed"},
    {"need": "n20", "purpose": "第二季度特教老师劳务补贴", "amount_fen": 360000,
     "payee_name": "江州市启智特殊教育服务中心", "payee_type": "organization", "submitted": 32,
     "disbursed": 29, "outcome": "disbursed"},
    # --- 锦绣 (f6, committee from ¥2,000) ---------------------------------------------
    {"need": "n26", "purpose": "防腐木座椅12张（含安装固定）", "amount_fen": 522000,
     "payee_name": "江州林森木业有限公司", "payee_type": "organization", "submitted": 49,
     "disbursed": 45, "outcome": "disbursed"},
    {"need": "n26", "purpose": "遮阳棚4处", "amount_fen": 240000,
     "payee_name": "江州市佳美遮阳篷厂", "payee_type": "organization", "submitted": 31,
     "disbursed": 27, "outcome": "disbursed"},
    # --- 白沙 (f7, committee from ¥1,000) ---------------------------------------------
    {"need": "n21", "purpose": "活动材料与图书", "amount_fen": 210000,
     "payee_name": "白沙镇新华书店", "payee_type": "organization", "submitted": 25,
     "disbursed": 22, "outcome": "disbursed"},
    {"need": "n21", "purpose": "孩子午点", "amount_fen": 86000,
     "payee_name": "白沙村好邻居便利店", "payee_type": "organization", "submitted": 25,
     "disbursed": 22, "outcome": "disbursed"},
    {"need": "n21", "purpose": "志愿者交通与餐费补贴（第一期）", "amount_fen": 180000,
     "payee_name": "白沙镇中心小学工会", "payee_type": "organization", "submitted": 1,
     "outcome": "pending", "approvals": 0},
    # --- 石桥 (f8, committee from ¥1,000) ---------------------------------------------
    {"need": "n27", "purpose": "电暖器16台、加厚床褥16套", "amount_fen": 792000,
     "payee_name": "江州惠家电器商场", "payee_type": "organization", "submitted": 29,
     "disbursed": 25, "outcome": "disbursed"},
    {"need": "n27", "purpose": "漏电保护开关及安装", "amount_fen": 164000,
     "payee_name": "青山区白沙镇电力安装队", "payee_type": "organization", "submitted": 22,
     "disbursed": 19, "outcome": "disbursed"},
]  # fmt: skip

UPDATE_PHOTOS: list[PhotoData] = [
    {"need": "n19", "update_days_ago": 305, "scene": "meals", "caption": "爱心午餐开餐第一天"},
    {"need": "n21", "update_days_ago": 20, "scene": "classroom", "caption": "周末陪伴课堂"},
    {"need": "n22", "update_days_ago": 15, "scene": "kiosk", "caption": "前3座分类亭已投入使用"},
    {"need": "n26", "update_days_ago": 10, "scene": "benches", "caption": "座椅和遮阳棚验收"},
    {"need": "n27", "update_days_ago": 5, "scene": "heaters", "caption": "电暖器送到受助家庭"},
]

MESSAGES: dict[str, tuple[str, ...]] = {
    "elderly": ("祝老人们身体健康", "尊老爱老，一点心意", "希望老人们冬天暖暖的"),
    "children": ("希望孩子们快乐成长", "为孩子们加油", "小小心意"),
    "hardship": ("一起渡过难关", "远亲不如近邻", "愿一切好起来"),
    "medical": ("早日康复", "健康最重要", "加油，会好起来的"),
    "education": ("好好学习，前程似锦", "知识改变命运", "支持孩子读书"),
    "disability": ("一起加油", "愿生活更方便一些", "点滴心意"),
    "military": ("向老兵致敬", "军属辛苦了", "致敬最可爱的人"),
    "environment": ("家园更美好", "小区越来越好", "支持社区改造"),
    "convenience": ("方便大家", "邻里互助", "为社区点赞"),
}


def _need_specs() -> dict[str, data.NeedData]:
    return {n["key"]: n for n in data.NEEDS}


def check() -> None:
    """Assert what the seeder relies on: money raised before it is spent, completed needs
    spending what their final reports say, every pending or rejected expense well formed."""
    needs = _need_specs()
    funds = {f["key"]: f for f in data.FUNDS}
    for key, phases in RAISED.items():
        need = needs[key]
        published = need["published_days_ago"]
        assert published is not None, key
        assert need["status"] in ("fundraising", "funded", "in_progress", "completed"), key
        ages = [until for until, _ in phases]
        totals = [total for _, total in phases]
        assert ages == sorted(ages, reverse=True) and ages[0] < published, key
        assert totals == sorted(totals) and totals[0] > 0, key
        raised = totals[-1]
        assert raised % 100 == 0, key
        if need["status"] == "fundraising":
            assert raised <= need["goal_fen"] * 8 // 10, f"{key}: too close to its goal"
        elif need["status"] == "completed":
            assert raised == need["goal_fen"], key
        else:
            assert need["goal_fen"] <= raised <= need["goal_fen"] * 101 // 100, key
    for need in data.NEEDS:
        if need["status"] in ("funded", "in_progress", "completed"):
            assert need["key"] in RAISED, need["key"]
    purposes = [(e["need"], e["purpose"]) for e in EXPENSES]
    assert len(set(purposes)) == len(purposes), "purposes are an expense's natural key"
    for e in EXPENSES:
        key = e["need"]
        assert len(e["purpose"]) <= 40 and len(e["payee_name"]) <= 30, key
        assert e["payee_type"] in ("person", "organization"), key
        assert e["amount_fen"] > 0 and e["amount_fen"] % 100 == 0, key
        if e["outcome"] == "disbursed":
            assert e["submitted"] > e["disbursed"] >= 1, key
            # raised (by the phase that ended before the submission) covers what is spent
            spent = sum(
                x["amount_fen"]
                for x in EXPENSES
                if x["need"] == key and x["outcome"] == "disbursed"
                and x["disbursed"] >= e["disbursed"]
            )  # fmt: skip
            before = [t for until, t in RAISED[key] if until > e["submitted"]]
            assert before and before[-1] >= spent, f"{key}: {e['purpose']} spends unraised money"
        else:
            assert "disbursed" not in e, key
            assert e["submitted"] <= 10, key
        if e["outcome"] == "rejected":
            assert e.get("reason"), key
        if e["outcome"] == "pending":
            committee = e["amount_fen"] >= funds[needs[key]["fund"]]["committee_threshold_fen"]
            assert e.get("approvals", 0) < (3 if committee else 1), key
    # completed needs: spent + the leftover the final report names = the goal
    for need in data.NEEDS:
        if need["status"] != "completed":
            continue
        spent = sum(
            e["amount_fen"]
            for e in EXPENSES
            if e["need"] == need["key"] and e["outcome"] == "disbursed"
        )
        final = need["updates"][-1]["text"]
        assert f"实际支出{spent // 100}元" in final or f"共{spent // 100}元" in final, need["key"]
        left = need["goal_fen"] - spent
        assert (left == 0 and "无结余" in final) or f"结余{left // 100}元" in final, need["key"]
    for key, count in DONATION_COUNTS.items():
        texts = "".join(u["text"] for u in needs[key]["updates"])
        assert f"共有{count}人次参与捐赠" in texts, key
    for p in UPDATE_PHOTOS:
        ages = [u["days_ago"] for u in needs[p["need"]]["updates"]]
        assert p["update_days_ago"] in ages, p


if __name__ == "__main__":
    check()
    print("ok")
