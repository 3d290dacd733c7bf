"""The demo city's people: each fund's team, the foundation's admin and the donors.

Every demo user has a stable openid under ``demo:`` (``demo:f1:secretary``,
``demo:f1:committee3``, ``demo:foundation:admin``, ``demo:donor:07``): not a WeChat openid,
so nobody logs in as them; the back office shows them as the people who ran the demo's
funds. Names are invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from backend.accounts.models import ROLE_SCOPE, Role, RoleGrant, User
from backend.extensions import db
from backend.funds.models import Foundation, Fund

#: committee members per demo fund (the smallest committee the governance rules allow)
COMMITTEE_SIZE = 5

#: the openid prefix of every demo user
OPENID_PREFIX = "demo:"

# Fund teams: secretary, committee members, supervisor, in this order for each fund.
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金"
_GIVEN = (
    "建国", "秀兰", "志强", "丽华", "海燕", "国庆", "玉梅", "文杰", "桂英", "永红",
    "晓东", "春梅", "德明", "淑芬", "振华", "红霞", "立新", "美玲", "卫东", "静怡",
    "少华", "慧敏", "家明", "雪琴", "宏伟", "爱华", "俊杰", "素珍", "晓明", "凤英",
    "志刚", "金凤", "建军", "丽娟", "文华", "小红", "国平", "惠芳", "永强", "燕萍",
    "光明", "月娥", "世杰", "翠兰", "新民", "巧玲", "长春", "玉兰", "学军", "瑞芳",
    "东升", "秋菊", "立军", "琳娜", "荣华", "晓燕",
)  # fmt: skip

#: the foundation's admin, who records every disbursement
FOUNDATION_ADMIN = ("demo:foundation:admin", "孙明辉")

#: donors' WeChat nicknames (shown masked: 晨**), a few dozen
DONOR_NICKNAMES = (
    "晨光", "老陈", "李阿姨", "小雨点", "张师傅", "阳光下的向日葵", "海阔天空", "王老师",
    "平安是福", "江州小周", "木子", "刘姐", "一米阳光", "退休老赵", "吴记面馆", "杨帆",
    "静水流深", "黄小丫", "胡萝卜", "郑大夫", "知足常乐", "望湖老街坊", "马叔", "林间小路",
    "何妈妈", "书院门口的猫", "高高", "罗先生", "春暖花开", "宋宋", "许愿树", "韩梅",
    "冯家小院", "邓师傅", "曹曹", "彭彭", "白沙渔民", "石桥人家",
)  # fmt: skip


def team_openids(fund_key: str) -> list[tuple[str, Role]]:
    """The openids of a fund's team and their roles: secretary, committee, supervisor."""
    return [
        (f"{OPENID_PREFIX}{fund_key}:secretary", Role.SECRETARY),
        *(
            (f"{OPENID_PREFIX}{fund_key}:committee{i}", Role.COMMITTEE)
            for i in range(1, COMMITTEE_SIZE + 1)
        ),
        (f"{OPENID_PREFIX}{fund_key}:supervisor", Role.SUPERVISOR),
    ]


def donor_openid(index: int) -> str:
    """The openid of the demo donor `index` (1-based)."""
    return f"{OPENID_PREFIX}donor:{index:02d}"


def _person_name(index: int) -> str:
    """A distinct invented name for the `index`th team member (0-based)."""
    return _SURNAMES[(index * 7) % len(_SURNAMES)] + _GIVEN[index % len(_GIVEN)]


@dataclass
class FundTeam:
    """The people who run a demo fund."""

    secretary: User
    committee: list[User]
    supervisor: User


@dataclass
class People:
    """Every demo user, by what they do."""

    admin: User
    teams: dict[str, FundTeam] = field(default_factory=dict)
    donors: list[User] = field(default_factory=list)


def seed_people(foundation: Foundation, funds: dict[str, Fund]) -> tuple[People, int, int]:
    """Create the demo users and grants that are missing (flushes); the people, and how
    many users and grants were added."""
    wanted: list[tuple[str, str]] = [FOUNDATION_ADMIN]
    index = 0
    for key in funds:
        for openid, _ in team_openids(key):
            wanted.append((openid, _person_name(index)))
            index += 1
    wanted += [(donor_openid(i), name) for i, name in enumerate(DONOR_NICKNAMES, start=1)]

    existing = {
        u.openid: u
        for u in db.session.scalars(
            sa.select(User).where(User.openid.in_([openid for openid, _ in wanted]))
        )
    }
    new_users = [
        User(openid=openid, nickname=nickname)
        for openid, nickname in wanted
        if openid not in existing
    ]
    db.session.add_all(new_users)
    db.session.flush()
    users = {**existing, **{u.openid: u for u in new_users}}

    granted = {
        (g.user_id, g.role, g.scope_id)
        for g in db.session.scalars(
            sa.select(RoleGrant).where(RoleGrant.user_id.in_([u.id for u in users.values()]))
        )
    }
    new_grants: list[RoleGrant] = []

    def grant(user: User, role: Role, scope_id: int) -> None:
        # What grant_role does, for many at once: the scopes were just loaded, and the
        # grants already held were read above.
        if (user.id, role, scope_id) not in granted:
            new_grants.append(
                RoleGrant(user=user, role=role, scope_type=ROLE_SCOPE[role], scope_id=scope_id)
            )

    admin = users[FOUNDATION_ADMIN[0]]
    grant(admin, Role.FOUNDATION_ADMIN, foundation.id)
    people = People(admin=admin)
    for key, fund in funds.items():
        team = [(users[openid], role) for openid, role in team_openids(key)]
        for user, role in team:
            grant(user, role, fund.id)
        people.teams[key] = FundTeam(
            secretary=team[0][0],
            committee=[user for user, role in team if role == Role.COMMITTEE],
            supervisor=team[-1][0],
        )
    people.donors = [users[donor_openid(i)] for i in range(1, len(DONOR_NICKNAMES) + 1)]
    db.session.add_all(new_grants)
    db.session.flush()
    return people, len(new_users), len(new_grants)
