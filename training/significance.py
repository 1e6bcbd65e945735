"""Significance of the differences every benchmark and trainer here reports: one implementation each.

    from training.significance import exact_mcnemar, wilson_interval
    exact_mcnemar(tuned_right, base_right)   # {'only_a': 12, 'only_b': 3, 'p': 0.0352}
    wilson_interval(41, 60)                  # 95% interval of a proportion

Exact McNemar is a two-sided binomial test at 1/2 on the items exactly one of two systems gets
right (the paired test for two systems scored on the same items); Wilson's score interval is the
interval of a single proportion that behaves at 0 and at n.
"""

from __future__ import annotations

import math


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    >>> round(mcnemar_p(10, 0), 4), mcnemar_p(3, 3), mcnemar_p(0, 0)
    (0.002, 1.0, 1.0)
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def exact_mcnemar(a: list[bool], b: list[bool]) -> dict:
    """Exact McNemar test of two systems' right/wrong outcomes on the same items, in the same order.

    >>> exact_mcnemar([True] * 10 + [False], [False] * 10 + [True])
    {'only_a': 10, 'only_b': 1, 'p': 0.0117}
    """
    if len(a) != len(b):
        raise ValueError(f"paired outcomes must cover the same items: {len(a)} against {len(b)}")
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    return {"only_a": only_a, "only_b": only_b, "p": round(mcnemar_p(only_a, only_b), 4)}


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% with the default z), to 4 decimals.

    >>> tuple(round(x, 3) for x in wilson_interval(8, 10)), wilson_interval(0, 0)
    ((0.49, 0.943), (0.0, 1.0))
    """
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))
