"""Benchmarks (`make bench`): throughput and memory, printed as tables; figures go to BENCHMARKS.md."""
