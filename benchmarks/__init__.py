"""Benchmarks: each measures ours and its baseline in the same run and records JSON + Markdown."""
