"""Constants and small helpers shared by the report's statistics (no Django, no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
ALPHA = 0.05
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
# Below 6 non-tied pairs the smallest two-sided Wilcoxon p-value is 2/2**5 = 0.0625: no test could
# ever reach 0.05, so none is run. The same floor is used for the other designs for consistency.
MIN_UNITS_FOR_TEST = 6
# Under this many units an interval is wide enough that the comparison deserves a warning.
FEW_UNITS = 20
SATISFACTION_VALUES = (1, 2, 3, 4, 5)
MATCH_VALUES = ("yes", "partly", "no")
# "Matches the style" answers are ordered for agreement: no < partly < yes.
MATCH_RANK = {"no": 1, "partly": 2, "yes": 3}
DEFAULT_KS = (5, 10)
# Cell means such as 2/3 come out as 0.6666666666666665 or 0.666666666666667 depending on the order
# of the additions; differences are rounded to this many decimals before anything ranks them, so
# equal differences get equal (tied) ranks.
ROUND_DECIMALS = 9


def num(value) -> float | None:
    """A JSON-ready float: None for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_p(p: float | None) -> str:
    """p-values to three significant digits ('p = 0.0515', 'p = 0.123'); 'p < 0.001' below that."""
    if p is None:
        return "p not computed"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {min(p, 1.0):#.3g}"


def rounded(values) -> np.ndarray:
    """Float values rounded to ROUND_DECIMALS (see there), NaN kept."""
    return np.round(np.asarray(values, dtype=float), ROUND_DECIMALS)


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    note: str = ""

    def as_dict(self) -> dict:
        return {"low": num(self.low), "high": num(self.high), "note": self.note}


def config_keys(ratings: pd.DataFrame, configs) -> list:
    if configs is not None:
        return list(configs)
    return sorted(ratings["config"].dropna().unique().tolist(), key=str)
