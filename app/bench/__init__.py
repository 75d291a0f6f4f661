"""Benchmarks: figures printed and written as reports under ``bench/results/``; not tests."""
