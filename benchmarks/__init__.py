"""Benchmarks of the book's library (``python -m benchmarks``); results go to ``benchmarks/results/``."""
