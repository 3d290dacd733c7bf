"""The audit log: who did what to which back-office object, when, and from where."""
