"""Foundation and Fund."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin
from backend.extensions import db
from backend.regions.models import Region


class Foundation(TimestampMixin, db.Model):
    """A foundation (基金会): the legal entity that holds the money and the merchant account."""

    __tablename__ = "foundations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: registered name, shown on every need as who raises the money
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    #: 统一社会信用代码, 18 characters
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    #: WeChat Pay merchant id (mch_id) of the foundation's account
    mch_id: Mapped[str] = mapped_column(sa.String(32))


class Fund(TimestampMixin, db.Model):
    """A community fund (社区慈善基金): a special fund hosted by a foundation for a community."""

    __tablename__ = "funds"
    __table_args__ = (
        sa.CheckConstraint("committee_threshold_fen >= 0", name="threshold_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the hosting foundation
    foundation_id: Mapped[int] = mapped_column(sa.ForeignKey("foundations.id"), index=True)
    #: the community (or village) the fund serves
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: public name, e.g. 幸福社区慈善基金
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    #: expenses at or above this amount need a committee majority
    committee_threshold_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: whether the foundation raises money publicly for this fund (needs then need a filing no.)
    public_fundraising: Mapped[bool] = mapped_column(default=False)
    #: the day the fund was set up
    established_on: Mapped[date | None] = mapped_column(sa.Date)

    foundation: Mapped[Foundation] = relationship()
    region: Mapped[Region] = relationship()
