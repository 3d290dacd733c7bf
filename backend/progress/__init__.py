"""The live progress counters in Redis, derived from PostgreSQL and rebuilt from it."""
