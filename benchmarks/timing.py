"""Timing helper shared by the benchmark scripts (imported as ``timing`` from the script's folder)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def interleaved_best_times(repeats: int, jobs: dict[str, tuple[Callable[..., object], tuple]]) -> dict[str, float]:
    """Best wall time per job over ``repeats`` rounds; each round runs every job once (interleaved), so a
    burst of load on the shared machine hits all methods alike instead of biasing one row."""
    best = dict.fromkeys(jobs, np.inf)
    for _ in range(repeats):
        for name, (fn, fargs) in jobs.items():
            t0 = time.perf_counter()
            fn(*fargs)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best
