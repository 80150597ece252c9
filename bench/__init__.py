"""Benchmarks of vecsite's resumable queries (see bench/README.md).

`python -m bench.resumable` measures latency by depth on one data set beside the baselines;
`python -m bench.scale` measures the same at N = 10,000, 100,000 and 1,000,000.
"""
