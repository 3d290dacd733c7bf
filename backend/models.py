"""Every model, imported in one place so that metadata (and Alembic) sees them all."""

from backend.accounts.models import Role, RoleGrant, ScopeType, User
from backend.audit.models import AuditEvent
from backend.common.models import IdempotencyKey
from backend.donations.models import Donation, PaymentNotification
from backend.funds.models import Foundation, Fund
from backend.ledger.models import JournalEntry, JournalLine
from backend.needs.models import Need, NeedBudgetLine, NeedImage, ProgressUpdate
from backend.progress.models import OutboxEvent
from backend.regions.models import ProgrammeTarget, Region
from backend.spaces.models import CharitySpace
from backend.uploads.models import MediaCheck, Upload

__all__ = [
    "AuditEvent",
    "CharitySpace",
    "Donation",
    "Foundation",
    "Fund",
    "IdempotencyKey",
    "JournalEntry",
    "JournalLine",
    "MediaCheck",
    "Need",
    "NeedBudgetLine",
    "NeedImage",
    "OutboxEvent",
    "PaymentNotification",
    "ProgrammeTarget",
    "ProgressUpdate",
    "Region",
    "Role",
    "RoleGrant",
    "ScopeType",
    "Upload",
    "User",
]
