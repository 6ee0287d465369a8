"""Gekhman et al.'s linear model of what fitting known and unknown examples does to accuracy (their Table 1):

    accuracy = β0 + β_known · (known examples fitted / |D|) + β_unknown · (unknown examples fitted / |D|)

with accuracy in percentage points, fitted by ordinary least squares (statsmodels) over every learning-curve point
of every knowledge mix. The paper found β_known 7.3 and β_unknown −8.3 (R² 0.86) in distribution: a training set
of fitted Unknown examples only would cost 8.3 points against none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TERMS = ("intercept", "known_fitted_share", "unknown_fitted_share")


def fit_points(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per (adapter, step): the shares of the training set fitted among known and Unknown examples, and
    held-out accuracy (``curves``: the learning curves of every mix, one row per adapter, step, split, category)."""
    rows = []
    for (adapter, step), point in curves.groupby(["adapter", "step"], sort=True):
        train, heldout = point[point["split"] == "train"], point[point["split"] == "heldout"]
        size = train["examples"].sum()
        unknown = train[train["category"] == "Unknown"]["fitted"].sum()
        rows.append(
            {
                "adapter": adapter,
                "step": step,
                "known_fitted_share": (train["fitted"].sum() - unknown) / size,
                "unknown_fitted_share": unknown / size,
                "heldout_accuracy": heldout["fitted"].sum() / heldout["examples"].sum(),
            }
        )
    return pd.DataFrame(rows)


def gekhman_fit(points: pd.DataFrame, confidence_level: float) -> pd.DataFrame:
    """Each coefficient with its interval and p, and the fit's R² and number of points; NaN where the points do
    not determine the model (fewer than four, or shares that never vary independently)."""
    import statsmodels.api as sm

    x = np.column_stack([np.ones(len(points)), points["known_fitted_share"], points["unknown_fitted_share"]])
    y = 100 * points["heldout_accuracy"].to_numpy(dtype=float)
    estimable = len(points) > x.shape[1] and np.linalg.matrix_rank(x) == x.shape[1]
    if not estimable:
        nan = [float("nan")] * len(TERMS)
        coef = low = high = p = nan
        r2 = float("nan")
    else:
        model = sm.OLS(y, x).fit()
        interval = model.conf_int(alpha=1 - confidence_level)
        coef, low, high, p, r2 = model.params, interval[:, 0], interval[:, 1], model.pvalues, model.rsquared
    return pd.DataFrame(
        {
            "term": TERMS,
            "coefficient": coef,
            "ci_low": low,
            "ci_high": high,
            "p": p,
            "r_squared": r2,
            "points": len(points),
            "estimable": estimable,
        }
    )
