"""The yardsticks the model is measured against: two simple predictors on the same split.

A global mean, and Koren's damped user + item biases fitted by alternating
least squares, both fitted on the training ratings only and scored on the
validation ratings the model is scored on. Vectorised pandas: linear in the ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Item biases shrink towards 0 with λ_item pseudo-ratings, user biases with
# λ_user; a few alternating sweeps converge to 4 decimals.
LAMBDA_ITEM, LAMBDA_USER, SWEEPS = 25.0, 10.0, 5


@dataclass(frozen=True)
class Baselines:
    """Validation RMSE of two simple predictors beside the model's, on the same split."""

    global_mean_rmse: float
    bias_only_rmse: float
    model_rmse: float
    global_mean: float


def baselines(frame: pd.DataFrame, train_rows: np.ndarray, valid_rows: np.ndarray, model_rmse: float) -> Baselines:
    """Global mean and user + item bias predictors, fitted on the training rows only."""
    train, valid = frame.iloc[train_rows], frame.iloc[valid_rows]
    mu = float(train["rating"].mean())
    truth = valid["rating"].to_numpy(dtype=float)
    global_rmse = float(np.sqrt(np.mean((truth - mu) ** 2)))

    user_bias: pd.Series = train.groupby("user")["rating"].mean() * 0.0
    for _ in range(SWEEPS):
        residual = train["rating"] - mu - train["user"].map(user_bias).to_numpy()
        grouped = residual.groupby(train["title"])
        item_bias = grouped.sum() / (LAMBDA_ITEM + grouped.count())
        residual = train["rating"] - mu - train["title"].map(item_bias).to_numpy()
        grouped = residual.groupby(train["user"])
        user_bias = grouped.sum() / (LAMBDA_USER + grouped.count())
    low, high = float(train["rating"].min()), float(train["rating"].max())
    guess = (
        mu
        + valid["user"].map(user_bias).fillna(0.0).to_numpy()
        + valid["title"].map(item_bias).fillna(0.0).to_numpy()
    )
    bias_rmse = float(np.sqrt(np.mean((truth - np.clip(guess, low, high)) ** 2)))
    return Baselines(global_mean_rmse=global_rmse, bias_only_rmse=bias_rmse, model_rmse=model_rmse, global_mean=mu)
