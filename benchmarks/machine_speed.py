"""How fast this CPU is right now, so benchmark timings from different days can be compared.

The 2-core machines the project is measured on vary from day to day (seen: a factor 3 in the same
scripts). Each benchmark prints this reference next to its timings: the best of 3 runs of a fixed
pure-Python loop (10 million additions, one core) and of a fixed NumPy matrix product (one
1000 x 1000 float64 product). Divide a timing by the reference to compare across days.
"""

from __future__ import annotations

import time


def python_loop_s(n: int = 10_000_000, repeats: int = 3) -> float:
    """Seconds for n additions in a pure-Python loop (best of repeats)."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        s = 0
        for i in range(n):
            s += i
        best = min(best, time.perf_counter() - t)
    return best


def matmul_s(n: int = 1000, repeats: int = 3) -> float:
    """Seconds for one n x n float64 matrix product with NumPy (best of repeats)."""
    import numpy as np

    a = np.random.default_rng(0).random((n, n))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return best


def describe() -> str:
    """One line for a benchmark's header."""
    return (
        f"machine speed now: 10M-addition Python loop {python_loop_s():.2f} s, "
        f"1000x1000 matrix product {matmul_s() * 1000:.0f} ms (lower is faster)"
    )


if __name__ == "__main__":
    print(describe())
