"""Every model, imported in one place so that metadata (and Alembic) sees them all."""

from backend.accounts.models import Role, RoleGrant, ScopeType, User
from backend.audit.models import AuditEvent
from backend.common.models import IdempotencyKey
from backend.donations.models import Donation, PaymentNotification
from backend.funds.models import Foundation, Fund
from backend.ledger.models import (
    JournalAccountTotal,
    JournalEntry,
    JournalLine,
    JournalPending,
    JournalSeal,
)
from backend.needs.models import (
    Need,
    NeedBudgetLine,
    NeedImage,
    ProgressUpdate,
    ProgressUpdateImage,
)
from backend.progress.models import OutboxEvent
from backend.regions.models import ProgrammeTarget, Region
from backend.spaces.models import CharitySpace
from backend.spending.models import Allocation, Approval, Expense, ExpenseAttachment
from backend.uploads.models import MediaCheck, Upload

__all__ = [
    "Allocation",
    "Approval",
    "AuditEvent",
    "CharitySpace",
    "Donation",
    "Expense",
    "ExpenseAttachment",
    "Foundation",
    "Fund",
    "IdempotencyKey",
    "JournalAccountTotal",
    "JournalEntry",
    "JournalLine",
    "JournalPending",
    "JournalSeal",
    "MediaCheck",
    "Need",
    "NeedBudgetLine",
    "NeedImage",
    "OutboxEvent",
    "PaymentNotification",
    "ProgrammeTarget",
    "ProgressUpdate",
    "ProgressUpdateImage",
    "Region",
    "Role",
    "RoleGrant",
    "ScopeType",
    "Upload",
    "User",
]
