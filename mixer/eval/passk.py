"""pass@k, the unbiased estimator of "Evaluating Large Language Models Trained on Code" (Chen et al., 2021).

With ``n`` completions of a problem of which ``c`` pass, the chance that at least one of ``k`` drawn without
replacement passes is ``1 - C(n - c, k) / C(n, k)``; the product form below computes it without the huge
binomials (the paper's numerically stable version). A benchmark's pass@k is the mean over its problems.
"""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """The estimate for one problem: ``n`` samples, ``c`` of them correct, ``k`` drawn."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(correct: list[int], n: int, k: int) -> float:
    """pass@k over problems, each with ``n`` samples and ``correct[i]`` of them passing."""
    if not correct:
        raise ValueError("pass@k of no problems")
    return sum(pass_at_k(n, c, k) for c in correct) / len(correct)
