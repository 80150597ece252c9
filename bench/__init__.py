"""Benchmarks of vecsite's resumable queries (see bench/README.md):
`python -m bench.resumable` measures latency by depth on one data set beside the baselines.
"""
