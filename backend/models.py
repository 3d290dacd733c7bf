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
from backend.messages.models import SubscribeMessage, SubscriptionConsent
from backend.needs.models import (
    Need,
    NeedBudgetLine,
    NeedImage,
    ProgressUpdate,
    ProgressUpdateImage,
)
from backend.progress.models import OutboxEvent
from backend.reconciliation.models import BillLine, ReconciliationDifference, ReconciliationRun
from backend.refunds.models import NeedLeftover, Refund
from backend.regions.models import ProgrammeTarget, Region
from backend.spaces.models import CharitySpace
from backend.spending.models import Allocation, Approval, Expense, ExpenseAttachment
from backend.uploads.models import MediaCheck, Upload

__all__ = [
    "Allocation",
    "Approval",
    "AuditEvent",
    "BillLine",
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
    "NeedLeftover",
    "OutboxEvent",
    "PaymentNotification",
    "ProgrammeTarget",
    "ProgressUpdate",
    "ProgressUpdateImage",
    "ReconciliationDifference",
    "ReconciliationRun",
    "Refund",
    "Region",
    "Role",
    "RoleGrant",
    "ScopeType",
    "SubscribeMessage",
    "SubscriptionConsent",
    "Upload",
    "User",
]
