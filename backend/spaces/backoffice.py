"""Opening and editing charity spaces (a secretary or the foundation admin of the fund).

A space's code is printed on its posters and encoded in its QR codes, so it never changes
once the space exists; nor does the fund it collects for. Everything else can be edited,
and every change goes to the audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from backend.accounts.models import User
from backend.audit.services import diff, record
from backend.common.errors import conflict, invalid
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import Need
from backend.regions.models import Region
from backend.spaces.models import CharitySpace, SpaceNeed
from backend.uploads.services import publish_uploads, usable_uploads
from backend.wechat.content import check_text

#: what a space may show at once (its page and its posters stay readable)
MAX_SHOWN_NEEDS = 20
#: the alphabet of generated codes: no 0/o or 1/l to misread on a printed poster
CODE_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"

EDITABLE_FIELDS = ("name", "address", "opening_hours", "description")


def _snapshot(space: CharitySpace) -> dict[str, Any]:
    return {
        **{key: getattr(space, key) for key in EDITABLE_FIELDS},
        "region_id": space.region_id,
        "photo_upload_id": space.photo_upload_id,
        "need_ids": [shown.need_id for shown in space.shown],
    }


def _new_code() -> str:
    """A fresh code that no space has, e.g. `s-7kq3m9`."""
    while True:
        code = "s-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if db.session.scalar(sa.select(CharitySpace.id).where(CharitySpace.code == code)) is None:
            return code


def _region_in_fund(fund: Fund, region_id: int) -> Region:
    region = db.session.get(Region, region_id)
    if region is None or not region.path.startswith(fund.region.path):
        raise invalid(
            "invalid_region",
            "慈善空间须位于本基金所在区域之内",
            {"region_id": ["不在本基金的区域内"]},
        )
    return region


def _shown_needs(fund: Fund, need_ids: Sequence[int]) -> list[SpaceNeed]:
    """The needs a space shows, in order: published needs of its own fund only."""
    if len(need_ids) > MAX_SHOWN_NEEDS:
        raise invalid(
            "too_many_needs",
            f"一个慈善空间最多展示 {MAX_SHOWN_NEEDS} 个项目",
            {"need_ids": [f"最多 {MAX_SHOWN_NEEDS} 个"]},
        )
    if len(set(need_ids)) != len(need_ids):
        raise invalid("invalid_need_ids", "项目重复", {"need_ids": ["项目重复"]})
    found = set(
        db.session.scalars(
            sa.select(Need.id).where(Need.id.in_(need_ids), Need.fund_id == fund.id, Need.public())
        )
    )
    bad = [i for i in need_ids if i not in found]
    if bad:
        raise invalid(
            "invalid_need_ids",
            "只能展示本基金已发布的项目",
            {"need_ids": [f"不可用：{'、'.join(map(str, bad))}"]},
        )
    return [SpaceNeed(need_id=need_id, position=i) for i, need_id in enumerate(need_ids)]


def _set_photo(actor: User, space: CharitySpace, photo_id: int | None) -> None:
    if photo_id is None:
        space.photo_upload_id = None
        return
    (photo,) = usable_uploads(actor, [photo_id], "photo_upload_id", images_only=True)
    publish_uploads([photo])
    space.photo_upload_id = photo.id


def _check_text(actor: User, data: dict[str, Any]) -> None:
    texts = {k: data[k] for k in ("name", "address", "description") if data.get(k)}
    if texts:
        check_text(actor.openid, texts, scene=3)


def create_space(actor: User, fund: Fund, data: dict[str, Any]) -> CharitySpace:
    """Open a space of `fund` (flushes; audited)."""
    code = data.get("code") or _new_code()
    if db.session.scalar(sa.select(CharitySpace.id).where(CharitySpace.code == code)):
        raise conflict("space_code_taken", f"编码 {code} 已被其他慈善空间使用，请换一个")
    region = _region_in_fund(fund, data["region_id"])
    _check_text(actor, data)
    space = CharitySpace(
        code=code,
        fund=fund,
        region=region,
        **{key: data.get(key) for key in EDITABLE_FIELDS},
    )
    space.shown = _shown_needs(fund, data.get("need_ids", []))
    db.session.add(space)
    _set_photo(actor, space, data.get("photo_upload_id"))
    db.session.flush()
    record(actor, "space.create", space, fund_id=fund.id, changes=diff({}, _snapshot(space)))
    return space


def update_space(actor: User, space: CharitySpace, data: dict[str, Any]) -> CharitySpace:
    """Change what `data` names (flushes; audited when anything changed)."""
    before = _snapshot(space)
    _check_text(actor, data)
    for key in EDITABLE_FIELDS:
        if key in data:
            setattr(space, key, data[key])
    if "region_id" in data:
        space.region = _region_in_fund(space.fund, data["region_id"])
    if "photo_upload_id" in data and data["photo_upload_id"] != space.photo_upload_id:
        _set_photo(actor, space, data["photo_upload_id"])  # the same one sent back: kept
    if "need_ids" in data:
        space.shown.clear()
        db.session.flush()
        space.shown = _shown_needs(space.fund, data["need_ids"])
    db.session.flush()
    changes = diff(before, _snapshot(space))
    if changes:
        record(actor, "space.update", space, fund_id=space.fund_id, changes=changes)
    return space
