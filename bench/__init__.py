"""Benchmarks of 邻善 Linshan (run by hand, not in CI): `python -m bench.run`."""
