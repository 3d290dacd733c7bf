"""Every model, imported in one place so that metadata (and Alembic) sees them all."""

from backend.accounts.models import Role, RoleGrant, ScopeType, User
from backend.audit.models import AuditEvent
from backend.funds.models import Foundation, Fund
from backend.needs.models import Need, NeedBudgetLine, NeedImage, ProgressUpdate
from backend.regions.models import ProgrammeTarget, Region
from backend.spaces.models import CharitySpace
from backend.uploads.models import MediaCheck, Upload

__all__ = [
    "AuditEvent",
    "CharitySpace",
    "Foundation",
    "Fund",
    "MediaCheck",
    "Need",
    "NeedBudgetLine",
    "NeedImage",
    "ProgrammeTarget",
    "ProgressUpdate",
    "Region",
    "Role",
    "RoleGrant",
    "ScopeType",
    "Upload",
    "User",
]
