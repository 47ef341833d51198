"""Micro-benchmarks of the OMS hot paths, each runnable as `python -m bench.<name>`."""
