"""Need, its budget lines, images and progress updates."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin, enum_column
from backend.common.time import utcnow
from backend.extensions import db
from backend.funds.models import Fund
from backend.regions.models import Region
from backend.uploads.models import Upload


class NeedCategory(enum.StrEnum):
    """类别 of a need."""

    ELDERLY = "elderly"  # 敬老
    CHILDREN = "children"  # 扶小
    HARDSHIP = "hardship"  # 助困
    MEDICAL = "medical"  # 助医
    EDUCATION = "education"  # 助学
    DISABILITY = "disability"  # 助残
    MILITARY = "military"  # 双拥
    ENVIRONMENT = "environment"  # 环境优化
    CONVENIENCE = "convenience"  # 便民利民


CATEGORY_LABELS = {
    NeedCategory.ELDERLY: "敬老",
    NeedCategory.CHILDREN: "扶小",
    NeedCategory.HARDSHIP: "助困",
    NeedCategory.MEDICAL: "助医",
    NeedCategory.EDUCATION: "助学",
    NeedCategory.DISABILITY: "助残",
    NeedCategory.MILITARY: "双拥",
    NeedCategory.ENVIRONMENT: "环境优化",
    NeedCategory.CONVENIENCE: "便民利民",
}


class NeedStatus(enum.StrEnum):
    """Where a need is in its life."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    FUNDRAISING = "fundraising"
    FUNDED = "funded"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CLOSED = "closed"


#: statuses the public sees: fundraising and later
PUBLIC_STATUSES = (
    NeedStatus.FUNDRAISING,
    NeedStatus.FUNDED,
    NeedStatus.IN_PROGRESS,
    NeedStatus.COMPLETED,
    NeedStatus.CLOSED,
)

#: the only moves a need can make
ALLOWED_TRANSITIONS: dict[NeedStatus, frozenset[NeedStatus]] = {
    NeedStatus.DRAFT: frozenset({NeedStatus.SUBMITTED, NeedStatus.CLOSED}),
    NeedStatus.SUBMITTED: frozenset({NeedStatus.DRAFT, NeedStatus.FUNDRAISING, NeedStatus.CLOSED}),
    NeedStatus.FUNDRAISING: frozenset(
        {NeedStatus.FUNDED, NeedStatus.IN_PROGRESS, NeedStatus.CLOSED}
    ),
    NeedStatus.FUNDED: frozenset({NeedStatus.IN_PROGRESS, NeedStatus.CLOSED}),
    NeedStatus.IN_PROGRESS: frozenset({NeedStatus.COMPLETED, NeedStatus.CLOSED}),
    NeedStatus.COMPLETED: frozenset(),
    NeedStatus.CLOSED: frozenset(),
}


class Need(TimestampMixin, db.Model):
    """A need (小微项目): a goal residents donate to, run by a fund's secretaries."""

    __tablename__ = "needs"
    __table_args__ = (
        sa.CheckConstraint("goal_fen > 0", name="goal_positive"),
        sa.CheckConstraint("beneficiary_count >= 0", name="beneficiaries_not_negative"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'closed') OR published_at IS NOT NULL",
            name="public_needs_published",
        ),
        sa.CheckConstraint(
            "status NOT IN ('completed', 'closed') OR ended_at IS NOT NULL",
            name="ended_needs_dated",
        ),
        # The public list: newest published first, keyset-paginated on (published_at, id).
        sa.Index(
            "ix_needs_public_order",
            sa.text("published_at DESC"),
            sa.text("id DESC"),
            postgresql_where=sa.text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the fund that raises and spends the money
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    #: the region served (the fund's community unless a narrower place is meant)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: one of NeedCategory
    category: Mapped[NeedCategory] = mapped_column(enum_column(NeedCategory, "need_category"))
    #: short public title
    title: Mapped[str] = mapped_column(sa.String(60))
    #: the public story: who benefits (never personal details), what is done, why
    story: Mapped[str] = mapped_column(sa.Text)
    #: the fundraising goal, equal to the sum of the budget lines
    goal_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: last day of fundraising (a Beijing day)
    deadline: Mapped[date | None] = mapped_column(sa.Date)
    #: where the need is in its life
    status: Mapped[NeedStatus] = mapped_column(
        enum_column(NeedStatus, "need_status"), default=NeedStatus.DRAFT, index=True
    )
    #: 公开募捐备案编号, where the fundraising is filed as public
    filing_number: Mapped[str | None] = mapped_column(sa.String(64))
    #: how many people benefit: a number, never people's details
    beneficiary_count: Mapped[int] = mapped_column(default=0)
    #: cover image shown in lists
    cover_url: Mapped[str | None] = mapped_column(sa.String(512))
    #: when fundraising started (publication)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: when the need was completed or closed
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: why the need was closed, shown to the public
    close_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the content's version: bumped by every edit, named by the admin who publishes it
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    fund: Mapped[Fund] = relationship()
    region: Mapped[Region] = relationship()
    budget_lines: Mapped[list[NeedBudgetLine]] = relationship(
        back_populates="need", order_by="NeedBudgetLine.position", cascade="all, delete-orphan"
    )
    images: Mapped[list[NeedImage]] = relationship(
        back_populates="need", order_by="NeedImage.position", cascade="all, delete-orphan"
    )
    updates: Mapped[list[ProgressUpdate]] = relationship(
        back_populates="need",
        order_by="(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())",
        cascade="all, delete-orphan",
    )

    @property
    def is_public(self) -> bool:
        """Published needs in fundraising and later statuses are public."""
        return self.status in PUBLIC_STATUSES and self.published_at is not None

    @classmethod
    def public(cls) -> sa.ColumnElement[bool]:
        """The SQL condition of `is_public` (a draft closed unpublished stays private)."""
        return sa.and_(cls.status.in_(PUBLIC_STATUSES), cls.published_at.is_not(None))

    def can_move_to(self, target: NeedStatus) -> bool:
        """Whether `target` is an allowed next status."""
        return target in ALLOWED_TRANSITIONS[self.status]


class NeedBudgetLine(db.Model):
    """One line of a need's budget; the lines add up to the goal."""

    __tablename__ = "need_budget_lines"
    __table_args__ = (
        sa.UniqueConstraint("need_id", "position"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the need budgeted
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    #: order of the line in the budget
    position: Mapped[int]
    #: what the money buys, e.g. 雨水管材料费
    item: Mapped[str] = mapped_column(sa.String(100))
    #: the line's amount
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    need: Mapped[Need] = relationship(back_populates="budget_lines")


class NeedImage(db.Model):
    """An image shown on a need's page."""

    __tablename__ = "need_images"
    __table_args__ = (sa.UniqueConstraint("need_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the need illustrated
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    #: order on the page
    position: Mapped[int]
    #: the stored image
    upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("uploads.id"))
    #: public URL of the image
    url: Mapped[str] = mapped_column(sa.String(512))

    need: Mapped[Need] = relationship(back_populates="images")


class UpdateKind(enum.StrEnum):
    """A plain progress note, a periodic disclosure, or the final report."""

    PROGRESS = "progress"
    DISCLOSURE = "disclosure"
    FINAL = "final"


class ProgressUpdate(db.Model):
    """项目进展: text and photos posted on a need; disclosures and final reports too."""

    __tablename__ = "progress_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the need reported on
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    #: progress, disclosure or final
    kind: Mapped[UpdateKind] = mapped_column(enum_column(UpdateKind, "update_kind"))
    #: the text shown to the public
    text: Mapped[str] = mapped_column(sa.Text)
    #: who posted it (NULL for imported or seeded updates)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: when it was posted (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    need: Mapped[Need] = relationship(back_populates="updates")
    images: Mapped[list[ProgressUpdateImage]] = relationship(
        back_populates="update", order_by="ProgressUpdateImage.position"
    )


class ProgressUpdateImage(db.Model):
    """A photo of a progress update, in the order posted."""

    __tablename__ = "progress_update_images"
    __table_args__ = (sa.UniqueConstraint("update_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(
        sa.ForeignKey("progress_updates.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int] = mapped_column(sa.ForeignKey("uploads.id"))
    position: Mapped[int] = mapped_column(sa.SmallInteger)

    update: Mapped[ProgressUpdate] = relationship(back_populates="images")
    upload: Mapped[Upload] = relationship()
