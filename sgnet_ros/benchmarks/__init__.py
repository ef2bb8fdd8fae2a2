"""Benchmarks: each prints a table with ratios against a reference measured in the same run.

May import from every other subpackage; nothing imports benchmarks/ back.
"""
