"""Benchmarks and evaluation runs: `python -m evals.<name>`; each writes JSON plus a markdown table."""
