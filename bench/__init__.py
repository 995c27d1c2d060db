"""Benchmarks for PainScope (run as ``python -m bench.bench_image`` / ``python -m bench.bench_live``)."""
