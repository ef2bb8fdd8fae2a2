"""The one way the benchmarks time a call: wall and process-CPU time per repeat.

On a shared machine wall time grows with the load while CPU time much less so, so the
benchmarks report both.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def time_calls(function: Callable[[], object], repeats: int,
               warmup: int = 1) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of each of `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        function()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        cpus.append((time.process_time() - cpu) * 1000.0)
        walls.append((time.perf_counter() - wall) * 1000.0)
    return walls, cpus
