"""Small statistics shared by the analyses.

Hand-written only where the dependencies offer no vectorised form: scipy's
``binomtest(...).proportion_ci`` computes one Wilson interval per call, and an outlet ×
actor or topic × outlet grid has thousands of cells (statsmodels, which vectorises it,
is not a dependency for the sake of five lines).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def wilson_interval(successes, totals, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of proportions ``successes / totals``, vectorised.

    Accepts scalars, arrays or Series; returns ``(low, high)`` arrays (0-d for scalars),
    clipped to [0, 1], NaN where the total is 0.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(totals, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
