"""Spending in the open: expenses with evidence, approvals, disbursements, allocations."""
