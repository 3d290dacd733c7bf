"""The worker's jobs: repairs and periodic tasks, each one transaction, safe to repeat."""
