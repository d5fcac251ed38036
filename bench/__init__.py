"""Benchmarks run by hand (python -m bench.NAME); each prints its figures."""
